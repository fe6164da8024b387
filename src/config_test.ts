import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  ConfigError,
  DEFAULT_LIMITS,
  DEFAULT_MAX_LIMITS,
  loadConfig,
  parseJsonc,
  resolveConfig,
} from "./config.ts";
import { DEFAULT_CEILING } from "./permissions.ts";

Deno.test("resolveConfig() gives the secure defaults for an empty config", () => {
  const c = resolveConfig({}, "/base");
  assert.equal(c.workspacesDir, "/base/workspaces");
  assert.equal(c.denoDir, "/base/workspaces/.deno");
  assert.deepEqual(c.ceiling, DEFAULT_CEILING);
  assert.deepEqual(c.limits, DEFAULT_LIMITS);
  assert.deepEqual(c.maxLimits, DEFAULT_MAX_LIMITS);
  assert.equal(c.ceiling.net, true);
  assert.deepEqual([c.ceiling.env, c.ceiling.run, c.ceiling.ffi, c.ceiling.all], [
    [],
    [],
    false,
    false,
  ]);
});

Deno.test("resolveConfig() resolves paths against the config's folder", () => {
  const c = resolveConfig({
    workspacesDir: "data/ws",
    denoDir: "/cache/deno",
    ceiling: { read: ["shared", "/abs"] },
  }, "/etc/conductor");
  assert.equal(c.workspacesDir, "/etc/conductor/data/ws");
  assert.equal(c.denoDir, "/cache/deno");
  assert.deepEqual(c.ceiling.read, ["/etc/conductor/shared", "/abs"]);
});

Deno.test("resolveConfig() refuses unknown keys and bad values, naming the key", async (t) => {
  const cases: [string, unknown, RegExp][] = [
    ["unknown top-level key", { workspaceDir: "x" }, /Unknown key "workspaceDir"/],
    ["unknown ceiling key", { ceiling: { network: true } }, /Unknown key "ceiling\.network"/],
    ["unknown limit", { limits: { cpu: 1 } }, /Unknown key "limits\.cpu"/],
    [
      "limit too big",
      { limits: { timeoutMs: 10 * 60_000 } },
      /"limits\.timeoutMs" must be an integer from 1 to 300000/,
    ],
    ["limit not integer", { limits: { memoryMb: "256" } }, /"limits\.memoryMb" must be an integer/],
    ["negative memory", { limits: { memoryMb: -1 } }, /"limits\.memoryMb"/],
    [
      "limit above raised max",
      { maxLimits: { timeoutMs: 1000 }, limits: { timeoutMs: 2000 } },
      /from 1 to 1000/,
    ],
    [
      "net neither true nor a list",
      { ceiling: { net: false } },
      /"ceiling\.net" must be true or an array of strings, got false/,
    ],
    [
      "sys neither true nor a list",
      { ceiling: { sys: "all" } },
      /"ceiling\.sys" must be true or an array of strings, got "all"/,
    ],
    ["read not a list", { ceiling: { read: "/x" } }, /"ceiling\.read" must be an array of strings/],
    ["bad privateNet", { ceiling: { privateNet: ["localhost"] } }, /"ceiling\.privateNet\[0\]"/],
    ["bad env name", { ceiling: { env: ["A-B"] } }, /"ceiling\.env\[0\]"/],
    ["bad sys name", { ceiling: { sys: ["bogus"] } }, /"ceiling\.sys\[0\]"/],
    ["ffi not boolean", { ceiling: { ffi: "yes" } }, /"ceiling\.ffi" must be true or false/],
    ["comma in entry", { ceiling: { run: ["a,b"] } }, /"ceiling\.run\[0\]"/],
    ["empty path", { workspacesDir: "" }, /"workspacesDir" must be a non-empty path/],
    ["prewarm budget negative", { prewarm: { memoryMb: -1 } }, /"prewarm\.memoryMb"/],
    ["unknown prewarm key", { prewarm: { budget: 1 } }, /Unknown key "prewarm\.budget"/],
    ["an array", [], /^The config must be a JSON object, got \[\]$/],
    ["a number", 42, /^The config must be a JSON object, got 42$/],
  ];
  for (const [name, raw, message] of cases) {
    await t.step(name, () => {
      assert.throws(() => resolveConfig(raw, "/base"), { name: "ConfigError", message });
    });
  }
});

Deno.test("resolveConfig() caps default limits at lowered maxima", () => {
  const c = resolveConfig({ maxLimits: { timeoutMs: 5000 } }, "/b");
  assert.equal(c.limits.timeoutMs, 5000);
  assert.equal(c.maxLimits.timeoutMs, 5000);
});

Deno.test("parseJsonc() accepts comments and trailing commas, and locates errors", () => {
  assert.deepEqual(parseJsonc('// c\n{ "a": [1, 2,], /* x */ }', "f"), { a: [1, 2] });
  assert.throws(() => parseJsonc('{\n  "a": 1\n  "b": 2\n}', "conductor.jsonc"), {
    name: "ConfigError",
    message: /Cannot parse config "conductor\.jsonc": CommaExpected at line 3, column 3/,
  });
});

Deno.test("loadConfig() finds conductor.jsonc by flag, env, then the folder", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(join(dir, "conductor.jsonc"), '{ "limits": { "timeoutMs": 1234 } }');
    await Deno.writeTextFile(join(dir, "other.jsonc"), '{ "limits": { "timeoutMs": 42 } }');
    assert.equal((await loadConfig({ cwd: dir })).limits.timeoutMs, 1234);
    assert.equal((await loadConfig({ cwd: dir, envPath: "other.jsonc" })).limits.timeoutMs, 42);
    assert.equal(
      (await loadConfig({ cwd: dir, path: "conductor.jsonc", envPath: "other.jsonc" })).limits
        .timeoutMs,
      1234,
    );
    const empty = await Deno.makeTempDir();
    const defaults = await loadConfig({ cwd: empty });
    assert.equal(defaults.source, undefined);
    await Deno.remove(empty);
    await assert.rejects(() => loadConfig({ cwd: dir, path: "missing.jsonc" }), {
      name: "ConfigError",
      message: /Cannot read config ".*missing\.jsonc"/,
    });
    await Deno.writeTextFile(join(dir, "bad.jsonc"), '{ "ceiling": { "all": 1 } }');
    await assert.rejects(() => loadConfig({ cwd: dir, path: "bad.jsonc" }), {
      name: "ConfigError",
      message: /Invalid config ".*bad\.jsonc": "ceiling\.all" must be true or false, got 1/,
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadConfig() ignores a conductor.jsonc inside the default workspaces folder", async () => {
  const root = fileURLToPath(new URL("../workspaces/", import.meta.url));
  const dir = join(root, `config-test-${crypto.randomUUID()}`, "files");
  await Deno.mkdir(dir, { recursive: true });
  try {
    await Deno.writeTextFile(join(dir, "conductor.jsonc"), '{ "ceiling": { "all": true } }');
    assert.equal((await loadConfig({ cwd: dir })).ceiling.all, false);
  } finally {
    await Deno.remove(join(dir, ".."), { recursive: true });
  }
});

Deno.test("resolveConfig() refuses a denoDir or auditFile a conversation could be named after", () => {
  for (
    const raw of [
      { workspacesDir: "/srv/ws", denoDir: "/srv/ws/denocache" },
      { workspacesDir: "/srv/ws", denoDir: "/srv/ws/cache/deno" },
      { workspacesDir: "/srv/ws", denoDir: "/srv/ws" },
      { workspacesDir: "/srv/ws", auditFile: "/srv/ws/audit" },
    ]
  ) {
    assert.throws(() => resolveConfig(raw), ConfigError, JSON.stringify(raw));
  }
  for (
    const raw of [
      { workspacesDir: "/srv/ws" },
      {
        workspacesDir: "/srv/ws",
        denoDir: "/srv/ws/.cache/deno",
        auditFile: "/srv/ws/audit.jsonl",
      },
      { workspacesDir: "/srv/ws", denoDir: "/srv/deno", auditFile: "/var/log/conductor" },
    ]
  ) {
    resolveConfig(raw);
  }
});

Deno.test("resolveConfig() takes any regex in redactPatterns, commas included", () => {
  const patterns = ["sk-[A-Za-z0-9]{20,}", "a{1,3},b", String.raw`(\w+)=\1`];
  assert.deepEqual(resolveConfig({ redactPatterns: patterns }, "/b").redactPatterns, patterns);
});

Deno.test("resolveConfig() refuses a redactPatterns entry that is no regex, saying why", async (t) => {
  const cases: [string, unknown, RegExp][] = [
    [
      "unclosed group",
      ["ok", "("],
      /^"redactPatterns\[1\]" must be a valid regex, got "\(": Invalid regular expression: .*Unterminated group/,
    ],
    ["empty", [""], /^"redactPatterns\[0\]" must be a non-empty string, got ""$/],
    ["not a string", [7], /^"redactPatterns\[0\]" must be a non-empty string, got 7$/],
    ["not a list", "sk-.*", /^"redactPatterns" must be an array of strings/],
    [
      "matches the empty string",
      ["a*"],
      /^"redactPatterns\[0\]" must be a regex that does not match the empty string, got "a\*"$/,
    ],
  ];
  for (const [name, redactPatterns, message] of cases) {
    await t.step(name, () => {
      assert.throws(() => resolveConfig({ redactPatterns }, "/b"), {
        name: "ConfigError",
        message,
      });
    });
  }
});

Deno.test("resolveConfig() resolves mcpServers of both transports", () => {
  const c = resolveConfig({
    mcpServers: {
      gh: {
        type: "stdio",
        command: "deno",
        args: ["run", "--allow-net=api.github.com,example.com", ""],
        env: { TOKEN: "t" },
        cwd: "servers",
      },
      search: { url: "https://mcp.example.com/mcp", headers: { Authorization: "Bearer x" } },
      plain: { type: "http", url: "http://localhost:1/mcp" },
    },
  }, "/etc/conductor");
  assert.deepEqual(c.mcpServers, {
    gh: {
      command: "deno",
      args: ["run", "--allow-net=api.github.com,example.com", ""],
      env: { TOKEN: "t" },
      cwd: "/etc/conductor/servers",
    },
    search: { url: "https://mcp.example.com/mcp", headers: { Authorization: "Bearer x" } },
    plain: { url: "http://localhost:1/mcp" },
  });
});

Deno.test("resolveConfig() refuses an mcpServers key of the wrong type or transport, naming it", async (t) => {
  const cases: [string, unknown, RegExp][] = [
    [
      "cwd not a string",
      { command: "x", cwd: 5 },
      /^"mcpServers\.a\.cwd" must be a non-empty path, got 5$/,
    ],
    ["empty cwd", { command: "x", cwd: "" }, /^"mcpServers\.a\.cwd" must be a non-empty path/],
    [
      "headers on a stdio server",
      { command: "x", headers: 3 },
      /^Unknown key "mcpServers\.a\.headers" for a stdio server: expected one of type, command, args, env, cwd$/,
    ],
    [
      "env on an http server",
      { url: "https://h/mcp", env: {} },
      /^Unknown key "mcpServers\.a\.env" for a Streamable HTTP server: expected one of type, url, headers$/,
    ],
    [
      "type sse",
      { type: "sse", url: "https://h/sse" },
      /^"mcpServers\.a\.type" must be "stdio" or "http", got "sse"$/,
    ],
    [
      "type not a string",
      { type: 1, command: "x" },
      /^"mcpServers\.a\.type" must be "stdio" or "http"/,
    ],
    [
      "type against url",
      { type: "stdio", url: "https://h/mcp" },
      /Unknown key "mcpServers\.a\.url" for a stdio server/,
    ],
    [
      "type without command",
      { type: "stdio" },
      /^"mcpServers\.a\.command" must be a non-empty string, got undefined$/,
    ],
    [
      "type without url",
      { type: "http" },
      /^"mcpServers\.a\.url" must be an http\(s\) URL, got undefined$/,
    ],
    [
      "both command and url",
      { command: "x", url: "https://h/mcp" },
      /^"mcpServers\.a" must be an object with either "command" \(stdio\) or "url"/,
    ],
    ["neither", { args: [] }, /^"mcpServers\.a" must be an object with either "command"/],
    [
      "command not a string",
      { command: 1 },
      /^"mcpServers\.a\.command" must be a non-empty string, got 1$/,
    ],
    [
      "arg not a string",
      { command: "x", args: ["a", 1] },
      /^"mcpServers\.a\.args\[1\]" must be a string, got 1$/,
    ],
    [
      "args not a list",
      { command: "x", args: "a b" },
      /^"mcpServers\.a\.args" must be an array of strings/,
    ],
    [
      "env value not a string",
      { command: "x", env: { A: 1 } },
      /^"mcpServers\.a\.env\.A" must be a string, got 1$/,
    ],
    [
      "headers null",
      { url: "https://h/mcp", headers: null },
      /^"mcpServers\.a\.headers" must be an object, got null$/,
    ],
    ["url not http", { url: "file:///x" }, /^"mcpServers\.a\.url" must be an http\(s\) URL/],
  ];
  for (const [name, server, message] of cases) {
    await t.step(name, () => {
      assert.throws(() => resolveConfig({ mcpServers: { a: server } }, "/b"), {
        name: "ConfigError",
        message,
      });
    });
  }
});

Deno.test("parseJsonc() gives no value for a file of whitespace and comments only", () => {
  for (const text of ["", " \n", "// nothing set yet\n", "/* a */\n// b"]) {
    assert.equal(parseJsonc(text, "f"), undefined, JSON.stringify(text));
  }
  assert.throws(() => parseJsonc("/* unterminated", "f"), {
    name: "ConfigError",
    message: /UnexpectedEndOfComment at line 1, column 1/,
  });
  assert.throws(() => parseJsonc("// c\n,", "f"), {
    name: "ConfigError",
    message: /ValueExpected at line 2, column 1/,
  });
});

Deno.test("loadConfig() gives the defaults for an empty or comment-only file, as for {}", async () => {
  const dir = await Deno.makeTempDir();
  try {
    for (const text of ["", "// nothing set yet\n", "null", "{}"]) {
      const file = join(dir, "conductor.jsonc");
      await Deno.writeTextFile(file, text);
      const c = await loadConfig({ cwd: dir });
      assert.equal(c.source, file);
      assert.equal(c.workspacesDir, join(dir, "workspaces"));
      assert.deepEqual(c.ceiling, DEFAULT_CEILING);
      assert.deepEqual(c.limits, DEFAULT_LIMITS);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
