/**
 * Prewarmed children: indistinguishable from cold ones, used once, dropped when stale.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { resolveConfig } from "../src/config.ts";
import { Sandbox } from "../src/sandbox.ts";
import { busyWorkspaceIds } from "../src/workspace.ts";
import { sharedDenoDir } from "./helpers.ts";

async function sandboxes(prewarm: Record<string, number> = {}, extra = {}) {
  const dir = await Deno.makeTempDir({ prefix: "conductor-prewarm-" });
  const config = resolveConfig({
    workspacesDir: dir,
    denoDir: sharedDenoDir(),
    ceiling: { env: ["*"], sys: ["hostname"] },
    prewarm: { generic: 1, maxChildren: 3, idleMs: 30_000, ...prewarm },
    ...extra,
  });
  const warm = new Sandbox(config, { prewarm: true });
  const cold = new Sandbox(config);
  await warm.init();
  return {
    warm,
    cold,
    dir,
    async [Symbol.asyncDispose]() {
      await warm.close();
      await cold.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** Generic children are made after a run: one run, then wait until one is idle. */
async function genericReady(sandbox: Sandbox): Promise<void> {
  assert.equal((await sandbox.execute({ code: "1" })).status, "success");
  for (let i = 0; i < 400 && sandbox.pool!.stats().idle === 0; i++) {
    await new Promise((r) => setTimeout(r, 5));
  }
  assert.equal(sandbox.pool!.stats().idle, 1, "a generic child is ready");
}

/** Prewarming happens after a run returns: wait until the conversation has its child. */
async function ready(sandbox: Sandbox, conversationId: string): Promise<void> {
  for (let i = 0; i < 200 && !sandbox.pool!.has(conversationId); i++) {
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Everything a child can observe about how it was started. */
const PROBE = `
import v8 from "node:v8";
const kinds = ["read", "write", "net", "env", "sys", "run", "ffi", "import"];
const states = {};
for (const name of kinds) states[name] = (await Deno.permissions.query({ name })).state;
const scoped = {
  readFiles: (await Deno.permissions.query({ name: "read", path: "." })).state,
  writeOut: (await Deno.permissions.query({ name: "write", path: "out" })).state,
  netHost: (await Deno.permissions.query({ name: "net", host: "example.com" })).state,
  envVar: (await Deno.permissions.query({ name: "env", variable: "PREWARM_TEST_A" })).state,
};
export default {
  cwd: Deno.cwd(),
  args: Deno.args,
  execPath: Deno.execPath(),
  env: Deno.env.toObject(),
  states,
  scoped,
  heapLimit: v8.getHeapStatistics().heap_size_limit,
  stdinIsTerminal: Deno.stdin.isTerminal(),
};
`;

Deno.test("a prewarmed run and a cold run of the same request are indistinguishable to the code", async () => {
  await using s = await sandboxes();
  Deno.env.set("PREWARM_TEST_A", "a-value");
  try {
    const request = {
      code: PROBE,
      conversationId: "equiv",
      permissions: {
        read: ["."],
        write: ["out"],
        net: ["example.com"],
        env: ["*"],
        sys: ["hostname"],
      },
      limits: { memoryMb: 192 },
    };
    const cold = await s.cold.execute(request);
    assert.equal(cold.status, "success", JSON.stringify(cold));
    // The warm sandbox's first run predicts the next one; the second run takes that child.
    const first = await s.warm.execute(request);
    assert.equal(first.status, "success");
    await ready(s.warm, "equiv");
    const hitsBefore = s.warm.pool!.stats().hits;
    const warm = await s.warm.execute(request);
    assert.equal(
      s.warm.pool!.stats().hits,
      hitsBefore + 1,
      "the second run used the prewarmed child",
    );
    assert.equal(warm.status, "success", JSON.stringify(warm));
    assert.deepEqual(warm.returnValue, cold.returnValue);
    assert.deepEqual(warm.permissions, cold.permissions);
    const probe = warm.returnValue as {
      env: Record<string, string>;
      states: Record<string, string>;
    };
    assert.equal(probe.env.PREWARM_TEST_A, "a-value");
    assert.equal(probe.states.run, "prompt", "run is not granted");
  } finally {
    Deno.env.delete("PREWARM_TEST_A");
  }
});

Deno.test("under load, a request that waits for a slot has its child started meanwhile, and it sees what a cold one sees", async () => {
  await using s = await sandboxes({ generic: 0 }, { maxConcurrent: 1 });
  Deno.env.set("PREWARM_TEST_A", "a-value");
  try {
    const request = {
      // How long the process had been up when the code ran.
      code: PROBE.replace("export default {", "export default {\n  upMs: performance.now(),"),
      conversationId: "queued",
      permissions: { read: ["."], write: ["out"], env: ["*"] },
      limits: { memoryMb: 192 },
    };
    const cold = await s.cold.execute(request);
    assert.equal(cold.status, "success", JSON.stringify(cold));
    const blocker = s.warm.execute({ code: "await new Promise((r) => setTimeout(r, 1500))" });
    while (s.warm.limiter.running === 0) await new Promise((r) => setTimeout(r, 5));
    const queued = await s.warm.execute(request);
    assert.equal((await blocker).status, "success");
    assert.equal(queued.status, "success", JSON.stringify(queued));
    assert.equal(s.warm.pool!.stats().ahead, 1);
    const { upMs, ...seen } = queued.returnValue as { upMs: number };
    const { upMs: coldUpMs, ...coldSeen } = cold.returnValue as { upMs: number };
    assert.ok(upMs > 700, `started while the blocker ran: up ${upMs} ms (cold: ${coldUpMs} ms)`);
    assert.deepEqual(seen, coldSeen);
    assert.deepEqual(queued.permissions, cold.permissions);
  } finally {
    Deno.env.delete("PREWARM_TEST_A");
  }
});

Deno.test("a request cancelled while it waits for a slot: its child started ahead is killed", async () => {
  await using s = await sandboxes({ generic: 0 }, { maxConcurrent: 1 });
  const blocker = s.warm.execute({ code: "await new Promise((r) => setTimeout(r, 1000))" });
  while (s.warm.limiter.running === 0) await new Promise((r) => setTimeout(r, 5));
  const abort = new AbortController();
  const queued = s.warm.execute({ code: "1", conversationId: "gives-up" }, {
    signal: abort.signal,
  });
  for (let i = 0; i < 500 && !busyWorkspaceIds(s.dir).has("gives-up"); i++) {
    await new Promise((r) => setTimeout(r, 5));
  }
  assert.ok(busyWorkspaceIds(s.dir).has("gives-up"), "its child started while it waited");
  abort.abort();
  assert.equal((await queued).status, "cancelled");
  for (let i = 0; i < 100 && busyWorkspaceIds(s.dir).has("gives-up"); i++) {
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.equal(busyWorkspaceIds(s.dir).has("gives-up"), false, "no process left in it");
  assert.equal(s.warm.pool!.stats().ahead, 1);
  assert.equal((await blocker).status, "success");
});

Deno.test("a request refused as Busy makes no workspace and takes no generic child", async () => {
  await using s = await sandboxes({ generic: 1 }, { maxConcurrent: 1, maxQueue: 0 });
  await genericReady(s.warm);
  const blocker = s.warm.execute({
    code: "await new Promise((r) => setTimeout(r, 1000))",
    conversationId: "blocker",
  });
  while (s.warm.limiter.running === 0) await new Promise((r) => setTimeout(r, 5));
  const workspaces = () =>
    [...Deno.readDirSync(s.dir)].filter((e) => e.isDirectory).map((e) => e.name).sort();
  const before = workspaces();
  for (const request of [{ code: "2" }, { code: "3", conversationId: "named-busy" }]) {
    const refused = await s.warm.execute(request);
    assert.equal(refused.status, "rejected", JSON.stringify(refused));
    assert.equal(refused.error?.type, "Busy");
  }
  assert.equal(s.warm.pool!.stats().idle, 1, "the generic child still waits");
  assert.deepEqual(workspaces(), before);
  assert.equal((await blocker).status, "success");
});

Deno.test("when the queue is full, the requests refused are the last to arrive, even the one that claims a generic child is first", async () => {
  await using s = await sandboxes({ generic: 1 }, { maxConcurrent: 1, maxQueue: 1 });
  await genericReady(s.warm);
  // The first claims the generic child (its planning takes longer); the others plan fresh.
  const results = await Promise.all(
    ["a", "b", "c", "d"].map((name) => s.warm.execute({ code: JSON.stringify(name) })),
  );
  assert.deepEqual(
    results.map((r) => r.status === "success" ? r.returnValue : r.error?.type),
    ["a", "b", "Busy", "Busy"],
  );
});

Deno.test("close() kills the children started for waiting requests; those requests still run, cold", async () => {
  await using s = await sandboxes({ generic: 0 }, { maxConcurrent: 1 });
  let blockerDone = false;
  const blocker = s.warm.execute({ code: "await new Promise((r) => setTimeout(r, 1500))" })
    .finally(() => blockerDone = true);
  while (s.warm.limiter.running === 0) await new Promise((r) => setTimeout(r, 5));
  const queued = s.warm.execute({ code: "6 * 7", conversationId: "at-close" });
  for (let i = 0; i < 500 && !busyWorkspaceIds(s.dir).has("at-close"); i++) {
    await new Promise((r) => setTimeout(r, 5));
  }
  assert.ok(busyWorkspaceIds(s.dir).has("at-close"), "its child started while it waited");
  const closed = s.warm.close();
  for (let i = 0; i < 100 && busyWorkspaceIds(s.dir).has("at-close"); i++) {
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.equal(busyWorkspaceIds(s.dir).has("at-close"), false, "killed at close()");
  assert.equal(blockerDone, false, "before the slot was free");
  assert.equal((await blocker).status, "success");
  const result = await queued;
  assert.equal(result.status, "success", JSON.stringify(result));
  assert.equal(result.returnValue, 42);
  await closed;
});

Deno.test("a prewarmed child runs exactly one execution: fresh process and fresh globals each time", async () => {
  await using s = await sandboxes();
  const run = () =>
    s.warm.execute({
      code: "const seen = globalThis.marker; globalThis.marker = 1; [Deno.pid, seen ?? null]",
      conversationId: "once",
    });
  const results = [];
  for (let i = 0; i < 4; i++) {
    results.push((await run()).returnValue as [number, number | null]);
    await ready(s.warm, "once");
  }
  assert.ok(s.warm.pool!.stats().hits >= 3);
  assert.equal(new Set(results.map(([pid]) => pid)).size, 4, "four different processes");
  assert.deepEqual(results.map(([, seen]) => seen), [null, null, null, null]);
});

Deno.test("a generic prewarmed child serves a request with no conversation, in a new workspace", async () => {
  await using s = await sandboxes();
  await s.warm.refill();
  assert.equal(s.warm.pool!.stats().idle, 1);
  const a = await s.warm.execute({ code: "Deno.cwd()" });
  assert.equal(a.status, "success");
  assert.equal(s.warm.pool!.stats().hits, 1);
  const b = await s.warm.execute({ code: "Deno.cwd()" });
  assert.notEqual(a.conversationId, b.conversationId);
  assert.notEqual(a.returnValue, b.returnValue);
});

Deno.test("an idle child started with other flags is killed, and the request runs cold and correct", async () => {
  await using s = await sandboxes();
  await s.warm.execute({ code: "1", conversationId: "flags" });
  await ready(s.warm, "flags");
  const { hits, misses } = s.warm.pool!.stats();
  const r = await s.warm.execute({
    code: "(await Deno.permissions.query({ name: 'read', path: '.' })).state",
    conversationId: "flags",
    permissions: { read: ["."] },
  });
  assert.equal(r.returnValue, "granted");
  assert.deepEqual(s.warm.pool!.stats().hits, hits);
  assert.equal(s.warm.pool!.stats().misses, misses + 1);
  const denied = await s.warm.execute({
    code: "(await Deno.permissions.query({ name: 'read', path: '.' })).state",
    conversationId: "flags",
  });
  assert.equal(
    denied.returnValue,
    "prompt",
    "the child predicted from the read run is not used without read",
  );
});

Deno.test("idle children expire, and deleting a workspace drops its child", async () => {
  await using s = await sandboxes({ idleMs: 300, generic: 0 });
  await s.warm.execute({ code: "1", conversationId: "expire" });
  await ready(s.warm, "expire");
  assert.equal(s.warm.pool!.stats().idle, 1);
  await new Promise((r) => setTimeout(r, 600));
  assert.equal(s.warm.pool!.stats().idle, 0);
  await s.warm.execute({ code: "1", conversationId: "dropme" });
  await ready(s.warm, "dropme");
  s.warm.pool!.drop("dropme");
  assert.equal(s.warm.pool!.stats().idle, 0);
  const procs = [...Deno.readDirSync("/proc")].filter((e) => /^\d+$/.test(e.name)).filter((e) => {
    try {
      return Deno.readLinkSync(`/proc/${e.name}/cwd`).startsWith(s.dir);
    } catch {
      return false;
    }
  });
  await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(
    procs.filter((e) => {
      try {
        return Deno.readLinkSync(`/proc/${e.name}/cwd`).startsWith(s.dir);
      } catch {
        return false;
      }
    }),
    [],
    "no child left in the workspaces",
  );
});

Deno.test("idle children stay within the pool's memory budget", async (t) => {
  await t.step("room for one: a new conversation's child replaces the older one", async () => {
    await using s = await sandboxes({ generic: 0, memoryMb: 40 });
    await s.warm.execute({ code: "1", conversationId: "budget-a" });
    await ready(s.warm, "budget-a");
    assert.equal(s.warm.pool!.has("budget-a"), true);
    await s.warm.execute({ code: "2", conversationId: "budget-b" });
    await ready(s.warm, "budget-b");
    assert.equal(s.warm.pool!.has("budget-b"), true);
    assert.equal(s.warm.pool!.has("budget-a"), false);
    assert.equal(s.warm.pool!.stats().idle, 1);
  });
  await t.step("room for none: no child is started, runs stay correct", async () => {
    await using s = await sandboxes({ generic: 1, memoryMb: 16 });
    const first = await s.warm.execute({ code: "40 + 2", conversationId: "budget-c" });
    assert.equal(first.returnValue, 42);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(s.warm.pool!.stats().idle, 0);
    // Nor a workspace made for a generic child that did not fit.
    const folders = [...Deno.readDirSync(s.dir)].filter((e) => e.isDirectory).map((e) => e.name);
    assert.deepEqual(folders, ["budget-c"]);
    const second = await s.warm.execute({ code: "6 * 7", conversationId: "budget-c" });
    assert.equal(second.returnValue, 42);
  });
});

Deno.test("a session launcher deleted while serving: every run falls back to setsid, nothing crashes", async () => {
  const dir = await Deno.makeTempDir({ prefix: "conductor-prewarm-" });
  const config = resolveConfig({
    workspacesDir: join(dir, "ws"),
    denoDir: join(dir, "deno"),
    prewarm: { generic: 1, maxChildren: 3, idleMs: 30_000 },
  });
  const warm = new Sandbox(config, { prewarm: true });
  try {
    await warm.init();
    const first = await warm.execute({ code: "1", conversationId: "a" });
    assert.equal(first.status, "success", JSON.stringify(first));
    await ready(warm, "a");
    await Deno.remove(join(config.denoDir, "conductor-session-launcher")).catch(() => {});
    // The prewarmed child, then children started (cold and ahead) without the launcher.
    for (const conversationId of ["a", "a", "a", undefined]) {
      const r = await warm.execute({ code: "2", conversationId });
      assert.equal(r.status, "success", JSON.stringify(r));
      assert.equal(r.returnValue, 2);
      await new Promise((r) => setTimeout(r, 50)); // let the next child be started ahead
    }
  } finally {
    await warm.close();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

Deno.test("a refused request takes no prewarmed workspace, and close() removes the unused ones", async () => {
  await using s = await sandboxes();
  await s.warm.refill();
  const [ready] = s.warm.pool!.idleGenericIds();
  assert.ok(ready);
  const refused = await s.warm.execute({ code: "1", permissions: { net: ["10.0.0.1"] } });
  assert.equal(refused.status, "rejected");
  assert.notEqual(refused.conversationId, ready);
  assert.equal(await exists(join(s.dir, refused.conversationId)), false, "no workspace made");
  // The ready workspace was claimed (and could be listed) while the request was planned:
  // it is never handed out again.
  assert.deepEqual([...s.warm.pool!.idleGenericIds()], []);
  for (let i = 0; i < 100 && await exists(join(s.dir, ready)); i++) {
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.equal(await exists(join(s.dir, ready)), false, "the claimed workspace is removed");
  const served = await s.warm.execute({ code: "2" });
  assert.equal(served.status, "success");
  assert.notEqual(served.conversationId, ready);
  await s.warm.refill();
  const [next] = s.warm.pool!.idleGenericIds();
  assert.ok(next && await exists(join(s.dir, next)));
  await s.warm.close();
  assert.equal(await exists(join(s.dir, next)), false, "an unused ready workspace is removed");
  assert.equal(await exists(join(s.dir, served.conversationId)), true, "a used one stays");
});

async function exists(path: string): Promise<boolean> {
  return await Deno.lstat(path).then(() => true, () => false);
}
