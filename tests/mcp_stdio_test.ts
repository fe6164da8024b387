/**
 * The MCP server end to end: a real `main.ts serve` over stdio, driven by the SDK client.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";

// The SDK's zod-inferred result types come through as loosely typed here: these are
// the few fields the tests read.
interface CallToolResult {
  content: { type: string; text?: string }[];
  structuredContent?: Record<string, unknown>;
  isError?: boolean;
}
interface ToolInfo {
  name: string;
  description?: string;
  inputSchema: { required?: string[] };
  outputSchema?: unknown;
  annotations?: { readOnlyHint?: boolean; destructiveHint?: boolean };
}
import { fixtureUpstream } from "./fixtures/upstream.ts";
import { sharedDenoDir } from "./helpers.ts";

const MAIN = fileURLToPath(new URL("../main.ts", import.meta.url));

interface Served {
  client: Client;
  dir: string;
  stderr: () => string;
  [Symbol.asyncDispose](): Promise<void>;
}

/** A temp folder with a config for `main.ts serve`: workspaces in `ws/`, shared DENO_DIR. */
async function serveConfig(config: Record<string, unknown> = {}) {
  const dir = await Deno.makeTempDir({ prefix: "conductor-mcp-" });
  const configPath = join(dir, "conductor.jsonc");
  await Deno.writeTextFile(
    configPath,
    JSON.stringify({ workspacesDir: join(dir, "ws"), denoDir: sharedDenoDir(), ...config }),
  );
  return { dir, configPath };
}

/**
 * The audit file of a server's folder once it holds `text`: a cancelled run's line is
 * written once its child is gone, which may come after later answers.
 */
async function auditWith(dir: string, text: string): Promise<string> {
  let audit = "";
  for (let i = 0; i < 100 && !audit.includes(text); i++) {
    if (i) await new Promise((r) => setTimeout(r, 50));
    audit = await Deno.readTextFile(join(dir, "ws", "audit.jsonl")).catch(() => "");
  }
  return audit;
}

/** Starts `main.ts serve` with a config in a temp folder; always closed by `await using`. */
async function serve(config: Record<string, unknown> = {}): Promise<Served> {
  const { dir, configPath } = await serveConfig(config);
  const transport = new StdioClientTransport({
    command: Deno.execPath(),
    args: ["run", "--no-prompt", "--allow-all", MAIN, "serve", "--config", configPath],
    env: { PATH: Deno.env.get("PATH") ?? "", HOME: Deno.env.get("HOME") ?? dir, NO_COLOR: "1" },
    stderr: "pipe",
  });
  let stderr = "";
  transport.stderr?.on("data", (chunk: Uint8Array) => stderr += new TextDecoder().decode(chunk));
  const client = new Client({ name: "conductor-test", version: "1.0.0" });
  await client.connect(transport);
  return {
    client,
    dir,
    stderr: () => stderr,
    async [Symbol.asyncDispose]() {
      await client.close().catch(() => {});
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

type Structured = Record<string, unknown> & {
  status?: string;
  returnValue?: unknown;
  stdout?: string;
};

async function call(
  client: Client,
  name: string,
  args: Record<string, unknown>,
): Promise<CallToolResult> {
  return await client.callTool({ name, arguments: args }) as unknown as CallToolResult;
}

function data(result: CallToolResult): Structured {
  assert.ok(result.structuredContent, `no structuredContent: ${JSON.stringify(result)}`);
  return result.structuredContent as Structured;
}

function text(result: CallToolResult): string {
  return result.content.map((c) => (c.type === "text" ? c.text ?? "" : "")).join("\n");
}

Deno.test("MCP serve: initialize and list the tools with schemas and annotations", async () => {
  await using s = await serve();
  assert.equal(s.client.getServerVersion()?.name, "mcp-conductor");
  const { tools } = await s.client.listTools() as unknown as { tools: ToolInfo[] };
  const names = tools.map((t) => t.name).sort();
  assert.deepEqual(names, [
    "delete_workspace",
    "install_dependencies",
    "list_files",
    "list_workspaces",
    "read_file",
    "run_deno_code",
    "write_file",
  ]);
  const run = tools.find((t) => t.name === "run_deno_code")!;
  assert.match(run.description!, /NOTHING is granted unless asked for/);
  assert.match(run.description!, /Limits: timeout 30000 ms/);
  assert.ok(run.outputSchema, "run_deno_code has an outputSchema");
  assert.deepEqual(run.inputSchema.required, ["code"]);
  assert.equal(tools.find((t) => t.name === "read_file")!.annotations?.readOnlyHint, true);
  assert.equal(
    tools.find((t) => t.name === "delete_workspace")!.annotations?.destructiveHint,
    true,
  );
});

Deno.test("MCP serve: run_deno_code returns a value, a denial, a timeout", async (t) => {
  await using s = await serve();
  await t.step("a return value, with stdout and stderr apart", async () => {
    const r = await call(s.client, "run_deno_code", {
      code:
        "console.log('out'); console.error('err'); const data = { stargazers_count: 7 };\ndata.stargazers_count",
    });
    const d = data(r);
    assert.equal(r.isError, undefined);
    assert.equal(d.status, "success");
    assert.equal(d.returnValue, 7);
    assert.equal(d.stdout, "out\n");
    assert.equal(d.stderr, "err\n");
    assert.match(text(r), /^status: success/);
    assert.match(String(d.conversationId), /^[0-9a-f-]{36}$/);
  });
  await t.step("a denial names the permission to ask for", async () => {
    const r = await call(s.client, "run_deno_code", {
      code: "await Deno.readTextFile('/etc/hostname')",
    });
    const d = data(r);
    assert.equal(r.isError, true);
    assert.equal(d.status, "error");
    assert.deepEqual((d.error as { type: string }).type, "NotCapable");
    assert.match(text(r), /--allow-read/);
  });
  await t.step("a request beyond the ceiling is rejected before running", async () => {
    const r = await call(s.client, "run_deno_code", {
      code: "1",
      permissions: { net: ["169.254.169.254"] },
    });
    const d = data(r);
    assert.equal(d.status, "rejected");
    assert.match(text(r), /denied: net "169\.254\.169\.254": private/);
  });
  await t.step("a timeout", async () => {
    const r = await call(s.client, "run_deno_code", { code: "while (true) {}", timeoutMs: 500 });
    assert.equal(data(r).status, "timeout");
  });
});

Deno.test("MCP serve: a file written with write_file is read by code, and code's files come back", async () => {
  await using s = await serve();
  // The workspace made ahead for a prewarmed child is nobody's yet: on disk, not listed.
  const made = [...Deno.readDirSync(join(s.dir, "ws"))].filter((e) =>
    e.isDirectory && e.name !== ".deno"
  );
  assert.equal(made.length, 1);
  assert.deepEqual(data(await call(s.client, "list_workspaces", {})).workspaces, []);
  const w = data(await call(s.client, "write_file", { path: "in/data.txt", content: "hello" }));
  const id = String(w.conversationId);
  const r = await call(s.client, "run_deno_code", {
    conversationId: id,
    code:
      "const t = await Deno.readTextFile('in/data.txt'); await Deno.writeTextFile('out.bin', new Uint8Array([0, 255]).toString()); await Deno.writeFile('raw.bin', new Uint8Array([0, 255])); t.toUpperCase()",
    permissions: { read: ["."], write: ["."] },
  });
  assert.equal(data(r).returnValue, "HELLO");
  const listed = data(await call(s.client, "list_files", { conversationId: id }));
  assert.deepEqual((listed.entries as { path: string }[]).map((e) => e.path), [
    "in",
    "in/data.txt",
    "out.bin",
    "raw.bin",
  ]);
  const raw = data(await call(s.client, "read_file", { conversationId: id, path: "raw.bin" }));
  assert.deepEqual([raw.encoding, raw.content], ["base64", "AP8="]);
  const bad = await call(s.client, "read_file", { conversationId: id, path: "../meta/state.json" });
  assert.equal(bad.isError, true);
  assert.match(text(bad), /outside the workspace's files folder/);
  const other = await call(s.client, "run_deno_code", {
    code: "await Deno.readTextFile('in/data.txt')",
    permissions: { read: ["."] },
  });
  assert.equal(data(other).status, "error", "another conversation does not see the file");
  const ws = data(await call(s.client, "list_workspaces", {}));
  assert.ok((ws.workspaces as { id: string }[]).some((w) => w.id === id));
  assert.equal(
    data(await call(s.client, "delete_workspace", { conversationId: id })).deleted,
    true,
  );
  assert.equal((await call(s.client, "list_files", { conversationId: id })).isError, true);
});

Deno.test("MCP serve: a refused write_file or install_dependencies leaves no new workspace behind", async () => {
  await using s = await serve();
  const folders = () =>
    [...Deno.readDirSync(join(s.dir, "ws"))].filter((e) => e.isDirectory && e.name !== ".deno")
      .length;
  const before = folders(); // the prewarmed child's workspace
  const write = await call(s.client, "write_file", { path: "/etc/passwd", content: "x" });
  assert.equal(write.isError, true);
  const install = await call(s.client, "install_dependencies", { dependencies: ["not a spec"] });
  assert.equal(data(install).status, "rejected");
  assert.equal(folders(), before);
  assert.deepEqual(data(await call(s.client, "list_workspaces", {})).workspaces, []);
  // A refused write into a named conversation keeps that conversation.
  const named = await call(s.client, "write_file", {
    conversationId: "kept",
    path: "/etc/passwd",
    content: "x",
  });
  assert.equal(named.isError, true);
  assert.equal(folders(), before + 1);
});

Deno.test("MCP serve: delete_workspace is refused while a run of that conversation is in progress", async () => {
  await using s = await serve();
  await call(s.client, "write_file", { conversationId: "busy1", path: "a.txt", content: "a" });
  const running = call(s.client, "run_deno_code", {
    conversationId: "busy1",
    code: "await new Promise((r) => setTimeout(r, 1500)); 'done'",
  });
  await new Promise((r) => setTimeout(r, 300));
  const refused = await call(s.client, "delete_workspace", { conversationId: "busy1" });
  assert.equal(refused.isError, true);
  assert.match(text(refused), /in use by a run or an install in progress/);
  assert.equal(data(await running).returnValue, "done");
  const deleted = await call(s.client, "delete_workspace", { conversationId: "busy1" });
  assert.equal(data(deleted).deleted, true);
});

Deno.test("MCP serve: 8 concurrent calls each get only their own output", async () => {
  await using s = await serve({ maxConcurrent: 4 });
  const results = await Promise.all(
    Array.from({ length: 8 }, (_, i) =>
      call(s.client, "run_deno_code", {
        code:
          `for (let k = 0; k < 50; k++) console.log("marker-${i}"); await new Promise((r) => setTimeout(r, ${
            (i % 3) * 20
          })); "value-${i}"`,
      })),
  );
  results.forEach((r: CallToolResult, i: number) => {
    const d = data(r);
    assert.equal(d.status, "success");
    assert.equal(d.returnValue, `value-${i}`);
    assert.equal(d.stdout, `marker-${i}\n`.repeat(50));
  });
});

Deno.test("MCP serve: cancellation kills the run and reports cancelled; progress is sent", async () => {
  await using s = await serve();
  const controller = new AbortController();
  const progress: number[] = [];
  const pending = s.client.callTool(
    {
      name: "run_deno_code",
      arguments: { code: "console.log('started'); while (true) {}" },
    },
    undefined,
    {
      signal: controller.signal,
      onprogress: (p: { progress: number }) => progress.push(p.progress),
      timeout: 20_000,
    },
  );
  await new Promise((r) => setTimeout(r, 1500));
  controller.abort();
  await assert.rejects(pending);
  // The server is still serving, and the child is gone.
  const r = await call(s.client, "run_deno_code", { code: "1 + 1" });
  assert.equal(data(r).returnValue, 2);
  assert.ok(progress.length >= 1, "at least one progress notification");
  assert.match(await auditWith(s.dir, '"status":"cancelled"'), /"status":"cancelled"/);
});

Deno.test("MCP serve: protocol abuse gets clear errors and the server keeps serving", async (t) => {
  await using s = await serve();
  const healthy = async () =>
    assert.equal(data(await call(s.client, "run_deno_code", { code: "40 + 2" })).returnValue, 42);
  const cases: [string, string, Record<string, unknown>, RegExp][] = [
    ["unknown tool", "no_such_tool", {}, /no_such_tool/],
    ["wrong argument type", "run_deno_code", { code: 42 }, /code/],
    // A misspelt argument would otherwise be dropped: a new workspace, silently.
    ["a misspelt argument", "run_deno_code", { code: "1", conversationID: "c1" }, /conversationID/],
    ["an unknown argument to a file tool", "list_workspaces", { all: true }, /"all"|all/],
    ["__proto__ in permissions", "run_deno_code", {
      code: "1",
      permissions: JSON.parse('{"__proto__": {"all": true}}'),
    }, /__proto__|Unrecognized/],
    [
      "unknown permission kind",
      "run_deno_code",
      { code: "1", permissions: { hrtime: true } },
      /hrtime|Unrecognized/,
    ],
    [
      "a huge timeout",
      "run_deno_code",
      { code: "1", timeoutMs: 1e9 },
      /timeoutMs=1000000000.*must be from 1 to 300000/,
    ],
    [
      "a negative memory value",
      "run_deno_code",
      { code: "1", memoryMb: -5 },
      /memoryMb=-5.*must be from 64/,
    ],
    [
      "a 10 MB code string",
      "run_deno_code",
      { code: "x".repeat(10 * 1024 * 1024) },
      /limit is 4194304/,
    ],
    [
      "a hostile conversation id",
      "run_deno_code",
      { code: "1", conversationId: "../etc" },
      /Invalid conversation id/,
    ],
    [
      "a hostile file path",
      "write_file",
      { path: "/etc/passwd", content: "x" },
      /outside the workspace/,
    ],
    [
      "a commas permission",
      "run_deno_code",
      { code: "1", permissions: { read: ["a,b"] } },
      /contains a comma/,
    ],
  ];
  for (const [name, tool, args, message] of cases) {
    await t.step(name, async () => {
      let outcome: string;
      try {
        const r = await call(s.client, tool, args);
        assert.equal(r.isError, true, JSON.stringify(r).slice(0, 300));
        outcome = text(r);
      } catch (error) {
        outcome = (error as Error).message; // a JSON-RPC error (e.g. invalid params)
      }
      assert.match(outcome, message);
      await healthy();
    });
  }
  await t.step("malformed JSON-RPC on the wire", async () => {
    // Raw bytes straight into the server's stdin, through the transport's process.
    const transport =
      (s.client as unknown as { _transport: { _process?: { stdin: { write(s: string): void } } } })
        ._transport;
    transport._process?.stdin.write("{not json\n");
    transport._process?.stdin.write('{"jsonrpc":"2.0","id":999,"method":"no/such/method"}\n');
    await healthy();
  });
});

Deno.test("MCP serve: search_tools finds upstream tools with signatures, and run_deno_code calls them", async () => {
  await using s = await serve({
    mcpServers: { github: fixtureUpstream("github") },
    toolPolicy: { allow: ["github.search_issues", "github.get_issue"] },
  });
  const { tools } = await s.client.listTools() as unknown as { tools: ToolInfo[] };
  assert.ok(tools.some((t) => t.name === "search_tools"));
  const found = data(await call(s.client, "search_tools", { query: "issue", detail: true }));
  const list = found.tools as { name: string; signature: string }[];
  assert.deepEqual(list.map((t) => t.name), ["github.get_issue", "github.search_issues"]);
  assert.match(
    list[1]!.signature,
    /^\/\*\* Searches issues by title\.\nSecond line\. \*\/\ntools\.github\.search_issues\(args: \{ \/\*\* Words to look for \*\/ q: string \}\): Promise<\{ items: Array<\{ id: number; title: string \}> \}>$/,
  );
  const r = await call(s.client, "run_deno_code", {
    code: "(await tools.github.search_issues({ q: 'crash' })).items[0].title",
    allowedTools: ["github.search_issues"],
  });
  assert.equal(data(r).returnValue, "Crash on start");
  const refused = await call(s.client, "run_deno_code", { code: "1", allowedTools: ["github.*"] });
  assert.equal(data(refused).status, "rejected");
});

Deno.test("MCP serve: a request with id 0 can be cancelled (the SDK alone ignores it), and so can one whose cancel comes in the same write", async () => {
  const { dir, configPath } = await serveConfig();
  const server = new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", "--allow-all", MAIN, "serve", "--config", configPath],
    stdin: "piped",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const input = server.stdin.getWriter();
  const send = (message: Record<string, unknown>) =>
    input.write(new TextEncoder().encode(JSON.stringify({ jsonrpc: "2.0", ...message }) + "\n"));
  const lines = server.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = "";
  /** Reads answers until the one with this id; returns the ids of all seen. */
  const answersUntil = async (id: number | string) => {
    const seen: unknown[] = [];
    while (!seen.includes(id)) {
      const nl = buffered.indexOf("\n");
      if (nl === -1) {
        const { value, done } = await lines.read();
        if (done) throw new Error(`the server ended before answering ${id}`);
        buffered += value;
        continue;
      }
      const message = JSON.parse(buffered.slice(0, nl));
      buffered = buffered.slice(nl + 1);
      if ("id" in message) seen.push(message.id);
    }
    return seen;
  };
  try {
    await send({
      id: "init",
      method: "initialize",
      params: {
        protocolVersion: "2025-06-18",
        capabilities: {},
        clientInfo: { name: "t", version: "1" },
      },
    });
    await answersUntil("init");
    await send({ method: "notifications/initialized" });
    await send({
      id: 0,
      method: "tools/call",
      params: { name: "run_deno_code", arguments: { code: "while (true) {}", timeoutMs: 60_000 } },
    });
    await new Promise((r) => setTimeout(r, 1000));
    await send({ method: "notifications/cancelled", params: { requestId: 0, reason: "test" } });
    await send({ id: 1, method: "ping" });
    // Cancelled: no answer comes for 0 (MCP), and the run ends as cancelled, not at its timeout.
    assert.deepEqual(await answersUntil(1), [1]);
    assert.match(await auditWith(dir, '"status":"cancelled"'), /"status":"cancelled"/);
    // Read together, the cancel aborts the request's signal before its handler listens.
    const request = {
      jsonrpc: "2.0",
      id: 2,
      method: "tools/call",
      params: { name: "run_deno_code", arguments: { code: "while (true) {}", timeoutMs: 60_000 } },
    };
    const cancel = {
      jsonrpc: "2.0",
      method: "notifications/cancelled",
      params: { requestId: 2, reason: "test" },
    };
    await input.write(
      new TextEncoder().encode(JSON.stringify(request) + "\n" + JSON.stringify(cancel) + "\n"),
    );
    await send({ id: 3, method: "ping" });
    assert.deepEqual(await answersUntil(3), [3]);
    const cancelledRuns = async () => {
      const audit = await Deno.readTextFile(join(dir, "ws", "audit.jsonl")).catch(() => "");
      return audit.split('"status":"cancelled"').length - 1;
    };
    for (let i = 0; i < 200 && await cancelledRuns() < 2; i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(await cancelledRuns(), 2, "cancelled, not run until its 60 s timeout");
  } finally {
    await input.close().catch(() => {});
    await lines.cancel().catch(() => {});
    await server.status;
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
