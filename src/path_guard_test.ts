import assert from "node:assert/strict";
import { join } from "node:path";
import { checkGrantedPaths, MAX_SCAN_ENTRIES, realPathOrAncestor } from "./path_guard.ts";
import { isInside } from "./paths.ts";

async function tree() {
  const root = await Deno.realPath(await Deno.makeTempDir());
  const files = join(root, "files");
  const outside = join(root, "outside");
  await Deno.mkdir(join(files, "sub"), { recursive: true });
  await Deno.mkdir(outside);
  await Deno.writeTextFile(join(outside, "secret"), "s");
  await Deno.writeTextFile(join(files, "sub", "ok.txt"), "ok");
  return {
    files,
    outside,
    async [Symbol.asyncDispose]() {
      await Deno.remove(root, { recursive: true });
    },
  };
}

Deno.test("isInside() compares normalized paths, not string prefixes", () => {
  assert.ok(isInside("/a/b", "/a"));
  assert.ok(isInside("/a", "/a"));
  assert.ok(isInside("/a/b/../c", "/a"));
  assert.ok(isInside("/a/..b", "/a"));
  assert.ok(!isInside("/ab", "/a"));
  assert.ok(!isInside("/a/../b", "/a"));
  assert.ok(!isInside("/", "/a"));
});

Deno.test("realPathOrAncestor() resolves through the nearest existing folder", async () => {
  await using t = await tree();
  await Deno.symlink(t.outside, join(t.files, "link"));
  assert.equal(await realPathOrAncestor(join(t.files, "new", "x")), join(t.files, "new", "x"));
  assert.equal(await realPathOrAncestor(join(t.files, "link", "new")), join(t.outside, "new"));
});

Deno.test("checkGrantedPaths() passes a plain folder and files inside it", async () => {
  await using t = await tree();
  const denied = await checkGrantedPaths(
    { read: [t.files, join(t.files, "sub", "ok.txt")], write: [join(t.files, "not-yet")] },
    [t.files],
  );
  assert.deepEqual(denied, []);
});

Deno.test("checkGrantedPaths() refuses a folder holding a symlink that leads outside", async () => {
  await using t = await tree();
  await Deno.symlink(join(t.outside, "secret"), join(t.files, "sub", "s"));
  const denied = await checkGrantedPaths({ read: [t.files], write: [join(t.files, "sub")] }, [
    t.files,
  ]);
  assert.deepEqual(denied.map((d) => d.kind), ["read", "write"]);
  assert.match(
    denied[0]!.reason,
    /holds a symlink ".*sub\/s" that leads outside, to ".*outside\/secret"/,
  );
});

Deno.test("checkGrantedPaths() allows a symlink that stays inside", async () => {
  await using t = await tree();
  await Deno.symlink(join(t.files, "sub", "ok.txt"), join(t.files, "inner"));
  assert.deepEqual(await checkGrantedPaths({ read: [t.files] }, [t.files]), []);
});

Deno.test("checkGrantedPaths() refuses a grant whose own path goes through a symlink", async () => {
  await using t = await tree();
  await Deno.symlink(t.outside, join(t.files, "out"));
  const denied = await checkGrantedPaths({ write: [join(t.files, "out", "x")] }, [t.files]);
  assert.equal(denied.length, 1);
  assert.match(denied[0]!.reason, /resolves through a symlink to ".*outside\/x"/);
});

Deno.test("checkGrantedPaths() refuses a hard link to a file outside", async () => {
  await using t = await tree();
  await Deno.link(join(t.outside, "secret"), join(t.files, "sub", "hard"));
  const denied = await checkGrantedPaths({ read: [t.files] }, [t.files]);
  assert.equal(denied.length, 1);
  assert.match(denied[0]!.reason, /hard link "sub\/hard"/);
  const direct = await checkGrantedPaths({ read: [join(t.files, "sub", "hard")] }, [t.files]);
  assert.match(direct[0]!.reason, /hard links elsewhere/);
});

Deno.test("checkGrantedPaths() allows hard links whose names are all inside", async () => {
  await using t = await tree();
  await Deno.link(join(t.files, "sub", "ok.txt"), join(t.files, "ok2.txt"));
  assert.deepEqual(await checkGrantedPaths({ read: [t.files] }, [t.files]), []);
});

Deno.test("checkGrantedPaths() never grants the conductor's own data, even inside a ceiling folder", async () => {
  await using t = await tree();
  const root = join(t.files, "..");
  const ws = join(root, "ws");
  const own = join(ws, "c1", "files");
  await Deno.mkdir(own, { recursive: true });
  await Deno.mkdir(join(ws, "c2", "meta"), { recursive: true });
  const guard = { forbidden: [ws, join(ws, ".deno")], allowed: own };
  const denied = await checkGrantedPaths(
    {
      read: [own, join(ws, "c2", "meta"), root, join(own, "x")],
      write: [join(ws, ".deno", "npm")],
    },
    [root],
    guard,
  );
  assert.deepEqual(denied.map((d) => [d.kind, d.value]), [
    ["read", join(ws, "c2", "meta")],
    ["read", root],
    ["write", join(ws, ".deno", "npm")],
  ]);
  assert.match(denied[0]!.reason, /conductor's own files/);
});

Deno.test("checkGrantedPaths() knows the conductor's folders by their real paths too", async () => {
  // An operator's DENO_DIR given through a symlink: granting its target by name was allowed,
  // and code could replace the session launcher every later child starts through.
  await using t = await tree();
  const root = join(t.files, "..");
  const cache = join(root, "data", "cache");
  await Deno.mkdir(cache, { recursive: true });
  const denoDir = join(root, "denodir");
  await Deno.symlink(cache, denoDir);
  const denied = await checkGrantedPaths(
    { read: [join(root, "data", "other")], write: [cache, join(root, "data")] },
    [root],
    { forbidden: [denoDir] },
  );
  assert.deepEqual(denied.map((d) => [d.kind, d.value]), [
    ["write", cache],
    ["write", join(root, "data")],
  ]);
  assert.match(denied[0]!.reason, /conductor's own files/);
});

Deno.test("checkGrantedPaths() scans at most MAX_SCAN_ENTRIES for a whole request, and a folder once", async () => {
  // Many grants of one big tree cost the conductor one scan, not one per grant (each was a
  // full walk: 512 grants of a 20,000-file tree kept it busy for minutes).
  await using t = await tree();
  const root = join(t.files, "..");
  const big = join(t.files, "big");
  const other = join(root, "other");
  for (const dir of [big, other]) {
    await Deno.mkdir(join(dir, "d"), { recursive: true });
    for (let i = 0; i < MAX_SCAN_ENTRIES / 2 + 100; i++) {
      Deno.writeFileSync(join(dir, `${i}`), new Uint8Array());
    }
  }
  const same = await checkGrantedPaths(
    { read: [big, join(big, "d"), big], write: [big, join(big, "d")] },
    [root],
  );
  assert.deepEqual(same, []);
  const both = await checkGrantedPaths({ read: [big, other] }, [root]);
  assert.deepEqual(both.map((d) => d.value), [other]);
  assert.match(both[0]!.reason, /more than 20000 entries in all/);
  // Read and write checked against different roots are scanned each.
  const kinds = await checkGrantedPaths({ read: [big], write: [big] }, {
    read: [root],
    write: [t.files],
  });
  assert.deepEqual(kinds.map((d) => d.kind), ["write"]);
  assert.match(kinds[0]!.reason, /in all/);
});
