import assert from "node:assert/strict";
import { join } from "node:path";
import { lockedPackageDirs } from "./installer.ts";
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
