import assert from "node:assert/strict";
import {
  buildRunArgs,
  type Ceiling,
  DEFAULT_CEILING,
  grantedEnvNames,
  parseNetEntry,
  parsePermissions,
  resolvePermissions,
  SYS_NAMES,
} from "./permissions.ts";

const FILES = "/ws/c1/files";
const ctx = { filesDir: FILES };
const ceiling = (over: Partial<Ceiling> = {}): Ceiling => ({ ...DEFAULT_CEILING, ...over });

Deno.test("parsePermissions() accepts the request shape of DESIGN.md", () => {
  const request = {
    net: ["api.github.com", "example.com:443"],
    read: ["data", "/abs"],
    write: ["out"],
    env: ["API_KEY", "FOO*"],
    import: ["esm.sh"],
    sys: ["hostname"],
    run: ["git"],
    ffi: true,
    all: true,
  };
  assert.deepEqual(parsePermissions(request), request);
  assert.deepEqual(parsePermissions({ net: true, sys: true }), { net: true, sys: true });
  assert.deepEqual(parsePermissions(undefined), {});
  assert.deepEqual(parsePermissions(null), {});
  assert.deepEqual(parsePermissions({ ffi: false, all: false }), {});
});

Deno.test("parsePermissions() refuses malformed entries, naming each", async (t) => {
  const cases: [string, unknown, RegExp][] = [
    ["empty string", { read: [""] }, /permissions\.read\[0\] "": empty string/],
    ["comma", { net: ["a.com,b.com"] }, /permissions\.net\[0\] "a\.com,b\.com": contains a comma/],
    ["leading dash", { read: ["-A"] }, /permissions\.read\[0\] "-A": starts with "-"/],
    ["equals sign", { env: ["A=B"] }, /contains "="/],
    ["NUL", { read: ["a\u0000b"] }, /NUL or control character/],
    ["newline", { write: ["a\nb"] }, /NUL or control character/],
    ["DEL", { env: ["A\u007f"] }, /NUL or control character/],
    ["number", { read: [1] }, /permissions\.read\[0\]: expected a string, got number/],
    ["null entry", { net: [null] }, /expected a string, got null/],
    ["nested array", { run: [["git"]] }, /expected a string, got an array/],
    [
      "true where not allowed",
      { read: true },
      /permissions\.read: expected an array of strings, got boolean/,
    ],
    [
      "string instead of list",
      { net: "example.com" },
      /permissions\.net: expected an array of strings or true/,
    ],
    ["ffi as list", { ffi: ["x"] }, /permissions\.ffi: expected true or false/],
    ["unknown kind", { hrtime: true }, /Unknown permission kind "hrtime"/],
    [
      "__proto__ key",
      JSON.parse('{"__proto__": {"all": true}}'),
      /Unknown permission kind "__proto__"/,
    ],
    ["constructor key", { constructor: [] }, /Unknown permission kind "constructor"/],
    ["array", ["net"], /expected an object, got an array/],
    ["string", "all", /expected an object, got "all"/],
    ["too many entries", { read: Array(257).fill("a") }, /more than 256 entries/],
    ["too long", { read: ["a".repeat(5000)] }, /longer than 4096 characters/],
    [
      "a URL for a host",
      { net: ["http://x.com"] },
      /permissions\.net\[0\] "http:\/\/x\.com": not a host, host:port, \[IPv6\] or IPv4 CIDR/,
    ],
    ["an unknown sys API", { sys: ["bogus"] }, /permissions\.sys\[0\] "bogus": unknown sys API/],
  ];
  for (const [name, raw, message] of cases) {
    await t.step(name, () => {
      assert.throws(() => parsePermissions(raw), { name: "PermissionRequestError", message });
    });
  }
});

Deno.test("resolvePermissions() grants nothing for an empty request", () => {
  assert.deepEqual(resolvePermissions({}, DEFAULT_CEILING, ctx), { granted: {}, denied: [] });
});

Deno.test("resolvePermissions() scopes read and write to the files folder", () => {
  const r = resolvePermissions(
    { read: [".", "data/x.json", FILES + "/abs"], write: ["out/"] },
    DEFAULT_CEILING,
    ctx,
  );
  assert.deepEqual(r.denied, []);
  assert.deepEqual(r.granted, {
    read: [FILES, FILES + "/data/x.json", FILES + "/abs"],
    write: [FILES + "/out"],
  });
});

Deno.test("resolvePermissions() denies paths that leave the files folder", async (t) => {
  for (
    const path of [
      "..",
      "../x",
      "a/../../x",
      "/etc",
      "/ws/c1/meta",
      "/ws/c1/files2",
      "/ws/c2/files",
    ]
  ) {
    await t.step(path, () => {
      const r = resolvePermissions({ read: [path], write: [path] }, DEFAULT_CEILING, ctx);
      assert.deepEqual(r.granted, {});
      assert.deepEqual(r.denied.map((d) => [d.kind, d.value]), [["read", path], ["write", path]]);
      assert.ok(r.denied[0]!.reason.includes("outside the conversation's files folder"));
    });
  }
});

Deno.test("resolvePermissions() allows the ceiling's extra folders by kind", () => {
  const c = ceiling({ read: ["/data/shared"], write: [] });
  const r = resolvePermissions({ read: ["/data/shared/x"], write: ["/data/shared/x"] }, c, ctx);
  assert.deepEqual(r.granted, { read: ["/data/shared/x"] });
  assert.deepEqual(r.denied.map((d) => d.kind), ["write"]);
});

Deno.test("resolvePermissions() denies non-public net targets by default", async (t) => {
  const denied = [
    "127.0.0.1",
    "127.0.0.1:8080",
    "10.1.2.3",
    "172.16.0.1",
    "192.168.1.1",
    "169.254.169.254",
    "100.64.0.1",
    "0.0.0.0",
    "224.0.0.1",
    "10.0.0.0/8",
    "0.0.0.0/0",
    "[::1]",
    "[::1]:80",
    "[::]",
    "[fe80::1]",
    "[fd00::1]",
    "[::ffff:127.0.0.1]",
    "localhost",
    "foo.localhost:3000",
  ];
  for (const entry of denied) {
    await t.step(entry, () => {
      const r = resolvePermissions({ net: [entry] }, DEFAULT_CEILING, ctx);
      assert.deepEqual(r.granted, {});
      assert.deepEqual(r.denied.length, 1);
      assert.ok(/denied unless the operator's privateNet lists it/.test(r.denied[0]!.reason));
    });
  }
});

Deno.test("resolvePermissions() refuses malformed net entries", async (t) => {
  for (
    const entry of [
      "127.1",
      "0x7f000001",
      "2130706433",
      "a b",
      "host:99999",
      "host:0",
      "[]",
      "*.example.com",
      "http://x.com",
    ]
  ) {
    await t.step(entry, () => {
      const r = resolvePermissions({ net: [entry] }, DEFAULT_CEILING, ctx);
      assert.deepEqual(r.granted, {});
      assert.deepEqual(r.denied[0]?.reason, "not a host, host:port, [IPv6] or IPv4 CIDR");
    });
  }
});

Deno.test("resolvePermissions() grants public hosts and net: true under the default ceiling", () => {
  const r = resolvePermissions(
    { net: ["API.GitHub.com", "example.com:443", "8.8.8.8", "[2001:db8::1]"] },
    DEFAULT_CEILING,
    ctx,
  );
  assert.deepEqual(r.denied, []);
  assert.deepEqual(r.granted, {
    net: ["api.github.com", "example.com:443", "8.8.8.8", "[2001:db8::1]"],
  });
  assert.deepEqual(resolvePermissions({ net: true }, DEFAULT_CEILING, ctx).granted, { net: true });
});

Deno.test("resolvePermissions() opens private ranges only as the operator says", () => {
  const c = ceiling({ privateNet: ["127.0.0.1", "[::1]"] });
  const r = resolvePermissions(
    { net: ["127.0.0.1:8080", "localhost", "[::1]", "127.0.0.2", "10.0.0.1"] },
    c,
    ctx,
  );
  assert.deepEqual(r.granted, { net: ["127.0.0.1:8080", "localhost", "[::1]"] });
  assert.deepEqual(r.denied.map((d) => d.value), ["127.0.0.2", "10.0.0.1"]);
});

Deno.test("resolvePermissions() matches a ceiling host list exactly, with *.domain and ports", () => {
  const c = ceiling({
    net: ["api.github.com", "*.example.com", "db.internal.test:5432", "8.8.8.0/24"],
  });
  const r = resolvePermissions(
    {
      net: [
        "api.github.com",
        "api.github.com:443",
        "a.example.com",
        "example.com",
        "evil-example.com",
        "db.internal.test:5432",
        "db.internal.test",
        "8.8.8.8",
        "8.8.9.9",
        "github.com",
      ],
    },
    c,
    ctx,
  );
  assert.deepEqual(r.granted, {
    net: [
      "api.github.com",
      "api.github.com:443",
      "a.example.com",
      "db.internal.test:5432",
      "8.8.8.8",
    ],
  });
  assert.deepEqual(r.denied.map((d) => d.value), [
    "example.com",
    "evil-example.com",
    "db.internal.test",
    "8.8.9.9",
    "github.com",
  ]);
  const all = resolvePermissions({ net: true }, c, ctx);
  assert.deepEqual(all.granted, {});
  assert.ok(all.denied[0]!.reason.startsWith("the ceiling allows only these hosts"));
  const noSys = resolvePermissions({ sys: true }, ceiling({}), ctx);
  assert.equal(noSys.denied[0]!.reason, "the ceiling allows no sys access");
});

Deno.test("resolvePermissions() grants env names only under the ceiling's patterns", () => {
  const c = ceiling({ env: ["API_*", "HOME_REGION"] });
  const r = resolvePermissions(
    { env: ["API_KEY", "API_*", "HOME_REGION", "HOME", "A*", "*", "1BAD"] },
    c,
    ctx,
  );
  assert.deepEqual(r.granted, { env: ["API_KEY", "API_*", "HOME_REGION"] });
  assert.deepEqual(r.denied.map((d) => d.value), ["HOME", "A*", "*", "1BAD"]);
  assert.deepEqual(resolvePermissions({ env: ["X"] }, DEFAULT_CEILING, ctx).denied.length, 1);
});

Deno.test("resolvePermissions() never grants run, ffi, all, sys or import by default", () => {
  const r = resolvePermissions(
    { run: ["deno"], ffi: true, all: true, sys: ["hostname"], import: ["esm.sh"] },
    DEFAULT_CEILING,
    ctx,
  );
  assert.deepEqual(r.granted, {});
  assert.deepEqual(r.denied.map((d) => d.kind), ["sys", "import", "run", "ffi", "all"]);
  assert.ok(r.denied.find((d) => d.kind === "run")!.reason.includes("never granted"));
});

Deno.test("resolvePermissions() grants sys, run, ffi and all when the ceiling has them", () => {
  const c = ceiling({ sys: ["hostname"], run: ["git"], ffi: true, all: true });
  const r = resolvePermissions(
    { sys: ["hostname", "uid", "bogus"], run: ["git", "sh"], ffi: true, all: true },
    c,
    ctx,
  );
  assert.deepEqual(r.granted, { sys: ["hostname"], run: ["git"], ffi: true, all: true });
  assert.deepEqual(r.denied.map((d) => `${d.kind}:${d.value}`), ["sys:uid", "sys:bogus", "run:sh"]);
  assert.deepEqual(resolvePermissions({ sys: true }, ceiling({ sys: true }), ctx).granted, {
    sys: true,
  });
});

Deno.test("resolvePermissions() grants sys setPriority only when the ceiling's list names it", () => {
  const changing = resolvePermissions(
    { sys: ["getPriority", "setPriority"] },
    ceiling({ sys: true }),
    ctx,
  );
  assert.deepEqual(changing.granted, { sys: ["getPriority"] });
  assert.deepEqual(changing.denied.map((d) => d.value), ["setPriority"]);
  assert.match(changing.denied[0]!.reason, /changes other processes.*ceiling's sys list names it/);
  const named = ceiling({ sys: ["getPriority", "setPriority"] });
  assert.deepEqual(resolvePermissions({ sys: ["setPriority"] }, named, ctx).granted, {
    sys: ["setPriority"],
  });
  assert.ok(!buildRunArgs({ sys: true }, opts).some((a) => a.includes("setPriority")));
});

Deno.test("grantedEnvNames() passes exact names and prefixes only", () => {
  assert.deepEqual(
    grantedEnvNames({ env: ["API_*", "ONE"] }, ["API_KEY", "API_URL", "ONE", "ONE_MORE", "SECRET"]),
    ["API_KEY", "API_URL", "ONE"],
  );
  assert.deepEqual(grantedEnvNames({}, ["A"]), []);
});

Deno.test("parseNetEntry() splits hosts, ports, IPv6 and CIDR", () => {
  assert.deepEqual(parseNetEntry("a.com:80"), { host: "a.com", port: "80" });
  assert.deepEqual(parseNetEntry("[::1]:80"), { host: "[::1]", port: "80" });
  assert.deepEqual(parseNetEntry("10.0.0.0/8"), { host: "10.0.0.0/8" });
  assert.deepEqual(parseNetEntry("a.com:"), undefined);
});

const opts = { bootstrap: "/app/src/bootstrap.js", privateNet: [], heapMb: 192 };

Deno.test("buildRunArgs() builds a child with no permissions", () => {
  assert.deepEqual(buildRunArgs({}, opts), [
    "run",
    "--no-prompt",
    "--no-remote",
    "--cached-only",
    "--no-code-cache",
    "--no-config",
    "--no-lock",
    "--no-npm",
    "--v8-flags=--max-old-space-size=192",
    "/app/src/bootstrap.js",
  ]);
});

Deno.test("buildRunArgs() scopes each grant and adds the private deny list with net", () => {
  const args = buildRunArgs(
    { net: ["api.github.com"], read: ["/ws/f"], write: ["/ws/f/out"], env: ["A", "B*"], sys: true },
    { ...opts, privateNet: ["127.0.0.1"] },
  );
  assert.deepEqual(args.slice(9, -1).slice(0, 6), [
    "--allow-net=api.github.com",
    "--allow-read=/ws/f",
    "--allow-write=/ws/f/out",
    "--allow-env=A,B*",
    "--deny-env=CONDUCTOR_OWNER,DENO_DIR",
    // sys true: every name but setPriority, which changes other processes.
    `--allow-sys=${SYS_NAMES.filter((name) => name !== "setPriority").join(",")}`,
  ]);
  const deny = args.find((a) => a.startsWith("--deny-net="))!;
  assert.ok(deny.includes("10.0.0.0/8"));
  assert.ok(!deny.includes("127.0.0.0/8"));
  assert.ok(deny.includes("127.0.0.2/31"));
  assert.ok(deny.includes("[::1]"));
  assert.deepEqual(args.at(-1), "/app/src/bootstrap.js");
});

Deno.test("buildRunArgs() grants every variable for env *", () => {
  const args = buildRunArgs({ env: ["A", "*"] }, opts);
  assert.ok(args.includes("--allow-env"));
  assert.ok(!args.some((a) => a.startsWith("--allow-env=")));
  assert.ok(args.includes("--deny-env=CONDUCTOR_OWNER,DENO_DIR"));
  // Names alone need no deny list: a reserved name is refused when it is asked for.
  assert.ok(!buildRunArgs({ env: ["A"] }, opts).some((a) => a.startsWith("--deny-env")));
});

Deno.test("buildRunArgs() uses the workspace config and lockfile, frozen", () => {
  const args = buildRunArgs({}, {
    ...opts,
    config: { configPath: "/m/deno.json", lockPath: "/m/deno.lock" },
  });
  assert.deepEqual(args.slice(5, 10), [
    "--config",
    "/m/deno.json",
    "--lock=/m/deno.lock",
    "--frozen",
    "--node-modules-dir=none",
  ]);
});

Deno.test("buildRunArgs() keeps --deny-net even with --allow-all", () => {
  const args = buildRunArgs({ all: true }, opts);
  assert.ok(args.includes("--allow-all"));
  assert.ok(args.some((a) => a.startsWith("--deny-net=")));
  assert.ok(!args.includes("--no-remote"));
});
