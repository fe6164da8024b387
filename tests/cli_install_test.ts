/**
 * `conductor install`, `exec --dep/--frozen`, `workspaces` and `files` as a user runs them:
 * real `deno run` processes sharing one config and workspaces folder, against the npm
 * registry fixture on loopback, which the config names as `npmRegistry`.
 */
import assert from "node:assert/strict";
import { withoutDenoDownloads } from "./helpers.ts";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type FixturePackage, NpmRegistryFixture } from "./fixtures/npm_registry.ts";

const MAIN = fileURLToPath(new URL("../main.ts", import.meta.url));

const HELLO: FixturePackage = {
  name: "fixture-hello",
  version: "1.0.0",
  files: { "index.js": 'export const hello = (n) => "hello " + n; export default 42;\n' },
  manifest: { type: "module", main: "index.js" },
};

/** What a conductor process needs from this environment (no registry settings). */
const passThrough = Object.fromEntries(
  ["PATH", "HOME", "TMPDIR", "DENO_DIR", "NODE_EXTRA_CA_CERTS", "DENO_CERT"]
    .map((name) => [name, Deno.env.get(name)])
    .filter(([, value]) => value !== undefined),
);

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** A config and workspaces folder that several conductor commands share. */
async function cliEnv(config: Record<string, unknown> = {}, registry?: NpmRegistryFixture) {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "conductor-cli-install-" }));
  const workspacesDir = join(dir, "ws");
  await Deno.writeTextFile(
    join(dir, "conductor.jsonc"),
    JSON.stringify({
      workspacesDir,
      denoDir: join(dir, "deno-dir"),
      ...(registry ? { npmRegistry: registry.url } : {}),
      ...config,
    }),
  );
  const run = async (args: string[], stdin?: string): Promise<Run> => {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "--no-prompt", "--allow-all", MAIN, ...args],
      cwd: dir,
      stdin: stdin === undefined ? "null" : "piped",
      stdout: "piped",
      stderr: "piped",
      // A fixed environment: with --parallel, another test module's env must not leak in.
      clearEnv: true,
      env: { ...passThrough, NO_COLOR: "1" },
    }).spawn();
    if (stdin !== undefined) {
      const w = child.stdin.getWriter();
      await w.write(new TextEncoder().encode(stdin));
      await w.close();
    }
    const out = await child.output();
    return {
      code: out.code,
      stdout: new TextDecoder().decode(out.stdout),
      stderr: withoutDenoDownloads(new TextDecoder().decode(out.stderr)),
    };
  };
  return {
    dir,
    workspacesDir,
    run,
    async [Symbol.asyncDispose]() {
      await Deno.remove(dir, { recursive: true });
    },
  };
}

function show(r: Run): string {
  return `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;
}

Deno.test("conductor install, then exec imports the package; --frozen runs offline and refuses a changed list", async (t) => {
  await using registry = await NpmRegistryFixture.start([HELLO]);
  await using cli = await cliEnv({}, registry);
  const importHello = 'import { hello } from "fixture-hello"; hello("x")';

  await t.step("install prints progress and the result on stderr, exit 0", async () => {
    const r = await cli.run(["install", "--conversation", "c1", "npm:fixture-hello@1.0.0"]);
    assert.equal(r.code, 0, show(r));
    assert.equal(r.stdout, "");
    assert.match(r.stderr, /^\[conductor\] Installing npm:fixture-hello@1\.0\.0\n/);
    assert.match(
      r.stderr,
      /\[conductor\] installed in conversation c1: npm:fixture-hello@1\.0\.0\n$/,
    );
    assert.ok(await Deno.stat(join(cli.workspacesDir, "c1", "meta", "deno.lock")));
  });

  await t.step("installing it again is 'already installed' and fetches nothing", async () => {
    const before = registry.requests.length;
    const r = await cli.run(["install", "--conversation", "c1", "npm:fixture-hello@1.0.0"]);
    assert.equal(r.code, 0, show(r));
    assert.match(r.stderr, /already installed in conversation c1: npm:fixture-hello@1\.0\.0/);
    assert.deepEqual(registry.requests.slice(before), []);
  });

  await t.step("install --json prints the result record", async () => {
    const r = await cli.run([
      "install",
      "--json",
      "--conversation",
      "c1",
      "npm:fixture-hello@1.0.0",
    ]);
    assert.equal(r.code, 0, show(r));
    const result = JSON.parse(r.stdout);
    assert.equal(result.conversationId, "c1");
    assert.equal(result.status, "skipped");
    assert.deepEqual(result.dependencies, ["npm:fixture-hello@1.0.0"]);
  });

  await t.step("exec in that conversation imports it by name and prints its value", async () => {
    const r = await cli.run(["exec", "--conversation", "c1", "-e", importHello]);
    assert.equal(r.code, 0, show(r));
    assert.equal(r.stdout, '"hello x"\n');
  });

  await t.step("exec --dep SPEC --frozen with the pinned set runs, fetching nothing", async () => {
    const before = registry.requests.length;
    const r = await cli.run([
      "exec",
      "--conversation",
      "c1",
      "--dep",
      "npm:fixture-hello@1.0.0",
      "--frozen",
      "-e",
      importHello,
    ]);
    assert.equal(r.code, 0, show(r));
    assert.equal(r.stdout, '"hello x"\n');
    assert.deepEqual(registry.requests.slice(before), []);
  });

  await t.step(
    "exec --frozen with a dependency the lockfile lacks exits 1 and fetches nothing",
    async () => {
      const before = registry.requests.length;
      const r = await cli.run([
        "exec",
        "--conversation",
        "c1",
        "--dep",
        "npm:fixture-other@1.0.0",
        "--frozen",
        "-e",
        "1",
      ]);
      assert.equal(r.code, 1, show(r));
      assert.equal(r.stdout, "");
      assert.match(
        r.stderr,
        /\[conductor\] install_error: InstallError: --frozen: the lockfile does not match the dependencies \(not locked: npm:fixture-other@1\.0\.0; locked but not requested: none\); nothing was fetched/,
      );
      assert.deepEqual(registry.requests.slice(before), []);
    },
  );

  await t.step("install --frozen with another version exits 1 with the message", async () => {
    const before = registry.requests.length;
    const r = await cli.run([
      "install",
      "--frozen",
      "--conversation",
      "c1",
      "npm:fixture-hello@2.0.0",
    ]);
    assert.equal(r.code, 1, show(r));
    assert.match(
      r.stderr,
      /\[conductor\] install_error: --frozen: the lockfile does not match the dependencies \(not locked: npm:fixture-hello@2\.0\.0; locked but not requested: npm:fixture-hello@1\.0\.0\)/,
    );
    assert.deepEqual(registry.requests.slice(before), []);
  });

  await t.step("install of an unknown package exits 1 with the registry's message", async () => {
    const r = await cli.run(["install", "--conversation", "c2", "npm:fixture-nope@1.0.0"]);
    assert.equal(r.code, 1, show(r));
    assert.match(
      r.stderr,
      /\[conductor\] install_error: npm package 'fixture-nope' does not exist/,
    );
    assert.doesNotMatch(r.stderr, /Stack backtrace|\n\s+at /);
  });

  await t.step(
    "install usage errors exit 2, a malformed specifier too",
    async () => {
      const none = await cli.run(["install", "--conversation", "c1"]);
      assert.equal(none.code, 2, show(none));
      assert.match(none.stderr, /Nothing to install/);
      const bad = await cli.run(["install", "--conversation", "c1", "lodash"]);
      assert.equal(bad.code, 2, show(bad));
      assert.match(
        bad.stderr,
        /^conductor: Invalid dependency "lodash": expected npm:NAME@VERSION/,
      );
    },
  );

  await t.step(
    "install without --conversation that is malformed or fails leaves no new workspace",
    async () => {
      const before = [...Deno.readDirSync(cli.workspacesDir)].map((e) => e.name).sort();
      const malformed = await cli.run(["install", "lodash"]);
      assert.equal(malformed.code, 2, show(malformed));
      const failed = await cli.run(["install", "npm:fixture-nope@1.0.0"]);
      assert.equal(failed.code, 1, show(failed));
      assert.deepEqual([...Deno.readDirSync(cli.workspacesDir)].map((e) => e.name).sort(), before);
    },
  );

  await t.step(
    "install --conversation with a hostile id exits 2 with a clear message",
    async () => {
      const r = await cli.run(["install", "--conversation", "../x", "npm:fixture-hello@1.0.0"]);
      assert.equal(r.code, 2, show(r));
      assert.match(r.stderr, /^conductor: Invalid conversation id "\.\.\/x"/);
      assert.doesNotMatch(r.stderr, /\n\s+at /);
    },
  );
});

Deno.test("conductor install exits 3 when the package policy refuses, naming the entry", async () => {
  await using registry = await NpmRegistryFixture.start([HELLO]);
  await using cli = await cliEnv(
    { dependencies: { allow: ["fixture-hello"], requirePinned: true } },
    registry,
  );
  const refused = await cli.run([
    "install",
    "--conversation",
    "p",
    "npm:fixture-hello@^1.0.0",
    "npm:fixture-evil@1.0.0",
  ]);
  assert.equal(refused.code, 3, show(refused));
  assert.match(
    refused.stderr,
    /\[conductor\] rejected: Refused by policy: "npm:fixture-hello@\^1\.0\.0": an exact version is required.*; "npm:fixture-evil@1\.0\.0": package "fixture-evil" is not in the allowlist \(fixture-hello\)/,
  );
  assert.deepEqual(registry.requests, []);
  const allowed = await cli.run(["install", "--conversation", "p", "npm:fixture-hello@1.0.0"]);
  assert.equal(allowed.code, 0, show(allowed));
});

Deno.test("conductor workspaces list, rm and gc", async (t) => {
  await using cli = await cliEnv({ workspaceTtlHours: 0 });

  await t.step("list and gc before any workspace exists", async () => {
    const list = await cli.run(["workspaces", "list"]);
    assert.equal(list.code, 0, show(list));
    assert.equal(list.stderr, "[conductor] no workspaces\n");
    const gc = await cli.run(["workspaces", "gc", "--json"]);
    assert.equal(gc.code, 0, show(gc));
    assert.deepEqual(JSON.parse(gc.stdout), { removed: [] });
  });

  await t.step("list shows each workspace with its size", async () => {
    for (const [id, text] of [["alpha", "12345"], ["beta", "x"]] as const) {
      const put = await cli.run(["files", "put", id, "f.txt", "-"], text);
      assert.equal(put.code, 0, show(put));
    }
    const list = await cli.run(["workspaces", "list"]);
    assert.equal(list.code, 0, show(list));
    const lines = list.stdout.trim().split("\n").sort();
    assert.equal(lines.length, 2, list.stdout);
    assert.match(lines[0]!, /^alpha {2}5 B {2}last used \d{4}-\d\d-\d\dT/);
    assert.match(lines[1]!, /^beta {2}1 B {2}last used /);
    const json = await cli.run(["workspaces", "list", "--json"]);
    const parsed = JSON.parse(json.stdout) as { id: string; sizeBytes: number }[];
    assert.deepEqual(parsed.map((w) => [w.id, w.sizeBytes]).sort(), [["alpha", 5], ["beta", 1]]);
  });

  await t.step("rm deletes one workspace; a missing one exits 1; a bad id exits 2", async () => {
    const rm = await cli.run(["workspaces", "rm", "beta"]);
    assert.equal(rm.code, 0, show(rm));
    assert.equal(rm.stderr, "[conductor] deleted beta\n");
    const again = await cli.run(["workspaces", "rm", "beta"]);
    assert.equal(again.code, 1, show(again));
    assert.equal(again.stderr, "[conductor] no workspace beta\n");
    const bad = await cli.run(["workspaces", "rm", "../alpha"]);
    assert.equal(bad.code, 2, show(bad));
    assert.match(bad.stderr, /Invalid conversation id "\.\.\/alpha"/);
    const list = await cli.run(["workspaces", "list", "--json"]);
    assert.deepEqual(JSON.parse(list.stdout).map((w: { id: string }) => w.id), ["alpha"]);
  });

  await t.step("gc deletes idle workspaces, but not one a running process works in", async () => {
    const put = await cli.run(["files", "put", "busy", "f.txt", "-"], "b");
    assert.equal(put.code, 0, show(put));
    const sleeper = new Deno.Command("sleep", {
      args: ["30"],
      cwd: join(cli.workspacesDir, "busy", "files"),
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    try {
      const gc = await cli.run(["workspaces", "gc", "--json"]);
      assert.equal(gc.code, 0, show(gc));
      assert.deepEqual(JSON.parse(gc.stdout), { removed: ["alpha"] });
    } finally {
      sleeper.kill("SIGKILL");
      await sleeper.status;
    }
    const gc = await cli.run(["workspaces", "gc"]);
    assert.equal(gc.code, 0, show(gc));
    assert.equal(gc.stderr, "[conductor] deleted 1 idle workspaces\n");
    const list = await cli.run(["workspaces", "list", "--json"]);
    assert.deepEqual(JSON.parse(list.stdout), []);
  });

  await t.step("usage errors exit 2", async () => {
    const r = await cli.run(["workspaces", "frob"]);
    assert.equal(r.code, 2, show(r));
    assert.match(r.stderr, /Unknown workspaces command "frob"/);
  });
});

Deno.test("conductor files put, ls and get move text and binary files in and out", async (t) => {
  await using cli = await cliEnv({ workspaceQuotaMb: 1, readFileMaxBytes: 1024 });

  await t.step("put from stdin and from a file; ls lists them", async () => {
    const fromStdin = await cli.run(["files", "put", "c1", "notes/a.txt", "-"], "h\u00e9llo\n");
    assert.equal(fromStdin.code, 0, show(fromStdin));
    assert.equal(fromStdin.stderr, "[conductor] wrote 7 bytes to c1:notes/a.txt\n");
    const source = join(cli.dir, "source.txt");
    await Deno.writeTextFile(source, "from a file");
    const fromFile = await cli.run(["files", "put", "c1", "b.txt", source]);
    assert.equal(fromFile.code, 0, show(fromFile));

    const ls = await cli.run(["files", "ls", "c1"]);
    assert.equal(ls.code, 0, show(ls));
    assert.equal(
      ls.stdout,
      "-       11 B  b.txt\n" +
        "d        0 B  notes\n" +
        "-        7 B  notes/a.txt\n",
    );
    const json = await cli.run(["files", "ls", "c1", "--json"]);
    assert.deepEqual(JSON.parse(json.stdout), {
      entries: [
        { path: "b.txt", type: "file", sizeBytes: 11 },
        { path: "notes", type: "directory", sizeBytes: 0 },
        { path: "notes/a.txt", type: "file", sizeBytes: 7 },
      ],
      truncated: false,
    });
  });

  await t.step("get prints a text file exactly", async () => {
    const r = await cli.run(["files", "get", "c1", "notes/a.txt"]);
    assert.equal(r.code, 0, show(r));
    assert.equal(r.stdout, "h\u00e9llo\n");
  });

  await t.step(
    "binary: put --base64, get refuses without --base64, round-trips with it",
    async () => {
      const bytes = new Uint8Array(300).map((_, i) => (i * 13 + 7) % 256);
      const put = await cli.run(["files", "put", "c1", "bin.dat", "--base64"], bytes.toBase64());
      assert.equal(put.code, 0, show(put));
      assert.deepEqual(
        await Deno.readFile(join(cli.workspacesDir, "c1", "files", "bin.dat")),
        bytes,
      );
      const plain = await cli.run(["files", "get", "c1", "bin.dat"]);
      assert.equal(plain.code, 1, show(plain));
      assert.match(plain.stderr, /"bin\.dat" is binary: use --base64/);
      const b64 = await cli.run(["files", "get", "c1", "bin.dat", "--base64"]);
      assert.equal(b64.code, 0, show(b64));
      assert.deepEqual(Uint8Array.fromBase64(b64.stdout.trim()), bytes);
    },
  );

  await t.step("binary: put from a file copies it byte for byte", async () => {
    // Bytes that are not UTF-8: a text read would turn them into U+FFFD.
    const bytes = new Uint8Array(256).map((_, i) => 255 - i);
    const source = join(cli.dir, "source.bin");
    await Deno.writeFile(source, bytes);
    const put = await cli.run(["files", "put", "c1", "copy.bin", source]);
    assert.equal(put.code, 0, show(put));
    assert.equal(put.stderr, "[conductor] wrote 256 bytes to c1:copy.bin\n");
    assert.deepEqual(
      await Deno.readFile(join(cli.workspacesDir, "c1", "files", "copy.bin")),
      bytes,
    );
  });

  await t.step(
    "code in that conversation reads the file put in, and writes one to get out",
    async () => {
      const r = await cli.run([
        "exec",
        "--conversation",
        "c1",
        "--allow-read",
        "--allow-write",
        "-e",
        'const t = await Deno.readTextFile("notes/a.txt"); await Deno.writeTextFile("out.txt", t.toUpperCase()); t',
      ]);
      assert.equal(r.code, 0, show(r));
      assert.equal(r.stdout, '"h\u00e9llo\\n"\n');
      const out = await cli.run(["files", "get", "c1", "out.txt"]);
      assert.equal(out.stdout, "H\u00c9LLO\n");
    },
  );

  await t.step(
    "refused: traversal, absolute paths, missing files, too big to read, over the quota",
    async () => {
      const cases: [string[], string | undefined, number, RegExp][] = [
        [["put", "c1", "../x.txt", "-"], "x", 1, /outside the workspace's files folder/],
        [["put", "c1", "../../escape.txt", "-"], "x", 1, /outside the workspace's files folder/],
        [["get", "c1", "../meta/state.json"], undefined, 1, /outside the workspace's files folder/],
        [["get", "c1", "missing.txt"], undefined, 1, /no such file in the workspace/],
        [["ls", "nope"], undefined, 1, /No workspace "nope"/],
        [["put", "../c1", "a.txt", "-"], "x", 2, /Invalid conversation id/],
      ];
      for (const [args, stdin, code, message] of cases) {
        const r = await cli.run(["files", ...args], stdin);
        assert.equal(r.code, code, `${args.join(" ")}: ${show(r)}`);
        assert.match(r.stderr, message);
      }
      assert.equal(
        await Deno.lstat(join(cli.workspacesDir, "c1", "x.txt")).catch(() => null),
        null,
      );
      assert.equal(await Deno.lstat(join(cli.workspacesDir, "escape.txt")).catch(() => null), null);
      // An absolute path never reaches the host file it names (refused, or kept in files/).
      const host = join(cli.dir, "host.txt");
      await cli.run(["files", "put", "c1", host, "-"], "x");
      assert.equal(await Deno.lstat(host).catch(() => null), null);

      const big = "x".repeat(2000);
      const put = await cli.run(["files", "put", "c1", "big.txt", "-"], big);
      assert.equal(put.code, 0, show(put));
      const get = await cli.run(["files", "get", "c1", "big.txt"]);
      assert.equal(get.code, 1, show(get));
      assert.match(get.stderr, /it is 2000 bytes, over the limit of 1024/);

      const huge = await cli.run(["files", "put", "c1", "huge.txt", "-"], "y".repeat(1024 * 1024));
      assert.equal(huge.code, 1, show(huge));
      assert.match(
        huge.stderr,
        /Cannot write "huge\.txt": the workspace would hold \d+ bytes, over its quota of 1048576/,
      );
      const ls = await cli.run(["files", "ls", "c1", "--json"]);
      assert.equal(
        JSON.parse(ls.stdout).entries.some((e: { path: string }) => e.path === "huge.txt"),
        false,
      );
    },
  );
});
