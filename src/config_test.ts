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
    ["net not a list", { ceiling: { net: "all" } }, /"ceiling\.net" must be an array of strings/],
    ["bad privateNet", { ceiling: { privateNet: ["localhost"] } }, /"ceiling\.privateNet\[0\]"/],
    ["bad env name", { ceiling: { env: ["A-B"] } }, /"ceiling\.env\[0\]"/],
    ["bad sys name", { ceiling: { sys: ["bogus"] } }, /"ceiling\.sys\[0\]"/],
    ["ffi not boolean", { ceiling: { ffi: "yes" } }, /"ceiling\.ffi" must be true or false/],
    ["comma in entry", { ceiling: { run: ["a,b"] } }, /"ceiling\.run\[0\]"/],
    ["empty path", { workspacesDir: "" }, /"workspacesDir" must be a non-empty path/],
    ["prewarm budget negative", { prewarm: { memoryMb: -1 } }, /"prewarm\.memoryMb"/],
    ["unknown prewarm key", { prewarm: { budget: 1 } }, /Unknown key "prewarm\.budget"/],
    ["not an object", [], /must be an object/],
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
