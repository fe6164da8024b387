import assert from "node:assert/strict";
import { join } from "node:path";
import {
  findWorkspace,
  folderSize,
  gcWorkspaces,
  listWorkspaces,
  openWorkspace,
  readState,
  removeWorkspace,
  validateConversationId,
  withWorkspaceLock,
  WorkspaceIdError,
  workspacePaths,
  writeState,
} from "./workspace.ts";

/** A fresh workspaces folder (real path) and a sibling folder "outside" it. */
async function tempRoot() {
  const root = await Deno.realPath(await Deno.makeTempDir({ prefix: "conductor-ws-test-" }));
  const workspacesDir = join(root, "workspaces");
  const outside = join(root, "outside");
  await Deno.mkdir(workspacesDir);
  await Deno.mkdir(outside);
  return {
    workspacesDir,
    outside,
    async [Symbol.asyncDispose]() {
      await Deno.remove(root, { recursive: true });
    },
  };
}

async function exists(path: string): Promise<boolean> {
  return await Deno.lstat(path).then(() => true, () => false);
}

const inAMinute = () => new Date(Date.now() + 60_000);

Deno.test("validateConversationId() accepts plain ids up to 128 characters", async (t) => {
  for (const id of ["c1", "a", "conv_1-x", "0", "A".repeat(128), crypto.randomUUID()]) {
    await t.step(id.slice(0, 40), () => assert.equal(validateConversationId(id), id));
  }
});

Deno.test("validateConversationId() refuses hostile ids with a WorkspaceIdError", async (t) => {
  const cases: [string, unknown][] = [
    ["traversal ../x", "../x"],
    ["parent ..", ".."],
    ["current .", "."],
    ["absolute /abs", "/abs"],
    ["absolute /etc/passwd", "/etc/passwd"],
    ["nested a/b", "a/b"],
    ["backslash a\\b", "a\\b"],
    ["NUL", "a\0b"],
    ["trailing NUL", "c1\0"],
    ["newline", "c1\n"],
    ["empty", ""],
    ["space", "a b"],
    ["leading dash (an option)", "-rf"],
    ["leading underscore", "_x"],
    ["hidden .deno", ".deno"],
    ["non-ASCII", "caf\u00e9"],
    ["129 characters", "a".repeat(129)],
    ["10 KB", "x".repeat(10 * 1024)],
    ["a number", 42],
    ["undefined", undefined],
    ["null", null],
  ];
  for (const [name, id] of cases) {
    await t.step(name, () => {
      assert.throws(() => validateConversationId(id), (error: unknown) => {
        assert.ok(error instanceof WorkspaceIdError, String(error));
        assert.match(error.message, /^Invalid conversation id .*: use 1 to 128 letters/s);
        // A huge id is not echoed back whole.
        assert.ok(error.message.length < 300, `message is ${error.message.length} characters`);
        return true;
      });
    });
  }
});

Deno.test("workspacePaths() and openWorkspace() refuse a bad id before touching the disk", async () => {
  await using r = await tempRoot();
  for (const id of ["../x", "/abs", "a\0b", "..", "x".repeat(10 * 1024)]) {
    assert.throws(() => workspacePaths(r.workspacesDir, id), WorkspaceIdError);
    await assert.rejects(() => openWorkspace(r.workspacesDir, id), WorkspaceIdError);
    await assert.rejects(() => removeWorkspace(r.workspacesDir, id), WorkspaceIdError);
  }
  assert.deepEqual([...Deno.readDirSync(r.workspacesDir)], []);
  assert.deepEqual([...Deno.readDirSync(r.outside)], []);
});

Deno.test("openWorkspace() creates files/ and meta/ with a state, and reuses them", async () => {
  await using r = await tempRoot();
  const ws = await openWorkspace(r.workspacesDir, "c1");
  assert.equal(ws.id, "c1");
  assert.equal(ws.root, join(r.workspacesDir, "c1"));
  assert.equal(ws.filesDir, join(r.workspacesDir, "c1", "files"));
  assert.equal(ws.metaDir, join(r.workspacesDir, "c1", "meta"));
  assert.ok((await Deno.lstat(ws.filesDir)).isDirectory);
  assert.ok((await Deno.lstat(ws.metaDir)).isDirectory);
  assert.deepEqual(ws.state.dependencies, []);
  assert.ok(!Number.isNaN(Date.parse(ws.state.createdAt)));

  await Deno.writeTextFile(join(ws.filesDir, "keep.txt"), "kept");
  const again = await openWorkspace(r.workspacesDir, "c1");
  assert.equal(await Deno.readTextFile(join(again.filesDir, "keep.txt")), "kept");
  assert.equal(again.state.createdAt, ws.state.createdAt);
  assert.equal(again.state.lastUsedAt, ws.state.lastUsedAt, "a use seconds ago is not rewritten");
  const hourAgo = new Date(Date.now() - 3600_000).toISOString();
  writeState(again, { ...again.state, lastUsedAt: hourAgo });
  const later = await openWorkspace(r.workspacesDir, "c1");
  assert.ok(later.state.lastUsedAt > hourAgo, "reuse after a while marks it used");
  assert.deepEqual(findWorkspace(r.workspacesDir, "c1"), {
    id: "c1",
    root: ws.root,
    filesDir: ws.filesDir,
    metaDir: ws.metaDir,
  });
  assert.equal(findWorkspace(r.workspacesDir, "c2"), undefined);
});

Deno.test("openWorkspace() makes its folders private to the user, and closes an opened one again", async () => {
  await using r = await tempRoot();
  const modeOf = async (path: string) => (await Deno.lstat(path)).mode! & 0o777;
  for (const fresh of [false, true]) {
    const ws = await openWorkspace(r.workspacesDir, `private-${fresh}`, fresh);
    for (const dir of [ws.root, ws.filesDir, ws.metaDir]) assert.equal(await modeOf(dir), 0o700);
  }
  // One made before this rule, or chmodded since: its root is private again when opened.
  await Deno.mkdir(join(r.workspacesDir, "older"), { mode: 0o755 });
  await Deno.chmod(join(r.workspacesDir, "older"), 0o755);
  const older = await openWorkspace(r.workspacesDir, "older");
  assert.equal(await modeOf(older.root), 0o700);
});

Deno.test("openWorkspace() makes the workspaces folder again if it went; find and remove find nothing there", async () => {
  await using r = await tempRoot();
  await Deno.remove(r.workspacesDir);
  assert.equal(findWorkspace(r.workspacesDir, "gone"), undefined);
  assert.equal(await removeWorkspace(r.workspacesDir, "gone"), false);
  const ws = await openWorkspace(r.workspacesDir, "gone");
  assert.ok((await Deno.lstat(ws.filesDir)).isDirectory);
  assert.equal((await Deno.lstat(r.workspacesDir)).mode! & 0o777, 0o700);
});

Deno.test("openWorkspace() refuses a workspace folder that is a symlink", async () => {
  await using r = await tempRoot();
  await Deno.symlink(r.outside, join(r.workspacesDir, "evil"));
  await assert.rejects(
    () => openWorkspace(r.workspacesDir, "evil"),
    (error: Error) => {
      assert.ok(error instanceof WorkspaceIdError);
      assert.match(
        error.message,
        /Workspace "evil" is not a plain folder: ".*\/evil" is a symlink/,
      );
      return true;
    },
  );
});

Deno.test("openWorkspace() creates nothing through a symlinked workspace folder", async (t) => {
  // `fresh` (an id just made) tries mkdir first: a link found there is refused all the same.
  for (const fresh of [false, true]) {
    await t.step(fresh ? "fresh id" : "given id", async () => {
      await using r = await tempRoot();
      await Deno.symlink(r.outside, join(r.workspacesDir, "evil"));
      await assert.rejects(
        () => openWorkspace(r.workspacesDir, "evil", fresh),
        /Workspace "evil" is not a plain folder/,
      );
      assert.deepEqual([...Deno.readDirSync(r.outside)].map((e) => e.name), []);
    });
  }
});

Deno.test("openWorkspace() with a fresh id makes the workspace, or opens one already there", async () => {
  await using r = await tempRoot();
  const made = await openWorkspace(r.workspacesDir, "f1", true);
  assert.ok(Deno.statSync(made.filesDir).isDirectory);
  await Deno.writeTextFile(join(made.filesDir, "kept.txt"), "x");
  const again = await openWorkspace(r.workspacesDir, "f1", true);
  assert.equal(await Deno.readTextFile(join(again.filesDir, "kept.txt")), "x");
  assert.equal(again.state.createdAt, made.state.createdAt);
});

Deno.test("openWorkspace() refuses a workspace whose files/ or meta/ is a symlink", async (t) => {
  for (const sub of ["files", "meta"]) {
    await t.step(sub, async () => {
      await using r = await tempRoot();
      await Deno.mkdir(join(r.workspacesDir, "c1"));
      await Deno.symlink(r.outside, join(r.workspacesDir, "c1", sub));
      await assert.rejects(
        () => openWorkspace(r.workspacesDir, "c1"),
        new RegExp(`"${sub}" is a symlink|/${sub}" is a symlink`),
      );
      assert.equal(await exists(join(r.outside, "state.json")), false);
    });
  }
});

Deno.test("removeWorkspace() deletes a workspace and reports one that did not exist", async () => {
  await using r = await tempRoot();
  const ws = await openWorkspace(r.workspacesDir, "c1");
  await Deno.writeTextFile(join(ws.filesDir, "a.txt"), "a");
  assert.equal(await removeWorkspace(r.workspacesDir, "c1"), true);
  assert.equal(await exists(ws.root), false);
  assert.equal(await removeWorkspace(r.workspacesDir, "c1"), false);
});

Deno.test("readState() starts over from a damaged state file; writeState() round-trips", async () => {
  await using r = await tempRoot();
  const ws = await openWorkspace(r.workspacesDir, "c1");
  await Deno.writeTextFile(join(ws.metaDir, "state.json"), "{ not json");
  const fresh = readState(ws);
  assert.deepEqual(fresh.dependencies, []);
  const state = { ...fresh, dependencies: ["npm:zod@3.23.8"], installHash: "abc" };
  writeState(ws, state);
  assert.deepEqual(readState(ws), state);
  // No temporary files are left next to it.
  assert.deepEqual(
    [...Deno.readDirSync(ws.metaDir)].map((e) => e.name).filter((n) => n.endsWith(".tmp")),
    [],
  );
});

Deno.test("withWorkspaceLock() runs one holder at a time", async () => {
  await using r = await tempRoot();
  const ws = await openWorkspace(r.workspacesDir, "c1");
  const events: string[] = [];
  const holder = (name: string) =>
    withWorkspaceLock(ws, async () => {
      events.push(`${name} start`);
      await new Promise((r) => setTimeout(r, 50));
      events.push(`${name} end`);
      return name;
    });
  assert.deepEqual(await Promise.all([holder("a"), holder("b")]), ["a", "b"]);
  assert.deepEqual(
    events.map((e) => e.split(" ")[1]),
    ["start", "end", "start", "end"],
    events.join(", "),
  );
  // A throwing holder releases the lock.
  await assert.rejects(() =>
    withWorkspaceLock(ws, () => {
      throw new Error("boom");
    }), /boom/);
  assert.equal(await withWorkspaceLock(ws, () => Promise.resolve("free")), "free");
});

Deno.test("folderSize() adds regular files below a folder and does not follow symlinks", async () => {
  await using r = await tempRoot();
  const dir = join(r.workspacesDir, "tree");
  await Deno.mkdir(join(dir, "a", "b"), { recursive: true });
  await Deno.writeFile(join(dir, "one"), new Uint8Array(100));
  await Deno.writeFile(join(dir, "a", "two"), new Uint8Array(2000));
  await Deno.writeFile(join(dir, "a", "b", "three"), new Uint8Array(3));
  await Deno.writeFile(join(r.outside, "big"), new Uint8Array(1_000_000));
  await Deno.symlink(join(r.outside, "big"), join(dir, "link-to-file"));
  await Deno.symlink(r.outside, join(dir, "a", "link-to-dir"));
  assert.equal(await folderSize(dir), 2103);
  assert.equal(await folderSize(join(dir, "a", "b")), 3);
  assert.equal(await folderSize(join(r.workspacesDir, "missing")), 0);
});

Deno.test("listWorkspaces() lists workspaces with size and bookkeeping, most recent first", async () => {
  await using r = await tempRoot();
  const older = await openWorkspace(r.workspacesDir, "older");
  await Deno.writeFile(join(older.filesDir, "f"), new Uint8Array(10));
  await new Promise((r) => setTimeout(r, 5));
  const newer = await openWorkspace(r.workspacesDir, "newer");
  await Deno.mkdir(join(newer.filesDir, "sub"));
  await Deno.writeFile(join(newer.filesDir, "sub", "g"), new Uint8Array(7));
  writeState(newer, { ...newer.state, dependencies: ["npm:zod@3.23.8"] });
  // Not workspaces: a file, a hidden folder (the cache), a bad id, a folder without files/.
  await Deno.writeTextFile(join(r.workspacesDir, "audit.jsonl"), "{}\n");
  await Deno.mkdir(join(r.workspacesDir, ".deno"));
  await Deno.mkdir(join(r.workspacesDir, "bad id"));
  await Deno.mkdir(join(r.workspacesDir, "no-files"));
  await Deno.symlink(r.outside, join(r.workspacesDir, "linked"));

  const list = await listWorkspaces(r.workspacesDir);
  assert.deepEqual(list.map((w) => [w.id, w.sizeBytes, w.dependencies]), [
    ["newer", 7, ["npm:zod@3.23.8"]],
    ["older", 10, []],
  ]);
  assert.equal(list[0]!.lastUsedAt, newer.state.lastUsedAt);
  assert.equal(list[1]!.createdAt, older.state.createdAt);
});

Deno.test("gcWorkspaces() deletes idle workspaces only", async () => {
  await using r = await tempRoot();
  await openWorkspace(r.workspacesDir, "idle");
  await openWorkspace(r.workspacesDir, "recent");
  await openWorkspace(r.workspacesDir, "in-use");
  const hourAgo = new Date(Date.now() - 3600_000).toISOString();
  for (const id of ["idle", "in-use"]) {
    const ws = workspacePaths(r.workspacesDir, id);
    writeState(ws, { ...readState(ws), lastUsedAt: hourAgo });
  }
  const removed = await gcWorkspaces(r.workspacesDir, {
    ttlMs: 60_000,
    inUse: new Set(["in-use"]),
  });
  assert.deepEqual(removed, ["idle"]);
  assert.deepEqual((await listWorkspaces(r.workspacesDir)).map((w) => w.id).sort(), [
    "in-use",
    "recent",
  ]);
  // Nothing idle is left: a second GC deletes nothing.
  assert.deepEqual(
    await gcWorkspaces(r.workspacesDir, { ttlMs: 60_000, inUse: new Set(["in-use"]) }),
    [],
  );
});

Deno.test("gcWorkspaces() never deletes a workspace that a running process has as its cwd", async () => {
  await using r = await tempRoot();
  const busy = await openWorkspace(r.workspacesDir, "busy");
  await openWorkspace(r.workspacesDir, "idle");
  const sleeper = new Deno.Command("sleep", {
    args: ["30"],
    cwd: busy.filesDir,
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    const removed = await gcWorkspaces(r.workspacesDir, { ttlMs: 0, now: inAMinute() });
    assert.deepEqual(removed, ["idle"]);
    assert.ok(await exists(busy.filesDir), "the busy workspace survives");
    assert.ok(await exists(join(busy.metaDir, "state.json")));
  } finally {
    sleeper.kill("SIGKILL");
    await sleeper.status;
  }
  assert.deepEqual(await gcWorkspaces(r.workspacesDir, { ttlMs: 0, now: inAMinute() }), ["busy"]);
  assert.equal(await exists(busy.root), false);
});

Deno.test("listWorkspaces() and gcWorkspaces() on a missing workspaces folder find nothing", async () => {
  await using r = await tempRoot();
  assert.deepEqual(await listWorkspaces(join(r.workspacesDir, "missing")), []);
  assert.deepEqual(await gcWorkspaces(join(r.workspacesDir, "missing"), { ttlMs: 0 }), []);
});
