/**
 * Code with no permissions cannot make Deno fill the children's DENO_DIR.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { prepareDenoDir } from "../src/deno_dir.ts";
import { folderSize } from "../src/workspace.ts";
import { testSandbox } from "./helpers.ts";

async function denoDirSize(dir: string): Promise<number> {
  let total = await folderSize(dir);
  for (const e of Deno.readDirSync(dir)) {
    if (e.isFile) total += Deno.statSync(join(dir, e.name)).size;
  }
  return total;
}

Deno.test("importing many large data: modules writes nothing lasting into DENO_DIR", async () => {
  const denoDir = await Deno.makeTempDir({ prefix: "conductor-denodir-" });
  await using ts = await testSandbox({}, { denoDir });
  await ts.sandbox.init();
  const warm = await ts.sandbox.execute({ code: "1" });
  assert.equal(warm.status, "success");
  const before = await denoDirSize(denoDir);
  const r = await ts.sandbox.execute({
    code: `for (let i = 0; i < 20; i++) {
      await import("data:application/typescript;base64," + btoa(\`const a: string = "\${"x".repeat(200_000)}\${i}"; export default a\`));
    }
    "imported"`,
    limits: { memoryMb: 512 },
  });
  assert.equal(r.status, "success", JSON.stringify(r).slice(0, 500));
  assert.equal(r.returnValue, "imported");
  const after = await denoDirSize(denoDir);
  assert.ok(after - before < 256 * 1024, `DENO_DIR grew by ${after - before} bytes`);
  await Deno.remove(denoDir, { recursive: true });
});

Deno.test("no file of DENO_DIR holds the code a child ran, nor its CommonJS exports; the bootstrap's analysis is kept", async () => {
  const denoDir = await Deno.makeTempDir({ prefix: "conductor-denodir-" });
  await using ts = await testSandbox({}, { denoDir });
  const marker = `MARKER_${crypto.randomUUID().replaceAll("-", "")}`;
  for (const code of [`"${marker}"`, `const s: string = "${marker}"; s`]) {
    const r = await ts.sandbox.execute({ code });
    assert.equal(r.status, "success", JSON.stringify(r).slice(0, 500));
    assert.equal(r.returnValue, marker);
  }
  // A CommonJS file of the workspace: Deno analyzes its exports (names kept verbatim).
  const cjs = await ts.sandbox.execute({
    code: `Deno.writeTextFileSync("m.cjs", 'exports["${marker}"] = 1;');
      const m = await import("./m.cjs");
      Object.keys(m).find((k) => k.startsWith("MARKER_"))`,
    conversationId: "cjs",
    permissions: { read: ["."], write: ["."] },
  });
  assert.equal(cjs.status, "success", JSON.stringify(cjs).slice(0, 500));
  assert.equal(cjs.returnValue, marker);
  // The code reaches the child as a base64 data: URL; look for both spellings.
  const needles = [marker, btoa(`"${marker}"`).slice(0, 24), btoa(marker).slice(0, 24)];
  const walk = (dir: string): string[] =>
    [...Deno.readDirSync(dir)].flatMap((e) =>
      e.isDirectory ? walk(join(dir, e.name)) : e.isFile ? [join(dir, e.name)] : []
    );
  for (const file of walk(denoDir)) {
    const text = new TextDecoder("latin1").decode(Deno.readFileSync(file));
    for (const needle of needles) assert.ok(!text.includes(needle), `${file} holds the code`);
  }
  const { DatabaseSync } = await import("node:sqlite");
  const db = new DatabaseSync(join(denoDir, "dep_analysis_cache_v2"), { readOnly: true });
  const kept = db.prepare("SELECT specifier FROM moduleinfocache").all() as { specifier: string }[];
  db.close();
  assert.deepEqual(kept.map((r) => r.specifier.split("/").pop()), ["bootstrap.js"]);
  const cjsDb = new DatabaseSync(join(denoDir, "node_analysis_cache_v2"), { readOnly: true });
  const cjsKept = cjsDb.prepare("SELECT specifier FROM cjsanalysiscache").all();
  cjsDb.close();
  assert.deepEqual(cjsKept, []);
  await Deno.remove(denoDir, { recursive: true });
});

Deno.test("the shared DENO_DIR is made private, holds no npm cache (an old one goes), and one of another user is refused", async () => {
  const dir = await Deno.makeTempDir({ prefix: "conductor-deno-dir-" });
  try {
    const denoDir = join(dir, "deno");
    // An earlier version's layout: open to others, one npm cache for every conversation.
    await Deno.mkdir(join(denoDir, "npm", "registry.npmjs.org", "pkg", "1.0.0"), {
      recursive: true,
    });
    await Deno.chmod(denoDir, 0o755);
    await prepareDenoDir(denoDir);
    assert.equal((await Deno.stat(denoDir)).mode! & 0o777, 0o700);
    assert.ok((await Deno.lstat(join(denoDir, "npm"))).isFile, "no npm cache folder");
    await prepareDenoDir(denoDir); // again: unchanged
    assert.ok((await Deno.lstat(join(denoDir, "npm"))).isFile);
    // A workspace's own cache keeps its packages.
    const own = join(dir, "own");
    await Deno.mkdir(join(own, "npm", "r", "pkg", "1.0.0"), { recursive: true });
    await prepareDenoDir(own, { packages: true });
    assert.ok((await Deno.lstat(join(own, "npm", "r", "pkg", "1.0.0"))).isDirectory);
    if (Deno.uid() === 0) {
      await Deno.chown(denoDir, 65534, 65534);
      await assert.rejects(prepareDenoDir(denoDir), {
        name: "ConfigError",
        message: `denoDir "${denoDir}" belongs to another user`,
      });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
