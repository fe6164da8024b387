import assert from "node:assert/strict";
import { join } from "node:path";
import { cleanInstallOutput, lockedPackageDirs } from "./installer.ts";
import { registryCacheDir } from "./npm_registry.ts";

Deno.test("lockedPackageDirs() grants only real package folders inside the registry's cache", async () => {
  const denoDir = await Deno.makeTempDir();
  const registry = "https://registry.npmjs.org/";
  const base = registryCacheDir(denoDir, registry);
  await Deno.mkdir(join(base, "good", "1.0.0"), { recursive: true });
  await Deno.mkdir(join(base, "@s", "pkg", "2.0.0"), { recursive: true });
  const outside = join(denoDir, "secret", "1.0.0");
  await Deno.mkdir(outside, { recursive: true });
  await Deno.mkdir(join(base, "linked"), { recursive: true });
  await Deno.symlink(outside, join(base, "linked", "1.0.0"));
  const lock = JSON.stringify({
    npm: {
      "good@1.0.0": {},
      "@s/pkg@2.0.0_peer@1.0.0": {},
      "../../../secret@1.0.0": {},
      "good@../../x": {},
      "linked@1.0.0": {},
      "missing@1.0.0": {},
    },
  });
  assert.deepEqual(await lockedPackageDirs(lock, denoDir, registry), [
    join(base, "@s", "pkg", "2.0.0"),
    join(base, "good", "1.0.0"),
  ]);
  assert.deepEqual(await lockedPackageDirs("not json", denoDir, registry), []);
  await Deno.remove(denoDir, { recursive: true });
});

Deno.test("cleanInstallOutput() drops a registry's credentials from URLs, and host paths", () => {
  const raw =
    "\x1b[31merror\x1b[0m: Failed loading http://user:s3cret-token@127.0.0.1:4999/npm/boom " +
    'for package "boom"\n    at file:///tmp/stage/deps.ts:1:8\n' +
    "also https://tok@registry.example/x and a plain https://registry.example/y";
  const clean = cleanInstallOutput(raw);
  assert.ok(!clean.includes("s3cret") && !clean.includes("tok@"), clean);
  assert.equal(
    clean,
    'Failed loading http://127.0.0.1:4999/npm/boom for package "boom"\n' +
      "also https://registry.example/x and a plain https://registry.example/y",
  );
});
