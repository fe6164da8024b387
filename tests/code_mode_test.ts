/**
 * Code mode: sandboxed code calls upstream MCP tools through the conductor, under an
 * allowlist, over the child's own stdio.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import type { ExecutionResult } from "../src/execution_result.ts";
import { ToolBridge } from "../src/tool_bridge.ts";
import { schemaToType, serversNamedBy, toolBindings } from "../src/tool_policy.ts";
import { Upstreams } from "../src/upstreams.ts";
import { fixtureUpstream } from "./fixtures/upstream.ts";
import { testSandbox } from "./helpers.ts";

const SECRET = "upstream-s3cret-value-42";

function upstream(name: string, callLog: string) {
  return fixtureUpstream(name, { UPSTREAM_SECRET: SECRET, CALL_LOG: callLog });
}

async function codeMode(allow = ["github.*"], extra: Record<string, unknown> = {}) {
  const dir = await Deno.makeTempDir({ prefix: "conductor-upstream-" });
  const callLog = join(dir, "calls.jsonl");
  const ts = await testSandbox({ env: ["*"] }, {
    mcpServers: {
      github: upstream("github", callLog),
      github_admin: upstream("github_admin", callLog),
      githubevil: upstream("githubevil", callLog),
    },
    toolPolicy: { allow, maxCallsPerExecution: 5, ...extra },
  });
  const calls = async () => {
    const text = await Deno.readTextFile(callLog).catch(() => "");
    return text.trim() ? text.trim().split("\n").map((l) => JSON.parse(l)) : [];
  };
  return {
    ...ts,
    calls,
    /** Runs code with these allowedTools (`null`: none asked for). */
    run: (code: string, allowedTools: string[] | null = ["github.*"], limits = {}) =>
      ts.sandbox.execute({ code, ...(allowedTools ? { allowedTools } : {}), limits }),
    async [Symbol.asyncDispose]() {
      await ts.sandbox.close();
      await ts[Symbol.asyncDispose]();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

function ok(result: ExecutionResult) {
  assert.equal(result.status, "success", JSON.stringify(result).slice(0, 1500));
}

Deno.test("code mode: a script calls two upstream tools and combines their results", async () => {
  await using s = await codeMode();
  const result = await s.run(`
    const found = await tools.github.search_issues({ q: "bug" });
    const issue = await tools.github.get_issue({ id: found.items[0].id });
    ({ count: found.items.length, issue })
  `);
  ok(result);
  assert.deepEqual(result.returnValue, { count: 1, issue: "#2 Bug in parser" });
  assert.deepEqual((await s.calls()).map((c) => `${c.server}.${c.tool}`), [
    "github.search_issues",
    "github.get_issue",
  ]);
  // No network permission was needed, and none was granted.
  assert.deepEqual(result.permissions.granted, {});
  await s.sandbox.auditWritten();
  const audit = (await Deno.readTextFile(s.config.auditFile!)).trim().split("\n").map((l) =>
    JSON.parse(l)
  );
  const toolLines = audit.filter((l) => l.type === "tool_call");
  assert.deepEqual(toolLines.map((l) => [l.tool, l.status]), [["github.search_issues", "ok"], [
    "github.get_issue",
    "ok",
  ]]);
  assert.ok(toolLines.every((l) => /^[0-9a-f]{64}$/.test(l.argsSha256) && !("args" in l)));
});

Deno.test("code mode: non-ASCII text in a tool's answer reaches the code intact", async () => {
  await using s = await codeMode();
  const result = await s.run(`await tools.github.get_issue({ id: 3 })`);
  ok(result);
  assert.equal(result.returnValue, "#3 Docs: Überblick, 漢字 😀");
});

Deno.test("code mode: only the tools the request and the operator both allow exist in the sandbox", async () => {
  await using s = await codeMode(["github.*", "githubevil.*", "github_admin.*"]);
  const result = await s.run(
    `({ servers: Object.keys(tools), github: Object.keys(tools.github).sort() })`,
  );
  ok(result);
  assert.deepEqual(result.returnValue, {
    servers: ["github"],
    github: [
      "big",
      "crash",
      "delete_repo",
      "fail",
      "get_issue",
      "hang",
      "kanji",
      "search_issues",
      "steal",
      "whoami",
    ],
  });
  const none = await s.run(`typeof globalThis.tools`, null);
  assert.equal(none.returnValue, "undefined", "no allowedTools: no tools object");
  const denied = await s.run(`await tools.github_admin.delete_repo({})`);
  assert.equal(denied.status, "error");
  assert.equal(denied.error?.type, "TypeError");
  assert.deepEqual(await s.calls(), []);
});

Deno.test("code mode: github.* never reaches github_admin or githubevil (anchored, the dot is a dot)", async () => {
  await using s = await codeMode(["github.*"]);
  const result = await s.run(`Object.keys(tools)`, ["github*.*"]);
  assert.equal(result.status, "rejected");
  // github_admin.* and githubevil.* lie beyond "github.*": counted, never named.
  const { reason } = result.permissions.denied[0]!;
  assert.match(
    reason,
    /^reaches \d+ tools the operator does not allow; ask for tools within: github\.\*$/,
  );
  assert.doesNotMatch(reason, /delete_repo|steal/);
});

Deno.test("code mode: a request asking for more than the operator allows is rejected before running", async () => {
  await using s = await codeMode(["github.search_issues"]);
  const result = await s.run(`1`, ["github.*"]);
  assert.equal(result.status, "rejected");
  assert.deepEqual(result.permissions.denied.map((d) => [d.kind, d.value]), [["tool", "github.*"]]);
  const narrow = await s.run(`Object.keys(tools.github)`, ["github.search_issues"]);
  ok(narrow);
  assert.deepEqual(narrow.returnValue, ["search_issues"]);
  const bad = await s.run(`1`, ["../etc"]);
  assert.equal(bad.status, "rejected");
  assert.match(bad.error!.message, /allowedTools\[0\]/);
});

Deno.test("code mode: forged channel messages from user code call nothing", async () => {
  await using s = await codeMode();
  const forged = [
    `"\\x1e" + "0".repeat(32) + JSON.stringify({ t: "call", id: 1, server: "github_admin", tool: "delete_repo", args: {} }) + "\\x1e"`,
    `"\\x1e" + "f".repeat(32) + JSON.stringify({ t: "call", id: 99, server: "github", tool: "search_issues", args: { q: "x" } }) + "\\x1e"`,
  ];
  const result = await s.run(`
    for (const line of [${forged.join(", ")}]) { console.log(line); console.error(line); }
    await new Promise((r) => setTimeout(r, 200));
    "done"
  `);
  ok(result);
  assert.ok(result.stdout.includes('"server":"github_admin"'), "the bytes stay output");
  assert.deepEqual(await s.calls(), []);
});

Deno.test("code mode: code that replaces the typed-array species constructor cannot read the nonce from its tool call and forge a result", async () => {
  await using s = await codeMode();
  const result = await s.run(`
    let nonce;
    const Spy = function (buf, off, len) {
      const m = /\\x1e([0-9a-f]{16,})\\{/.exec(String.fromCharCode(...new Uint8Array(buf, off, len)));
      if (m) nonce ??= m[1];
      return new Uint8Array(buf, off, len);
    };
    Spy[Symbol.species] = Spy;
    Uint8Array.prototype.constructor = Spy;
    Object.defineProperty(Uint8Array, Symbol.species, { get: () => Spy, configurable: true });
    const call = tools.github.get_issue({ id: 1 });
    if (nonce) {
      const forged = "\\x1e" + nonce + JSON.stringify({ t: "result", value: "FORGED" }) + "\\x1e";
      Deno.stdout.writeSync(new TextEncoder().encode(forged));
    }
    [await call, nonce !== undefined]
  `);
  ok(result);
  assert.deepEqual(result.returnValue, ["#1 Crash on start", false]);
});

Deno.test("code mode: arguments that cannot be sent reject that call in the code; later calls still work", async () => {
  await using s = await codeMode();
  const result = await s.run(`
    let caught;
    try { await tools.github.get_issue({ id: 1n }); } catch (error) { caught = error.name; }
    [caught, await tools.github.get_issue({ id: 1 })]
  `);
  ok(result);
  assert.deepEqual(result.returnValue, ["TypeError", "#1 Crash on start"]);
});

Deno.test("ToolBridge refuses calls outside the execution's grant, past its limits, and after its deadline", async () => {
  const upstreams = new Upstreams({});
  const audits: string[] = [];
  const tool = {
    server: "github",
    name: "get_issue",
    fullName: "github.get_issue",
    description: "",
    inputSchema: {},
  };
  const bridge = new ToolBridge(upstreams, [tool], {
    maxCallsPerExecution: 1,
    maxBytesPerExecution: 1000,
  }, {
    deadline: performance.now() + 60_000,
    onAudit: (r) => audits.push(`${r.tool}:${r.status}`),
  });
  const other = await bridge.handle({
    t: "call",
    id: 1,
    server: "github_admin",
    tool: "delete_repo",
    args: {},
  });
  assert.deepEqual(other, {
    t: "reply",
    id: 1,
    ok: false,
    error: 'Tool "github_admin.delete_repo" is not allowed for this execution',
  });
  assert.equal(
    await bridge.handle({ t: "call", id: "x", server: "github", tool: "get_issue" }),
    undefined,
  );
  const first = await bridge.handle({
    t: "call",
    id: 2,
    server: "github",
    tool: "get_issue",
    args: {},
  });
  assert.equal(first?.ok, false); // no such upstream configured here: an error outcome, not a throw
  const second = await bridge.handle({
    t: "call",
    id: 3,
    server: "github",
    tool: "get_issue",
    args: {},
  });
  assert.match(second!.error!, /Too many tool calls: the limit is 1/);
  const late = new ToolBridge(upstreams, [tool], {
    maxCallsPerExecution: 5,
    maxBytesPerExecution: 1000,
  }, {
    deadline: performance.now() - 1,
    onAudit: () => {},
  });
  assert.match(
    (await late.handle({ t: "call", id: 1, server: "github", tool: "get_issue" }))!.error!,
    /No time left/,
  );
  assert.deepEqual(audits, [
    "github_admin.delete_repo:refused",
    "github.get_issue:error",
    "github.get_issue:refused",
  ]);
});

Deno.test("code mode: an upstream error, a crash, a hang and a 50 MB answer are errors in the code; the conductor goes on", async () => {
  await using s = await codeMode();
  const failed = await s.run(`await tools.github.fail({})`);
  assert.equal(failed.status, "error");
  assert.match(failed.error!.message, /upstream says no/);

  const crashed = await s.run(
    `let r; try { await tools.github.crash({}); r = "no"; } catch (e) { r = "caught: " + e.message; }\nr`,
  );
  ok(crashed);
  assert.match(String(crashed.returnValue), /^caught: github\.crash: /);
  const after = await s.run(`(await tools.github.search_issues({ q: "docs" })).items.length`);
  ok(after);
  assert.equal(after.returnValue, 1, "the upstream was reconnected");

  const hung = await s.run(`await tools.github.hang({})`, ["github.*"], { timeoutMs: 1500 });
  assert.equal(hung.status, "timeout");

  const huge = await s.run(
    `let r; try { r = (await tools.github.big({ mb: 50 })).length; } catch (e) { r = "caught: " + e.message; }\nr`,
  );
  ok(huge);
  assert.match(String(huge.returnValue), /^caught: /);
  const again = await s.run(`(await tools.github.get_issue({ id: 3 }))`);
  ok(again);
  assert.equal(again.returnValue, "#3 Docs: Überblick, 漢字 😀");
});

Deno.test("code mode: calls still in flight when a run ends are cancelled upstream, not left until its deadline", async () => {
  await using s = await codeMode(["github.*"], { maxCallsPerExecution: 20 });
  const result = await s.run(
    // Pending calls keep the event loop alive: the code leaves with Deno.exit.
    `for (let i = 0; i < 6; i++) tools.github.hang({}).catch(() => {});
    await new Promise((r) => setTimeout(r, 300)); Deno.exit(0)`,
    ["github.hang"],
    { timeoutMs: 120_000 },
  );
  assert.equal(result.exitCode, 0, JSON.stringify(result).slice(0, 500));
  const cancelled = async () => (await s.calls()).filter((c) => c.tool === "hang:cancelled").length;
  for (let i = 0; i < 100 && await cancelled() < 4; i++) {
    await new Promise((r) => setTimeout(r, 50));
  }
  // At most four were in flight at once; the two waiting were never made.
  assert.equal((await s.calls()).filter((c) => c.tool === "hang").length, 4);
  assert.equal(await cancelled(), 4);
});

Deno.test("code mode: the byte budget counts UTF-8 bytes, and no call is made once it is spent", async () => {
  await using s = await codeMode(["github.*"], { maxBytesPerExecution: 4 * 1024 * 1024 });
  const result = await s.run(
    `const out = [];
    for (const mb of [2, 1]) {
      try { out.push((await tools.github.kanji({ mb })).length); } catch (e) { out.push(e.message); }
    }
    out`,
    ["github.kanji"],
  );
  ok(result);
  // 2 Mi characters of 漢 are 6 MiB of UTF-8: past the 4 MiB budget (as UTF-16 units: 2 Mi).
  const [first, second] = result.returnValue as string[];
  assert.match(first!, /Tool results exceeded 4194304 bytes in this execution/);
  assert.match(second!, /Tool results exceeded 4194304 bytes in this execution/);
  assert.equal((await s.calls()).filter((c) => c.tool === "kanji").length, 1);
});

Deno.test("code mode: the upstream's secret never reaches the child, its output, its result or the audit log", async () => {
  await using s = await codeMode();
  const result = await s.sandbox.execute({
    code:
      `const me = await tools.github.whoami({}); console.log(me); ({ me, env: Deno.env.toObject() })`,
    allowedTools: ["github.*"],
    permissions: { env: ["*"] },
  });
  ok(result);
  assert.match(String((result.returnValue as { me: string }).me), /^authenticated \(\d+ chars\)$/);
  assert.ok(!JSON.stringify(result).includes(SECRET));
  await s.sandbox.auditWritten();
  assert.ok(!(await Deno.readTextFile(s.config.auditFile!)).includes(SECRET));
});

Deno.test("code mode: the per-execution call limit holds", async () => {
  await using s = await codeMode();
  const result = await s.run(`
    const out = [];
    for (let i = 0; i < 7; i++) {
      try { await tools.github.get_issue({ id: 1 }); out.push("ok"); } catch (e) { out.push(e.message); }
    }
    out
  `);
  ok(result);
  const values = result.returnValue as string[];
  assert.deepEqual(values.slice(0, 5), ["ok", "ok", "ok", "ok", "ok"]);
  assert.match(values[5]!, /Too many tool calls: the limit is 5/);
});

Deno.test("code mode: a flood of tool calls is stopped, and the audit log stays small", async () => {
  await using s = await codeMode();
  const result = await s.run(`
    for (let i = 0; i < 200000; i++) tools.github.get_issue({ id: 1 }).catch(() => {});
    await new Promise((r) => setTimeout(r, 5000));
  `);
  assert.equal(result.status, "output_limit", JSON.stringify(result).slice(0, 300));
  assert.match(result.error!.message, /more than \d+ tool calls/);
  await s.sandbox.auditWritten();
  const lines = (await Deno.readTextFile(s.config.auditFile!)).trim().split("\n");
  assert.ok(lines.length < 100, `${lines.length} audit lines`);
  const after = await s.run(`(await tools.github.get_issue({ id: 2 }))`);
  assert.equal(after.returnValue, "#2 Bug in parser");
});

Deno.test("schemaToType() stays small for a hostile schema: repeated type arrays, nested", () => {
  // 3 KB of schema; without a budget, half a million nodes and a 373 MB string.
  const level = (inner: unknown) => ({ type: Array(80).fill("object"), properties: { a: inner } });
  const type = schemaToType(level(level(level({ type: "string" }))));
  assert.ok(type.length < 100_000, `${type.length} characters`);
  assert.equal(type, "{ a?: { a?: { a?: string } } }");
  // Seven different types at each of eight levels: 5.7 million nodes, cut at 2,000.
  const kinds = ["object", "null", "string", "number", "integer", "boolean", "array"];
  let deep: unknown = { type: "string" };
  for (let i = 0; i < 8; i++) deep = { type: kinds, properties: { a: deep }, items: deep };
  const cut = schemaToType(deep);
  assert.ok(cut.length < 200_000 && cut.includes("unknown"), `${cut.length} characters`);
  // Distinct non-string members, each re-walking a long description: 316 KB made 195 MB.
  const described = {
    type: Array.from({ length: 1500 }, () => ["object"]),
    properties: { a: { type: "string", description: "d".repeat(200_000) } },
  };
  assert.equal(schemaToType(described), "unknown");
  // An ordinary schema is unchanged.
  assert.equal(
    schemaToType({
      type: "object",
      properties: { q: { type: "string", description: "Words" }, n: { type: ["integer", "null"] } },
      required: ["q"],
    }),
    "{ /** Words */ q: string; n?: number | null }",
  );
});

Deno.test("code mode: a run lists only the upstreams its patterns name (one that never answers costs the others nothing)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "conductor-upstream-" });
  const marker = join(dir, "mute-started");
  await using ts = await testSandbox({}, {
    mcpServers: {
      github: upstream("github", join(dir, "calls.jsonl")),
      // Never answers initialize: listing it would wait for the 15 s connect timeout.
      mute: { command: "sh", args: ["-c", `touch '${marker}'; exec sleep 60`] },
    },
  });
  try {
    const result = await ts.sandbox.execute({
      code: `(await tools.github.get_issue({ id: 1 }))`,
      allowedTools: ["github.get_issue"],
    });
    ok(result);
    assert.equal(result.returnValue, "#1 Crash on start");
    assert.equal(await Deno.lstat(marker).then(() => true, () => false), false, "mute started");
    assert.deepEqual(serversNamedBy(["github.get_issue", "github.search_*"], ["github", "mute"]), [
      "github",
    ]);
    assert.deepEqual(serversNamedBy(["git*.x"], ["github", "mute"]), ["github", "mute"]);
    assert.deepEqual(serversNamedBy(["*"], ["github", "mute"]), ["github", "mute"]);
  } finally {
    await ts.sandbox.close();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

Deno.test("toolBindings() gives a tool the same identifier whichever others are in the set", () => {
  const tool = (name: string) => ({
    server: "h",
    name,
    fullName: `h.${name}`,
    description: "",
    inputSchema: {},
  });
  const all = [tool("del-all"), tool("del_all"), tool("get")];
  // A name that is an identifier already keeps it; the sanitized one gets the suffix.
  const full = { h: { del_all: ["h", "del_all"], del_all_2: ["h", "del-all"], get: ["h", "get"] } };
  assert.deepEqual(toolBindings(all, all, ["h"]), full);
  assert.deepEqual(toolBindings([tool("del-all")], all, ["h"]), {
    h: { del_all_2: ["h", "del-all"] },
  });
  assert.deepEqual(toolBindings([tool("del_all")], all, ["h"]), {
    h: { del_all: ["h", "del_all"] },
  });
  // A server named like what every object inherits gets its own bindings, and writes
  // nothing into the built-ins.
  const inherited = ["constructor", "toString"].map((server) => ({
    ...tool("keys"),
    server,
    fullName: `${server}.keys`,
  }));
  assert.deepEqual(toolBindings(inherited), {
    constructor: { keys: ["constructor", "keys"] },
    toString: { keys: ["toString", "keys"] },
  });
  assert.equal(typeof Object.keys, "function");
  // Servers too: "my-srv" and "my_srv" keep one identifier each, whichever is listed.
  const other = { ...tool("get"), server: "my-srv", fullName: "my-srv.get" };
  assert.deepEqual(Object.keys(toolBindings([other], [other], ["my_srv", "my-srv"])), ["my_srv_2"]);
});

Deno.test("ToolBridge: once the byte budget is spent, every call still waiting for a place is refused, none left waiting", async () => {
  const releases: (() => void)[] = [];
  const started: number[] = [];
  // An upstream whose calls end when the test says so, each answer 20 bytes.
  const upstreams = {
    call: (_server: string, _tool: string, args: unknown) => {
      started.push((args as { n: number }).n);
      return new Promise((resolve) =>
        releases.push(() => resolve({ ok: true, value: "x".repeat(20) }))
      );
    },
  } as unknown as Upstreams;
  const tool = { server: "h", name: "t", fullName: "h.t", description: "", inputSchema: {} };
  const bridge = new ToolBridge(upstreams, [tool], {
    maxCallsPerExecution: 100,
    maxBytesPerExecution: 10,
  }, { deadline: performance.now() + 60_000, onAudit: () => {} });
  const replies = Array.from(
    { length: 10 },
    (_, i) => bridge.handle({ t: "call", id: i, server: "h", tool: "t", args: { n: i } }),
  );
  await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(started, [0, 1, 2, 3], "four in flight, six waiting");
  for (const release of releases.splice(0)) release();
  const settled = await Promise.race([
    Promise.all(replies),
    new Promise((r) => setTimeout(() => r("some still waiting"), 2000)),
  ]);
  assert.ok(Array.isArray(settled), String(settled));
  assert.deepEqual(started, [0, 1, 2, 3], "no call made once the budget was spent");
  for (const reply of settled as { ok: boolean; error?: string }[]) {
    assert.equal(reply.ok, false);
    assert.match(reply.error!, /Tool results exceeded 10 bytes/);
  }
  bridge.end();
});
