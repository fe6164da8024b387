/**
 * `conductor exec` as a user runs it: a real `deno run main.ts` process.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath as fromFileUrl } from "node:url";
import { fixtureUpstream } from "./fixtures/upstream.ts";
import { sharedDenoDir, withoutDenoDownloads } from "./helpers.ts";
import { hostAddresses } from "../src/host_addresses.ts";

const MAIN = fromFileUrl(new URL("../main.ts", import.meta.url));
const CONDUCTOR_FLAGS = ["--allow-all"];

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function conductor(
  args: string[],
  options: { stdin?: string; config?: unknown } = {},
): Promise<Run> {
  const dir = await Deno.makeTempDir({ prefix: "conductor-cli-" });
  try {
    const config = {
      workspacesDir: join(dir, "ws"),
      denoDir: sharedDenoDir(),
      ...(options.config ?? {}),
    };
    await Deno.writeTextFile(join(dir, "conductor.jsonc"), JSON.stringify(config));
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "--no-prompt", ...CONDUCTOR_FLAGS, MAIN, ...args],
      cwd: dir,
      stdin: options.stdin === undefined ? "null" : "piped",
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1", CONDUCTOR_CONFIG: "" },
    }).spawn();
    if (options.stdin !== undefined) {
      const w = child.stdin.getWriter();
      await w.write(new TextEncoder().encode(options.stdin));
      await w.close();
    }
    const out = await child.output();
    const run = {
      code: out.code,
      stdout: new TextDecoder().decode(out.stdout).replaceAll(dir, "$DIR"),
      stderr: withoutDenoDownloads(new TextDecoder().decode(out.stderr)).replaceAll(dir, "$DIR"),
    };
    // Ephemeral workspaces are gone after each run.
    let listing: Deno.DirEntry[] = [];
    try {
      listing = [...Deno.readDirSync(join(dir, "ws"))];
    } catch { /* never created: fine */ }
    const left = listing.filter((e) => e.isDirectory).map((e) => e.name).filter((n) =>
      n !== ".deno"
    );
    if (!args.includes("--conversation")) assert.deepEqual(left, [], "workspaces left behind");
    return run;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("conductor exec -e prints output and the return value, exit 0", async () => {
  const r = await conductor(["exec", "-e", "console.log('hello'); 40 + 2"]);
  assert.equal(r.stdout, "hello\n42\n");
  assert.match(r.stderr, /^\[conductor\] success in \d+ ms\n$/);
  assert.equal(r.code, 0);
});

Deno.test("conductor exec runs a file and code from stdin", async () => {
  const dir = await Deno.makeTempDir();
  const file = join(dir, "s.ts");
  await Deno.writeTextFile(file, "const n: number = 3;\nexport default n * 2;\n");
  const fromFile = await conductor(["exec", file]);
  await Deno.remove(dir, { recursive: true });
  assert.equal(fromFile.stdout, "6\n");
  const fromStdin = await conductor(["exec", "-"], { stdin: "'piped'" });
  assert.equal(fromStdin.stdout, '"piped"\n');
});

Deno.test("conductor exec exits 1 when the code fails, with the error on stderr", async () => {
  const r = await conductor(["exec", "-e", "await Deno.readTextFile('/etc/hostname')"]);
  assert.equal(r.code, 1);
  assert.match(
    r.stderr,
    /\[conductor\] error: NotCapable: Requires read access to "\/etc\/hostname", run again with the --allow-read flag/,
  );
  assert.match(r.stderr, /at code\.ts:1:/);
});

Deno.test("conductor exec exits 3 when policy refuses, naming each entry", async () => {
  const r = await conductor(["exec", "--allow-net=10.0.0.1", "--allow-env=API_KEY", "-e", "1"]);
  assert.equal(r.code, 3);
  assert.equal(
    r.stderr,
    "[conductor] rejected: refused by policy, nothing ran\n" +
      '  - net "10.0.0.1": private, loopback, link-local or other non-public address (denied unless the operator\'s privateNet lists it)\n' +
      '  - env "API_KEY": not in the ceiling\'s env list (none)\n',
  );
});

Deno.test("conductor exec exits 2 on usage and config errors", async (t) => {
  const cases: [string[], RegExp, unknown?][] = [
    [["exec"], /Nothing to run/],
    [["exec", "-e", "1", "extra.ts"], /either -e CODE or a file/],
    [
      ["exec", "--bogus", "-e", "1"],
      /^conductor: Unknown option --bogus: see conductor exec --help\n$/,
    ],
    [
      ["exec", "--allow-net", "example.com", "-e", "1"],
      /not both \(a value of --allow-net goes after "=": --allow-net=VALUE\)/,
    ],
    [["exec", "--timeout", "soon", "-e", "1"], /Invalid duration "soon"/],
    [["exec", "--timeout", "0", "-e", "1"], /--timeout must be at least 1 ms/],
    [["exec", "--memory", "16", "-e", "1"], /--memory must be at least 64 MB/],
    [["exec", "--allow-run", "-e", "1"], /--allow-run needs a value/],
    [["exec", "--permissions", "{", "-e", "1"], /Invalid --permissions JSON/],
    [["exec", "--permissions", '{"read":"."}', "-e", "1"], /Invalid permissions\.read/],
    [["exec", "--dep", "lodash", "-e", "1"], /^conductor: Invalid dependency "lodash"/],
    [
      ["exec", "--allow-net=http://x.com", "-e", "1"],
      /permissions\.net\[0\] "http:\/\/x\.com": not a host/,
    ],
    [["exec", "--allow-sys=bogus", "-e", "1"], /permissions\.sys\[0\] "bogus": unknown sys API/],
    [["frobnicate"], /Unknown command "frobnicate"/],
    [["--bogus"], /^conductor: --bogus goes with a command: conductor <command> --bogus \.\.\.\n$/],
    // Read before the command too: this file does not exist.
    [["--config", "/nonexistent.jsonc", "exec", "-e", "1"], /\/nonexistent\.jsonc/],
    [["files", "ls", "abc", "extra"], /^conductor: Too many arguments: extra\n$/],
    [["files", "get", "abc", "a.txt", "b.txt"], /Too many arguments: b\.txt/],
    [["workspaces", "list", "X"], /^conductor: Too many arguments: X\n$/],
    [
      ["exec", "--allow-net", "example.com"],
      /Cannot read "example\.com".*\(a value of --allow-net goes after "=": --allow-net=VALUE\)/,
    ],
    [["exec", "-e", "1"], /Unknown key "ceilling"/, { ceilling: {} }],
    [
      ["exec", "-e", "1"],
      /^conductor: workspacesDir "\/dev\/null" cannot be used: it \(or a folder above it\) is not a folder\n$/,
      { workspacesDir: "/dev/null" },
    ],
    [["exec", "-e", "1"], /denoDir "\/dev\/null\/x" cannot be used/, { denoDir: "/dev/null/x" }],
    [["serve"], /workspacesDir "\/dev\/null" cannot be used/, { workspacesDir: "/dev/null" }],
    [
      ["install", "npm:is-number@7.0.0"],
      /workspacesDir "\/dev\/null" cannot be used/,
      { workspacesDir: "/dev/null" },
    ],
  ];
  for (const [args, message, config] of cases) {
    await t.step(args.join(" "), async () => {
      const r = await conductor(args, config ? { config } : {});
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, message);
    });
  }
});

Deno.test("files and workspaces commands on a workspaces folder not made yet: no such workspace", async (t) => {
  const config = { workspacesDir: "never-made" };
  for (const args of [["files", "ls", "abc"], ["files", "get", "abc", "x.txt"]]) {
    await t.step(args.join(" "), async () => {
      const r = await conductor(args, { config });
      assert.equal(r.code, 1, r.stderr);
      assert.equal(r.stderr, 'conductor: No workspace "abc"\n');
    });
  }
  await t.step("workspaces rm abc", async () => {
    const r = await conductor(["workspaces", "rm", "abc"], { config });
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.stderr, "[conductor] no workspace abc\n");
  });
});

Deno.test("conductor exec --json prints the ExecutionResult", async () => {
  const r = await conductor([
    "exec",
    "--json",
    "--timeout",
    "1s",
    "-e",
    "console.log('x'); while (true) {}",
  ]);
  assert.equal(r.code, 1);
  const result = JSON.parse(r.stdout);
  assert.equal(result.status, "timeout");
  assert.equal(result.stdout, "x\n");
  assert.deepEqual(result.error, { type: "timeout", message: "Timed out after 1000 ms" });
  assert.equal(result.signal, "SIGKILL");
  assert.deepEqual(Object.keys(result).sort(), [
    "conversationId",
    "durationMs",
    "error",
    "exitCode",
    "permissions",
    "signal",
    "status",
    "stderr",
    "stdout",
    "truncated",
  ]);
});

Deno.test("conductor exec --explain prints the plan exactly, and runs nothing", async () => {
  const r = await conductor([
    "exec",
    "--explain",
    "--conversation",
    "c1",
    "--allow-read=data",
    "--allow-net=api.github.com",
    "--memory",
    "128",
    "-e",
    "Deno.exit(9)",
  ], { config: { ceiling: { privateNet: ["127.0.0.1"] } } });
  const deno = Deno.execPath();
  const bootstrap = fromFileUrl(new URL("../src/bootstrap.js", import.meta.url));
  // The host's own interface addresses follow the private ranges.
  const ownAddresses = hostAddresses().filter((a) => !["[::1]", "[::]"].includes(a))
    .map((a) => `,${a}`).join("");
  assert.equal(r.code, 0);
  assert.equal(
    r.stdout,
    [
      "conversation: c1",
      "cwd: $DIR/ws/c1/files",
      'granted: {"net":["api.github.com"],"read":["$DIR/ws/c1/files/data"]}',
      "denied: none",
      "limits: timeoutMs=30000 memoryMb=128 stdoutBytes=1048576 stderrBytes=1048576",
      "env: CONDUCTOR_OWNER DENO_DIR DENO_EMIT_CACHE_MODE DENO_NO_UPDATE_CHECK HOME NO_COLOR NPM_CONFIG_REGISTRY PATH",
      `argv: ${deno} run --no-prompt --no-remote --cached-only --no-code-cache --no-config --no-lock --no-npm ` +
      "--v8-flags=--max-old-space-size=96 --allow-net=api.github.com --allow-read=$DIR/ws/c1/files/data " +
      "'--deny-net=0.0.0.0/8,10.0.0.0/8,100.64.0.0/10,127.0.0.0,127.0.0.2/31,127.0.0.4/30," +
      "127.0.0.8/29,127.0.0.16/28,127.0.0.32/27,127.0.0.64/26,127.0.0.128/25,127.0.1.0/24," +
      "127.0.2.0/23,127.0.4.0/22,127.0.8.0/21,127.0.16.0/20,127.0.32.0/19,127.0.64.0/18," +
      "127.0.128.0/17,127.1.0.0/16,127.2.0.0/15,127.4.0.0/14,127.8.0.0/13,127.16.0.0/12," +
      "127.32.0.0/11,127.64.0.0/10,127.128.0.0/9,169.254.0.0/16,172.16.0.0/12,192.0.0.0/24," +
      "192.0.2.0/24,192.168.0.0/16,198.18.0.0/15,198.51.100.0/24,203.0.113.0/24,224.0.0.0/4," +
      `240.0.0.0/4,[::1],[::],[fd00:ec2::254]${ownAddresses}' ${bootstrap}`,
      "",
    ].join("\n"),
  );
});

Deno.test("conductor exec --explain with upstream tools lists them, and exits", async () => {
  const upstream = fixtureUpstream("gh");
  // It hung before: planning starts the upstream servers, and nothing stopped them.
  const r = await conductor(
    ["exec", "--explain", "--allow-tools=gh.get_issue", "-e", "1"],
    { config: { mcpServers: { gh: upstream }, toolPolicy: { allow: ["gh.get_issue"] } } },
  );
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^tools: gh\.get_issue$/m);
});

Deno.test("conductor exec --explain exits 3 and lists denials for a refused request", async () => {
  const r = await conductor(["exec", "--explain", "--allow-read=../x", "--allow-all", "-e", "1"]);
  assert.equal(r.code, 3);
  assert.match(r.stdout, /denied:\n {2}- read "\.\.\/x": outside the conversation's files folder/);
  assert.match(
    r.stdout,
    / {2}- all "true": all is never granted unless the operator's config allows it/,
  );
});

Deno.test("conductor --help and exec --help describe the commands", async () => {
  const main = await conductor(["--help"]);
  assert.equal(main.code, 0);
  for (const command of ["serve", "exec", "install", "workspaces", "files"]) {
    assert.match(main.stdout, new RegExp(`\\n {2}${command} +[A-Z]`));
  }
  const exec = await conductor(["exec", "--help"]);
  assert.match(exec.stdout, /--allow-net\[=HOSTS\]/);
  assert.match(exec.stdout, /--explain/);
});

Deno.test("started without --allow-all, a command says so and exits 2; its help still shows", async () => {
  const run = async (args: string[]) => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--no-prompt", "--allow-read", "--allow-env", MAIN, ...args],
      env: { NO_COLOR: "1", CONDUCTOR_CONFIG: "" },
      stdin: "null",
    }).output();
    return {
      code: out.code,
      stdout: new TextDecoder().decode(out.stdout),
      stderr: new TextDecoder().decode(out.stderr),
    };
  };
  for (const command of ["exec", "serve"]) {
    const r = await run([command, ...(command === "exec" ? ["-e", "1"] : [])]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(
      r.stderr,
      /^conductor: the conductor must be started with --allow-all \(missing: write, net, run, ffi, sys\)/,
    );
    assert.doesNotMatch(r.stderr, /Uncaught|\n\s+at /);
  }
  const help = await run(["exec", "--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^Usage: conductor exec/);
});

Deno.test("conductor exec stops quietly when its reader goes away (| head)", async () => {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--no-prompt",
      ...CONDUCTOR_FLAGS,
      MAIN,
      "exec",
      "-e",
      "for (let i = 0; i < 100000; i++) console.log(i)",
    ],
    env: { NO_COLOR: "1", CONDUCTOR_CONFIG: "" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const reader = child.stdout.getReader();
  await reader.read();
  await reader.cancel(); // closes the pipe, as head does
  const [status, stderr] = await Promise.all([child.status, new Response(child.stderr).text()]);
  assert.equal(status.code, 0, "the code succeeded; its reader left early");
  assert.doesNotMatch(stderr, /BrokenPipe|Uncaught/, stderr);
});
