/**
 * Workspaces and the two-step dependency install, end to end with real child processes:
 * `Sandbox.execute` and `installDependencies` against a tiny npm registry on loopback
 * (tests/fixtures/npm_registry.ts), set as the config's `npmRegistry`.
 *
 * Everything that needs the registry is ONE Deno.test with steps.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { resolveConfig } from "../src/config.ts";
import type { ExecutionResult } from "../src/execution_result.ts";
import { installDependencies, type InstallResult } from "../src/installer.ts";
import { CHILD_NICE } from "../src/session_launcher.ts";
import {
  openWorkspace,
  packageCacheDir,
  readState,
  withWorkspaceLock,
  workspacePaths,
} from "../src/workspace.ts";
import { WorkspaceFileError, writeWorkspaceFile } from "../src/workspace_files.ts";
import { launcherBytes } from "../src/session_launcher.ts";
import { type FixturePackage, NpmRegistryFixture, packTarball } from "./fixtures/npm_registry.ts";
import { testSandbox } from "./helpers.ts";

const tmp = Deno.env.get("TMPDIR") ?? "/tmp";
const MARKER = join(tmp, `conductor-lifecycle-${crypto.randomUUID()}`);
const markerScript = (suffix: string) =>
  `node -e "require('fs').writeFileSync('${MARKER}-${suffix}','x')"`;
const MARKERS = ["preinstall", "install", "postinstall"].map((s) => `${MARKER}-${s}`);

const HELLO: FixturePackage = {
  name: "fixture-hello",
  version: "1.0.0",
  files: { "index.js": 'export const hello = (n) => "hello " + n; export default 42;\n' },
  manifest: { type: "module", main: "index.js" },
};
const POSTINSTALL: FixturePackage = {
  name: "fixture-postinstall",
  version: "1.0.0",
  files: { "index.js": 'export default "postinstall package loaded";\n' },
  manifest: { type: "module", main: "index.js" },
  scripts: {
    preinstall: markerScript("preinstall"),
    install: markerScript("install"),
    postinstall: markerScript("postinstall"),
  },
};
const READS_OWN_FILE: FixturePackage = {
  name: "fixture-reads-own-file",
  version: "1.0.0",
  files: {
    "index.js": [
      'import { readFileSync } from "node:fs";',
      'export const readData = () => readFileSync(new URL("./data.txt", import.meta.url), "utf8");',
      'export const readPath = (path) => readFileSync(path, "utf8");',
      "",
    ].join("\n"),
    "data.txt": "own data\n",
  },
  manifest: { type: "module", main: "index.js" },
};
const TAMPER: FixturePackage = {
  name: "fixture-tamper",
  version: "1.0.0",
  files: { "index.js": 'export default "original";\n' },
  manifest: { type: "module", main: "index.js" },
};

function describe(result: ExecutionResult): string {
  return JSON.stringify({ ...result, stdout: result.stdout.slice(0, 500) });
}

function assertSuccess(result: ExecutionResult, value: unknown): void {
  assert.equal(result.status, "success", describe(result));
  assert.deepEqual(result.returnValue, value, describe(result));
}

/** A permission denial raised inside the code: status error, type NotCapable. */
function assertNotCapable(result: ExecutionResult, message: RegExp): void {
  assert.equal(result.status, "error", describe(result));
  assert.equal(result.error?.type, "NotCapable", describe(result));
  assert.match(result.error?.message ?? "", message);
  assert.equal("returnValue" in result, false);
}

async function exists(path: string): Promise<boolean> {
  return await Deno.lstat(path).then(() => true, () => false);
}

async function sha256File(path: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", await Deno.readFile(path));
  return new Uint8Array(digest).toHex();
}

/** Where Deno unpacked `name@version` in DENO_DIR (whatever it named the registry folder). */
async function packageDir(denoDir: string, name: string, version: string): Promise<string> {
  const found: string[] = [];
  for await (const e of Deno.readDir(join(denoDir, "npm"))) {
    const dir = join(denoDir, "npm", e.name, name, version);
    if (await exists(join(dir, "package.json"))) found.push(dir);
  }
  assert.equal(found.length, 1, `${name}@${version} in ${denoDir}/npm: ${found.join(", ")}`);
  return found[0]!;
}

/** Registry folders, packages and versions in DENO_DIR/npm, as sorted relative paths. */
async function npmTree(denoDir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string, rel: string, depth: number) => {
    for await (const e of Deno.readDir(dir)) {
      const path = rel ? `${rel}/${e.name}` : e.name;
      out.push(path);
      if (e.isDirectory && depth < 3) await walk(join(dir, e.name), path, depth + 1);
    }
  };
  await walk(join(denoDir, "npm"), "", 0);
  return out.sort();
}

function lockEntries(lockText: string): Record<string, { integrity: string }> {
  return JSON.parse(lockText).npm ?? {};
}

async function noMarkers(): Promise<void> {
  for (const m of MARKERS) assert.equal(await exists(m), false, `${m} was written`);
}

Deno.test("a file written in one execution is read by the next in the same conversation, and is invisible to another", async (t) => {
  await using ts = await testSandbox();
  const rw = { read: ["."], write: ["."] };
  const secret = `secret-${crypto.randomUUID()}`;
  const aFiles = workspacePaths(ts.config.workspacesDir, "conv-a").filesDir;
  const secretPath = join(aFiles, "notes", "secret.txt");
  const secretUrl = new URL(`file://${secretPath}`).href;

  await t.step("written with write ['.'], read back by the next run", async () => {
    const write = await ts.sandbox.execute({
      code: `await Deno.mkdir("notes", { recursive: true });
        await Deno.writeTextFile("notes/secret.txt", ${JSON.stringify(secret)}); "written"`,
      conversationId: "conv-a",
      permissions: { write: ["."] },
    });
    assertSuccess(write, "written");
    const read = await ts.sandbox.execute({
      code: `await Deno.readTextFile("notes/secret.txt")`,
      conversationId: "conv-a",
      permissions: { read: ["."] },
    });
    assertSuccess(read, secret);
    assert.equal(await Deno.readTextFile(secretPath), secret);
  });

  await t.step("the same conversation imports its own file", async () => {
    const result = await ts.sandbox.execute({
      code: `const m = await import(${JSON.stringify(secretUrl)}, { with: { type: "text" } });
        m.default`,
      conversationId: "conv-a",
      permissions: { read: ["."] },
    });
    assertSuccess(result, secret);
  });

  await t.step("without a read grant the same conversation cannot read it either", async () => {
    const result = await ts.sandbox.execute({
      code: `await Deno.readTextFile("notes/secret.txt")`,
      conversationId: "conv-a",
    });
    assertNotCapable(result, /Requires read access to "notes\/secret\.txt"/);
  });

  await t.step("another conversation starts with an empty files folder", async () => {
    const result = await ts.sandbox.execute({
      code: `[...Deno.readDirSync(".")].map((e) => e.name)`,
      conversationId: "conv-b",
      permissions: rw,
    });
    assertSuccess(result, []);
  });

  await t.step("by path: NotCapable at run time", async (t) => {
    for (const path of [secretPath, "../../conv-a/files/notes/secret.txt"]) {
      await t.step(path.slice(0, 60), async () => {
        const result = await ts.sandbox.execute({
          code: `await Deno.readTextFile(${JSON.stringify(path)})`,
          conversationId: "conv-b",
          permissions: rw,
        });
        assertNotCapable(result, /Requires read access to/);
        assert.equal(JSON.stringify(result).includes(secret), false);
      });
    }
  });

  await t.step("by path: a grant of the other workspace is rejected before running", async (t) => {
    for (const path of [secretPath, aFiles, "../../conv-a/files", "../files/../../conv-a"]) {
      await t.step(path.slice(0, 60), async () => {
        const result = await ts.sandbox.execute({
          code: `await Deno.readTextFile(${JSON.stringify(secretPath)})`,
          conversationId: "conv-b",
          permissions: { read: [path] },
        });
        assert.equal(result.status, "rejected", describe(result));
        assert.equal(result.permissions.denied[0]?.kind, "read", describe(result));
        assert.equal(JSON.stringify(result).includes(secret), false);
      });
    }
  });

  await t.step("by import: static and dynamic imports of its file are NotCapable", async () => {
    const stat = await ts.sandbox.execute({
      code: `import s from ${JSON.stringify(secretUrl)} with { type: "text" }; s`,
      conversationId: "conv-b",
      permissions: rw,
    });
    assertNotCapable(stat, /Requires read access to/);
    const dynamic = await ts.sandbox.execute({
      code: `(await import(${JSON.stringify(secretUrl)}, { with: { type: "text" } })).default`,
      conversationId: "conv-b",
      permissions: rw,
    });
    assertNotCapable(dynamic, /Requires read access to/);
    assert.equal(JSON.stringify([stat, dynamic]).includes(secret), false);
  });

  await t.step("by localStorage and the Cache API: nothing crosses over", async () => {
    const store = await ts.sandbox.execute({
      code: `const out = {};
        try { localStorage.setItem("k", ${JSON.stringify(secret)}); out.ls = "stored"; }
        catch (e) { out.ls = "unavailable"; }
        try {
          const c = await caches.open("c");
          await c.put("https://x.test/k", new Response(${JSON.stringify(secret)}));
          out.cache = "stored";
        } catch (e) { out.cache = "unavailable"; }
        out`,
      conversationId: "conv-a",
      permissions: rw,
    });
    assert.equal(store.status, "success", describe(store));
    const load = await ts.sandbox.execute({
      code: `const out = {};
        try { out.ls = localStorage.getItem("k"); } catch { out.ls = null; }
        try {
          const hit = await (await caches.open("c")).match("https://x.test/k");
          out.cache = hit ? await hit.text() : null;
        } catch { out.cache = null; }
        out`,
      conversationId: "conv-b",
      permissions: rw,
    });
    assertSuccess(load, { ls: null, cache: null });
  });
});

Deno.test("a run that leaves its workspace over quota ends output_limit, is not trimmed, and blocks conductor writes", async () => {
  await using ts = await testSandbox({}, { workspaceQuotaMb: 1 });
  const result = await ts.sandbox.execute({
    code: `await Deno.writeFile("big.bin", new Uint8Array(1536 * 1024)); "done"`,
    conversationId: "quota",
    permissions: { write: ["."] },
  });
  // Written faster than the first measure during the run: the one at its end catches it.
  assert.equal(result.status, "output_limit", describe(result));
  assert.equal(result.returnValue, "done");
  assert.match(result.error!.message, /The workspace reached \d+ bytes; its quota is 1048576/);
  assert.equal(result.warnings?.length, 1, describe(result));
  // 1536 KiB of bytes, plus 4 KiB for the one file.
  assert.match(result.warnings![0]!, /holds 1576960 bytes, over its quota of 1048576/);
  const ws = await openWorkspace(ts.config.workspacesDir, "quota");
  assert.equal((await Deno.stat(join(ws.filesDir, "big.bin"))).size, 1536 * 1024);
  await assert.rejects(
    () => writeWorkspaceFile(ws, "more.txt", "x", { quotaBytes: ts.config.workspaceQuotaBytes }),
    (e: Error) => e instanceof WorkspaceFileError && /over its quota/.test(e.message),
  );
  // Under the quota, the same run reports nothing.
  const small = await ts.sandbox.execute({
    code: `await Deno.remove("big.bin"); await Deno.writeTextFile("s.txt", "s"); 1`,
    conversationId: "quota",
    permissions: { write: ["."] },
  });
  assertSuccess(small, 1);
  assert.equal(small.warnings, undefined, describe(small));
});

Deno.test("a run child is told the configured npm registry, without its credentials", async () => {
  await using ts = await testSandbox({ env: ["NPM_CONFIG_REGISTRY"] }, {
    npmRegistry: "http://user:s3cret-token@127.0.0.1:4873/npm",
  });
  const result = await ts.sandbox.execute({
    code: `Deno.env.get("NPM_CONFIG_REGISTRY")`,
    permissions: { env: ["NPM_CONFIG_REGISTRY"] },
  });
  assertSuccess(result, "http://127.0.0.1:4873/npm/");
  assert.equal(JSON.stringify(result).includes("s3cret"), false);
});

Deno.test("an install cancelled while it waits for the workspace's lock never starts its child", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // Nothing listens there: a child that started would fail with a connection error instead.
    const config = resolveConfig({
      workspacesDir: join(dir, "ws"),
      npmRegistry: "http://127.0.0.1:9/",
    });
    await Deno.mkdir(config.workspacesDir, { recursive: true });
    const ws = await openWorkspace(config.workspacesDir, "locked");
    const controller = new AbortController();
    let install: Promise<InstallResult> | undefined;
    await withWorkspaceLock(ws, async () => {
      install = installDependencies(config, ws, ["npm:fixture-hello@1.0.0"], {
        signal: controller.signal,
      });
      await new Promise((r) => setTimeout(r, 100));
      controller.abort();
    });
    const result = await install!;
    assert.equal(result.status, "install_error");
    assert.equal(result.message, "The install was stopped: cancelled");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("dependencies: install from a registry, import, isolation, poisoning, --frozen, policy", async (t) => {
  await using registry = await NpmRegistryFixture.start([HELLO, POSTINSTALL, READS_OWN_FILE]);
  const denoDir = await Deno.makeTempDir({ prefix: "conductor-install-deno-dir-" });
  const extraDirs = [denoDir];
  try {
    await using ts = await testSandbox({}, { denoDir, npmRegistry: registry.url });
    await ts.sandbox.init();
    const config = ts.config;
    const hello = await packTarball(HELLO);
    /** A conversation's own package cache (packages are installed per workspace). */
    const cacheOf = (id: string) => packageCacheDir(workspacePaths(config.workspacesDir, id));

    /** Requests the registry receives while `fn` runs. */
    const requestsDuring = async <T>(fn: () => Promise<T>): Promise<[T, string[]]> => {
      const before = registry.requests.length;
      const value = await fn();
      return [value, registry.requests.slice(before)];
    };

    // -------------------------------------------------------------------------------
    await t.step(
      "installDependencies() fetches, pins in the lockfile, and skips a repeat",
      async () => {
        const ws = await openWorkspace(config.workspacesDir, "hello");
        const [first, fetched] = await requestsDuring(() =>
          installDependencies(config, ws, ["npm:fixture-hello@1.0.0"])
        );
        assert.equal(first.status, "installed", JSON.stringify(first));
        assert.deepEqual(first.dependencies, ["npm:fixture-hello@1.0.0"]);
        assert.deepEqual(first.denied, []);
        assert.deepEqual(fetched, ["/fixture-hello", "/fixture-hello/-/fixture-hello-1.0.0.tgz"]);

        const lock = await Deno.readTextFile(join(ws.metaDir, "deno.lock"));
        assert.deepEqual(lockEntries(lock)["fixture-hello@1.0.0"]?.integrity, hello.integrity);
        assert.deepEqual(JSON.parse(lock).workspace.dependencies, ["npm:fixture-hello@1.0.0"]);
        const generated = JSON.parse(await Deno.readTextFile(join(ws.metaDir, "deno.json")));
        assert.equal(generated.nodeModulesDir, "none");
        assert.equal(generated.imports["fixture-hello"], "npm:fixture-hello@1.0.0");
        assert.deepEqual(readState(ws).dependencies, ["npm:fixture-hello@1.0.0"]);
        // Nothing of the install lands in files/, and no node_modules anywhere.
        assert.deepEqual([...Deno.readDirSync(ws.filesDir)], []);
        assert.equal(await exists(join(ws.metaDir, "node_modules")), false);
        assert.equal(await exists(join(ws.metaDir, "next.json")), false);
        assert.equal(await exists(join(ws.metaDir, "next.lock")), false);
        const pkg = await packageDir(cacheOf("hello"), "fixture-hello", "1.0.0");
        assert.match(await Deno.readTextFile(join(pkg, "index.js")), /"hello " \+ n/);

        const [again, refetched] = await requestsDuring(() =>
          installDependencies(config, ws, ["npm:fixture-hello@1.0.0"])
        );
        assert.equal(again.status, "skipped", JSON.stringify(again));
        assert.deepEqual(again.dependencies, ["npm:fixture-hello@1.0.0"]);
        assert.deepEqual(refetched, []);
        assert.equal(await Deno.readTextFile(join(ws.metaDir, "deno.lock")), lock);
      },
    );

    await t.step(
      "the workspace records the installed package's folder in its own cache",
      async () => {
        const ws = await openWorkspace(config.workspacesDir, "hello");
        assert.deepEqual(readState(ws).packageDirs, [
          await packageDir(cacheOf("hello"), "fixture-hello", "1.0.0"),
        ]);
        // Nothing is installed into the DENO_DIR that runs without dependencies share.
        assert.ok((await Deno.lstat(join(denoDir, "npm"))).isFile);
      },
    );

    await t.step(
      "code imports an installed package by bare name and by full specifier",
      async (t) => {
        const first = await ts.sandbox.execute({
          code: 'import { hello } from "fixture-hello"; hello("x")',
          conversationId: "import",
          dependencies: ["npm:fixture-hello@1.0.0"],
        });
        assertSuccess(first, "hello x");
        const cases: [string, string, unknown][] = [
          ["bare name", 'import { hello } from "fixture-hello"; hello("y")', "hello y"],
          ["full specifier", 'import n from "npm:fixture-hello@1.0.0"; n', 42],
          [
            "unversioned specifier",
            'import { hello } from "npm:fixture-hello"; hello("z")',
            "hello z",
          ],
          ["subpath", 'import n from "fixture-hello/index.js"; n', 42],
          ["dynamic import", '(await import("fixture-hello")).default', 42],
        ];
        for (const [name, code, value] of cases) {
          await t.step(name, async () => {
            const [result, during] = await requestsDuring(() =>
              ts.sandbox.execute({ code, conversationId: "import" })
            );
            assertSuccess(result, value);
            assert.deepEqual(during, [], "nothing is fetched at run time");
          });
        }
        await t.step(
          "the audit line names the code and the lockfile the run was given",
          async () => {
            await ts.sandbox.auditWritten();
            const lines = (await Deno.readTextFile(config.auditFile!)).trim().split("\n")
              .map((line) => JSON.parse(line))
              .filter((line) => line.conversationId === "import");
            const last = lines.at(-1);
            const code = cases.at(-1)![1];
            const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(code));
            assert.equal(last.codeSha256, new Uint8Array(digest).toHex());
            const { metaDir } = workspacePaths(config.workspacesDir, "import");
            assert.equal(last.lockfileSha256, await sha256File(join(metaDir, "deno.lock")));
          },
        );
      },
    );

    // -------------------------------------------------------------------------------
    await t.step(
      "a .npmrc the code writes in its workspace (its HOME) redirects neither runs nor installs",
      async () => {
        const trapped: string[] = [];
        const trap = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
          trapped.push(new URL(req.url).pathname);
          return new Response("{}", { status: 404 });
        });
        try {
          const url = `http://127.0.0.1:${trap.addr.port}/`;
          const npmrc = `registry=${url}\n//127.0.0.1:${trap.addr.port}/:_authToken=stolen\n`;
          const wrote = await ts.sandbox.execute({
            code: `await Deno.writeTextFile(".npmrc", ${JSON.stringify(npmrc)}); "written"`,
            conversationId: "npmrc",
            dependencies: ["npm:fixture-hello@1.0.0"],
            permissions: { write: ["."] },
          });
          assertSuccess(wrote, "written");
          const ran = await ts.sandbox.execute({
            code: 'import { hello } from "fixture-hello"; hello("r")',
            conversationId: "npmrc",
          });
          assertSuccess(ran, "hello r");
          const [installed, fetched] = await requestsDuring(() =>
            ts.sandbox.execute({
              code: 'import { hello } from "fixture-hello"; hello("i")',
              conversationId: "npmrc",
              dependencies: ["npm:fixture-hello@1.0.0", "npm:fixture-reads-own-file@1.0.0"],
            })
          );
          assertSuccess(installed, "hello i");
          assert.ok(fetched.includes("/fixture-reads-own-file"), JSON.stringify(fetched));
          assert.deepEqual(trapped, [], "nothing went to the registry the .npmrc names");
        } finally {
          await trap.shutdown();
        }
      },
    );

    // -------------------------------------------------------------------------------
    await t.step("lifecycle scripts of a package do not run at install", async () => {
      const ws = await openWorkspace(config.workspacesDir, "scripts");
      const result = await installDependencies(config, ws, ["npm:fixture-postinstall@1.0.0"]);
      assert.equal(result.status, "installed", JSON.stringify(result));
      await noMarkers();
    });

    await t.step("lifecycle scripts do not run when the package is imported either", async () => {
      const result = await ts.sandbox.execute({
        code: 'import m from "fixture-postinstall"; m',
        conversationId: "scripts",
        dependencies: ["npm:fixture-postinstall@1.0.0"],
        permissions: { write: ["."] },
      });
      assertSuccess(result, "postinstall package loaded");
      await noMarkers();
    });

    await t.step(
      "control: the same scripts do run for a project that opts in with --allow-scripts",
      async () => {
        const project = await Deno.makeTempDir({ prefix: "conductor-scripts-control-" });
        extraDirs.push(project);
        await Deno.writeTextFile(
          join(project, "deno.json"),
          JSON.stringify({
            nodeModulesDir: "auto",
            imports: { "fixture-postinstall": "npm:fixture-postinstall@1.0.0" },
          }),
        );
        await Deno.writeTextFile(join(project, "main.ts"), 'import "fixture-postinstall";\n');
        const out = await new Deno.Command(Deno.execPath(), {
          args: ["install", "--allow-scripts=npm:fixture-postinstall", "--entrypoint", "main.ts"],
          cwd: project,
          env: {
            NPM_CONFIG_REGISTRY: registry.url,
            DENO_DIR: join(project, ".deno"),
            NO_COLOR: "1",
          },
          stdin: "null",
          stdout: "piped",
          stderr: "piped",
        }).output();
        assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
        try {
          for (const m of MARKERS) assert.ok(await exists(m), `${m} was not written`);
        } finally {
          for (const m of MARKERS) await Deno.remove(m).catch(() => {});
        }
      },
    );

    // -------------------------------------------------------------------------------
    await t.step(
      "a package reads its own files, but the run reads nothing else of the cache",
      async (t) => {
        // Another conversation's package.
        const helloDir = await packageDir(cacheOf("hello"), "fixture-hello", "1.0.0");
        const installed = await ts.sandbox.execute({
          code: "1",
          conversationId: "own-file",
          dependencies: ["npm:fixture-reads-own-file@1.0.0"],
        });
        assertSuccess(installed, 1);
        const ownDir = await packageDir(cacheOf("own-file"), "fixture-reads-own-file", "1.0.0");

        await t.step(
          "allowed: the package reads its data file; the code may read that folder",
          async () => {
            const result = await ts.sandbox.execute({
              code: `import { readData } from "fixture-reads-own-file"; readData()`,
              conversationId: "own-file",
            });
            assertSuccess(result, "own data\n");
            assert.deepEqual(result.permissions.granted.read, [ownDir]);
            const direct = await ts.sandbox.execute({
              code: `await Deno.readTextFile(${JSON.stringify(join(ownDir, "data.txt"))})`,
              conversationId: "own-file",
            });
            assertSuccess(direct, "own data\n");
          },
        );
        await t.step(
          "denied: the package itself cannot read another package's folder",
          async () => {
            const result = await ts.sandbox.execute({
              code: `import { readPath } from "fixture-reads-own-file";
              readPath(${JSON.stringify(join(helloDir, "index.js"))})`,
              conversationId: "own-file",
            });
            assertNotCapable(result, /Requires read access to ".*fixture-hello.*index\.js"/);
          },
        );
        const denied: [string, string][] = [
          [
            "another package's folder",
            `await Deno.readTextFile(${JSON.stringify(join(helloDir, "index.js"))})`,
          ],
          ["the shared DENO_DIR root", `[...Deno.readDirSync(${JSON.stringify(denoDir)})]`],
          ["its DENO_DIR root", `[...Deno.readDirSync(${JSON.stringify(cacheOf("own-file"))})]`],
          [
            "the npm cache root",
            `[...Deno.readDirSync(${JSON.stringify(join(cacheOf("own-file"), "npm"))})]`,
          ],
          [
            "the package's registry metadata next to it",
            `await Deno.readTextFile(${JSON.stringify(join(ownDir, "..", "registry.json"))})`,
          ],
        ];
        for (const [name, code] of denied) {
          await t.step(`denied: the code reads ${name}`, async () => {
            const result = await ts.sandbox.execute({ code, conversationId: "own-file" });
            assertNotCapable(result, /Requires read access to/);
          });
        }
        // Deno lets require() (and package code) read anything in its DENO_DIR's npm cache
        // with no permission: with one cache for all, any run read every conversation's
        // packages. Each workspace has its own now, and runs without packages none.
        const viaRequire = `import { createRequire } from "node:module";
          createRequire(${JSON.stringify(join(helloDir, "x.js"))})("./package.json").name`;
        for (const conversationId of ["own-file", "no-packages"]) {
          await t.step(
            `denied: require() of another conversation's package (${conversationId})`,
            async () => {
              const result = await ts.sandbox.execute({ code: viaRequire, conversationId });
              assertNotCapable(result, /Requires read access to/);
            },
          );
        }
      },
    );

    // -------------------------------------------------------------------------------
    await t.step(
      "dependency poisoning: a run cannot modify the package, lockfile, import map or cache",
      async (t) => {
        const install = await ts.sandbox.execute({
          code: "1",
          conversationId: "poison",
          dependencies: ["npm:fixture-hello@1.0.0"],
        });
        assertSuccess(install, 1);
        const ws = await openWorkspace(config.workspacesDir, "poison");
        const pkg = await packageDir(cacheOf("poison"), "fixture-hello", "1.0.0");
        const watched = [
          join(pkg, "index.js"),
          join(pkg, "package.json"),
          join(ws.metaDir, "deno.lock"),
          join(ws.metaDir, "deno.json"),
          join(pkg, "..", "registry.json"),
        ];
        const before = await Promise.all(watched.map(sha256File));
        const stateBefore = readState(ws);
        const npmBefore = await npmTree(cacheOf("poison"));
        const evilModule = 'export const hello = () => "pwned"; export default 666;';
        const q = JSON.stringify;
        const attempts: [string, string, RegExp][] = [
          [
            "overwrite the package's main module",
            `await Deno.writeTextFile(${q(join(pkg, "index.js"))}, ${q(evilModule)})`,
            /Requires write access to ".*index\.js"/,
          ],
          [
            "append to it with node:fs",
            `(await import("node:fs")).appendFileSync(${q(join(pkg, "index.js"))}, "\\nthrow 1;")`,
            /Requires write access to ".*index\.js"/,
          ],
          [
            "delete its package.json",
            `await Deno.remove(${q(join(pkg, "package.json"))})`,
            /Requires write access to ".*package\.json"/,
          ],
          [
            "add a module to the package folder",
            `await Deno.writeTextFile(${q(join(pkg, "evil.js"))}, ${q(evilModule)})`,
            /Requires write access to ".*evil\.js"/,
          ],
          [
            "move the package folder into files/",
            `await Deno.rename(${q(pkg)}, "./stolen")`,
            /Requires (read|write) access to/,
          ],
          [
            "rewrite the lockfile",
            `await Deno.writeTextFile(${q(join(ws.metaDir, "deno.lock"))}, "{}")`,
            /Requires write access to ".*deno\.lock"/,
          ],
          [
            "point the import map elsewhere",
            `await Deno.writeTextFile(${q(join(ws.metaDir, "deno.json"))}, ${
              q(JSON.stringify({
                imports: { "fixture-hello": "data:text/javascript,export default 666" },
              }))
            })`,
            /Requires write access to ".*deno\.json"/,
          ],
          [
            "rewrite the bookkeeping",
            `await Deno.writeTextFile(${q(join(ws.metaDir, "state.json"))}, "{}")`,
            /Requires write access to ".*state\.json"/,
          ],
          [
            "rewrite the cached registry metadata",
            `await Deno.writeTextFile(${q(join(pkg, "..", "registry.json"))}, "{}")`,
            /Requires write access to ".*registry\.json"/,
          ],
          [
            "create a folder in DENO_DIR",
            `await Deno.mkdir(${q(join(denoDir, "npm", "evil"))})`,
            /Requires write access to/,
          ],
          [
            "replace the session launcher every child is started through",
            `await Deno.writeTextFile(${
              q(join(denoDir, "conductor-session-launcher"))
            }, "#!/bin/sh\\nid\\n")`,
            /Requires write access to ".*conductor-session-launcher"/,
          ],
          [
            "remove DENO_DIR/location_data (to turn localStorage back on)",
            `await Deno.remove(${q(join(denoDir, "location_data"))})`,
            /Requires write access to ".*location_data"/,
          ],
          [
            "link the package into files/",
            `await Deno.symlink(${q(pkg)}, "./pkg-link")`,
            /symlink|Requires (read|write) access/,
          ],
        ];
        let n = 0;
        for (const [name, action, message] of attempts) {
          const allowed = `allowed-${++n}.txt`;
          await t.step(name, async () => {
            const result = await ts.sandbox.execute({
              code: `await Deno.writeTextFile(${q(allowed)}, "ok");\n${action};\n"done"`,
              conversationId: "poison",
              permissions: { read: ["."], write: ["."] },
            });
            assertNotCapable(result, message);
            // The allowed half of the same run: its own files folder is writable.
            assert.equal(await Deno.readTextFile(join(ws.filesDir, allowed)), "ok");
          });
        }

        await t.step(
          "the package, lockfile, import map and cache are byte-for-byte the same",
          async () => {
            assert.deepEqual(await Promise.all(watched.map(sha256File)), before);
            assert.equal(await exists(join(pkg, "evil.js")), false);
            assert.equal(await exists(join(ws.filesDir, "stolen")), false);
            assert.equal(await exists(join(ws.filesDir, "pkg-link")), false);
            assert.deepEqual(await npmTree(cacheOf("poison")), npmBefore);
            // Top level: only Deno's own caches (which Deno itself writes) may have appeared.
            for (const e of Deno.readDirSync(denoDir)) {
              assert.match(
                e.name,
                /^(npm|gen|location_data|conductor-session-launcher|\w+_cache_v\d+(-shm|-wal|-journal)?)$/,
              );
            }
            if (Deno.build.arch === "x86_64") {
              const launcher = await Deno.readFile(join(denoDir, "conductor-session-launcher"));
              assert.deepEqual(launcher, launcherBytes());
            }
            assert.ok((await Deno.lstat(join(denoDir, "location_data"))).isFile);
            const stateAfter = readState(ws);
            assert.deepEqual(stateAfter.dependencies, stateBefore.dependencies);
            assert.equal(stateAfter.installHash, stateBefore.installHash);
          },
        );

        await t.step(
          "another workspace installing the same package gets the original",
          async () => {
            const other = await openWorkspace(config.workspacesDir, "poison-other");
            const result = await installDependencies(config, other, ["npm:fixture-hello@1.0.0"]);
            assert.equal(result.status, "installed", JSON.stringify(result));
            const lock = await Deno.readTextFile(join(other.metaDir, "deno.lock"));
            assert.equal(lockEntries(lock)["fixture-hello@1.0.0"]?.integrity, hello.integrity);
          },
        );

        await t.step(
          "the next run in this and in another workspace imports the original package",
          async () => {
            const code = 'import n, { hello } from "fixture-hello"; [hello("x"), n]';
            assertSuccess(await ts.sandbox.execute({ code, conversationId: "poison" }), [
              "hello x",
              42,
            ]);
            assertSuccess(
              await ts.sandbox.execute({
                code,
                conversationId: "poison-other",
                dependencies: ["npm:fixture-hello@1.0.0"],
              }),
              ["hello x", 42],
            );
          },
        );
      },
    );

    // -------------------------------------------------------------------------------
    await t.step(
      "frozen: a dependency list the lockfile does not pin fails clearly, fetching nothing",
      async (t) => {
        await t.step("allowed: the pinned set is accepted and nothing is fetched", async () => {
          const ws = await openWorkspace(config.workspacesDir, "hello");
          const [result, fetched] = await requestsDuring(() =>
            installDependencies(config, ws, ["npm:fixture-hello@1.0.0"], { frozen: true })
          );
          assert.equal(result.status, "skipped", JSON.stringify(result));
          assert.deepEqual(fetched, []);
          const [run, during] = await requestsDuring(() =>
            ts.sandbox.execute({
              code: "1",
              conversationId: "hello",
              dependencies: ["npm:fixture-hello@1.0.0"],
              frozen: true,
            })
          );
          assertSuccess(run, 1);
          assert.deepEqual(during, []);
        });
        const cases: [string, string, string[], RegExp][] = [
          [
            "a package added",
            "hello",
            ["npm:fixture-hello@1.0.0", "npm:fixture-reads-own-file@1.0.0"],
            /not locked: npm:fixture-reads-own-file@1\.0\.0; locked but not requested: none/,
          ],
          [
            "a version changed",
            "hello",
            ["npm:fixture-hello@2.0.0"],
            /not locked: npm:fixture-hello@2\.0\.0; locked but not requested: npm:fixture-hello@1\.0\.0/,
          ],
          ["no lockfile yet", "frozen-fresh", ["npm:fixture-hello@1.0.0"], /\(no lockfile\)/],
        ];
        for (const [name, conversationId, dependencies, detail] of cases) {
          await t.step(name, async () => {
            const lockPath = join(config.workspacesDir, conversationId, "meta", "deno.lock");
            const lockBefore = await Deno.readTextFile(lockPath).catch(() => undefined);
            const [result, fetched] = await requestsDuring(() =>
              ts.sandbox.execute({ code: "1", conversationId, dependencies, frozen: true })
            );
            assert.equal(result.status, "install_error", describe(result));
            assert.match(
              result.error?.message ?? "",
              /^--frozen: the lockfile does not match the dependencies/,
            );
            assert.match(result.error?.message ?? "", detail);
            assert.match(result.error?.message ?? "", /nothing was fetched/);
            assert.equal(result.error?.stack, undefined);
            assert.deepEqual(fetched, [], "the registry saw no request");
            assert.equal(await Deno.readTextFile(lockPath).catch(() => undefined), lockBefore);
          });
        }
      },
    );

    // -------------------------------------------------------------------------------
    await t.step(
      "a package that is not installed fails fast with a hint to install it",
      async (t) => {
        const hint = /Hint: only installed packages can be imported\. Install it first/;
        const cases: [string, string, string][] = [
          ["a bare name, no dependencies", "hint-empty", 'import x from "fixture-hello"; x'],
          [
            "an npm: specifier, no dependencies",
            "hint-empty",
            'import x from "npm:fixture-hello@1.0.0"; x',
          ],
          ["another bare name", "hello", 'import x from "fixture-other"; x'],
          ["another package by specifier", "hello", 'import x from "npm:fixture-other@1.0.0"; x'],
          [
            "another version of an installed package",
            "hello",
            'import x from "npm:fixture-hello@2.0.0"; x',
          ],
        ];
        for (const [name, conversationId, code] of cases) {
          await t.step(name, async () => {
            const [result, fetched] = await requestsDuring(() =>
              ts.sandbox.execute({ code, conversationId })
            );
            assert.equal(result.status, "error", describe(result));
            assert.match(result.error?.message ?? "", hint, describe(result));
            assert.deepEqual(fetched, [], "nothing is fetched at run time");
          });
        }
      },
    );

    // -------------------------------------------------------------------------------
    await t.step(
      "install errors come back as install_error with the registry's words",
      async (t) => {
        const cases: [string, string, RegExp][] = [
          [
            "unknown package",
            "npm:fixture-nope@1.0.0",
            /npm package 'fixture-nope' does not exist/,
          ],
          [
            "unknown version",
            "npm:fixture-hello@9.9.9",
            /Could not find npm package 'fixture-hello' matching '9\.9\.9'/,
          ],
        ];
        for (const [name, spec, message] of cases) {
          await t.step(name, async () => {
            const ws = await openWorkspace(config.workspacesDir, "hello");
            const lockBefore = await Deno.readTextFile(join(ws.metaDir, "deno.lock"));
            const result = await ts.sandbox.execute({
              code: "1",
              conversationId: "hello",
              dependencies: [spec],
            });
            assert.equal(result.status, "install_error", describe(result));
            assert.equal(result.error?.type, "InstallError");
            assert.match(result.error?.message ?? "", message);
            assert.doesNotMatch(result.error?.message ?? "", /Stack backtrace|\n\s+at file:/);
            assert.equal(result.error?.stack, undefined);
            // The workspace keeps what it had.
            assert.equal(await Deno.readTextFile(join(ws.metaDir, "deno.lock")), lockBefore);
            assert.deepEqual(readState(ws).dependencies, ["npm:fixture-hello@1.0.0"]);
            assert.equal(await exists(join(ws.metaDir, "next.json")), false);
          });
        }

        await t.step("a jsr: dependency: the registry is unreachable, said quickly", async () => {
          const started = performance.now();
          const result = await ts.sandbox.execute({
            code: "1",
            conversationId: "jsr",
            dependencies: ["jsr:@std/path@1.0.8"],
          });
          assert.equal(result.status, "install_error", describe(result));
          assert.match(result.error?.message ?? "", /jsr registry could not be reached/i);
          assert.match(result.error?.message ?? "", /@std\/path/);
          assert.ok(performance.now() - started < 20_000, "no hang");
        });
      },
    );

    // -------------------------------------------------------------------------------
    await t.step(
      "a tarball that no longer matches the lockfile's checksum is an install_error",
      async (t) => {
        await registry.publish(TAMPER);
        const ws = await openWorkspace(config.workspacesDir, "tamper");
        const first = await installDependencies(config, ws, ["npm:fixture-tamper@1.0.0"]);
        assert.equal(first.status, "installed", JSON.stringify(first));
        const lockBefore = await Deno.readTextFile(join(ws.metaDir, "deno.lock"));
        const original = await packTarball(TAMPER);
        assert.equal(
          lockEntries(lockBefore)["fixture-tamper@1.0.0"]?.integrity,
          original.integrity,
        );

        // Same name and version, other contents (metadata updated to match the new tarball).
        await registry.publish({
          ...TAMPER,
          files: { "index.js": 'export default "tampered";\n' },
        });
        // The workspace's cache emptied: as on a machine that never fetched the package.
        const emptyCache = () => Deno.remove(cacheOf("tamper"), { recursive: true });
        const assertRefused = async (result: InstallResult) => {
          assert.equal(result.status, "install_error", JSON.stringify(result));
          assert.match(
            result.message ?? "",
            /Tarball checksum did not match what was provided by npm registry for fixture-tamper@1\.0\.0/,
          );
          assert.equal(await Deno.readTextFile(join(ws.metaDir, "deno.lock")), lockBefore);
          assert.deepEqual(readState(ws).dependencies, ["npm:fixture-tamper@1.0.0"]);
          const npm = join(cacheOf("tamper"), "npm");
          const registries = await Array.fromAsync(Deno.readDir(npm)).catch(() => []);
          for (const e of registries) {
            const cached = join(npm, e.name, "fixture-tamper", "1.0.0", "index.js");
            assert.equal(await exists(cached), false, "the tampered package is not in the cache");
          }
        };

        await t.step("adding a package on a machine with an empty cache", async () => {
          await emptyCache();
          await assertRefused(
            await installDependencies(config, ws, ["npm:fixture-hello@1.0.0"]),
          );
        });
        await t.step(
          "installing the same set on a machine with an empty cache (also --frozen)",
          async () => {
            for (const frozen of [false, true]) {
              await emptyCache();
              await assertRefused(
                await installDependencies(config, ws, ["npm:fixture-tamper@1.0.0"], { frozen }),
              );
            }
          },
        );
      },
    );

    // -------------------------------------------------------------------------------
    await t.step(
      "a tarball whose extraction fails midway leaves nothing unpacked in the cache",
      async () => {
        // A megabyte unpacked, then an entry that leaves the package: Deno stops there.
        await registry.publish({
          name: "fixture-half",
          version: "1.0.0",
          files: { "big.bin": new Uint8Array(1 << 20), "../../escape.txt": "x" },
          manifest: { main: "big.bin" },
        });
        const ws = await openWorkspace(config.workspacesDir, "half");
        for (const _ of [1, 2]) {
          const result = await installDependencies(config, ws, ["npm:fixture-half@1.0.0"]);
          assert.equal(result.status, "install_error", JSON.stringify(result));
        }
        const left: string[] = [];
        for await (const reg of Deno.readDir(join(cacheOf("half"), "npm"))) {
          const dir = join(cacheOf("half"), "npm", reg.name, "fixture-half");
          for (const e of await Array.fromAsync(Deno.readDir(dir)).catch(() => [])) {
            if (e.name !== "registry.json") left.push(e.name);
          }
        }
        assert.deepEqual(left, []);
      },
    );

    // -------------------------------------------------------------------------------
    await t.step(
      "frozen: a lockfile copied in with another hash is refused",
      async () => {
        const installed = workspacePaths(config.workspacesDir, "hello");
        const goodLock = await Deno.readTextFile(join(installed.metaDir, "deno.lock"));
        // The new workspace's own cache is empty: Deno hashes the download against it.
        const tampered = JSON.parse(goodLock);
        tampered.npm["fixture-hello@1.0.0"].integrity = `sha512-${"A".repeat(86)}==`;
        const ws = await openWorkspace(config.workspacesDir, "ci-tampered");
        await Deno.writeTextFile(join(ws.metaDir, "deno.lock"), JSON.stringify(tampered));
        const refused = await installDependencies(config, ws, ["npm:fixture-hello@1.0.0"], {
          frozen: true,
        });
        assert.equal(refused.status, "install_error", JSON.stringify(refused));
        assert.match(
          refused.message ?? "",
          /Tarball checksum did not match .* for fixture-hello@1\.0\.0/,
        );
        assert.deepEqual(readState(ws).dependencies, [], "nothing was installed");
        // The same lockfile as made: installed.
        const good = await openWorkspace(config.workspacesDir, "ci-good");
        await Deno.writeTextFile(join(good.metaDir, "deno.lock"), goodLock);
        const ok = await installDependencies(config, good, ["npm:fixture-hello@1.0.0"], {
          frozen: true,
        });
        assert.equal(ok.status, "installed", JSON.stringify(ok));
      },
    );

    // -------------------------------------------------------------------------------
    await t.step(
      "policy: an allowlist with requirePinned refuses other packages and ranges",
      async (t) => {
        await using strict = await testSandbox({}, {
          denoDir,
          npmRegistry: registry.url,
          dependencies: { allow: ["fixture-hello"], requirePinned: true },
        });
        const cases: [string, string[], string, RegExp][] = [
          [
            "a package outside the allowlist",
            ["npm:fixture-reads-own-file@1.0.0"],
            "npm:fixture-reads-own-file@1.0.0",
            /package "fixture-reads-own-file" is not in the allowlist \(fixture-hello\)/,
          ],
          [
            "a name that only starts like an allowed one",
            ["npm:fixture-helloworld@1.0.0"],
            "npm:fixture-helloworld@1.0.0",
            /not in the allowlist/,
          ],
          [
            "a range",
            ["npm:fixture-hello@^1.0.0"],
            "npm:fixture-hello@^1.0.0",
            /an exact version is required, e\.g\. npm:fixture-hello@1\.2\.3/,
          ],
          [
            "no version",
            ["npm:fixture-hello"],
            "npm:fixture-hello",
            /an exact version is required/,
          ],
          [
            "one bad entry among good ones",
            ["npm:fixture-hello@1.0.0", "npm:fixture-postinstall@1.0.0"],
            "npm:fixture-postinstall@1.0.0",
            /not in the allowlist/,
          ],
        ];
        for (const [name, dependencies, value, reason] of cases) {
          await t.step(name, async () => {
            const [result, fetched] = await requestsDuring(() =>
              strict.sandbox.execute({ code: "1", conversationId: "strict", dependencies })
            );
            assert.equal(result.status, "rejected", describe(result));
            assert.equal(result.permissions.denied.length, 1, describe(result));
            const denial = result.permissions.denied[0]!;
            assert.equal(denial.kind, "dependency");
            assert.equal(denial.value, value);
            assert.match(denial.reason, reason);
            assert.ok(result.error?.message.includes(JSON.stringify(value)), describe(result));
            assert.deepEqual(fetched, [], "nothing is fetched");

            const ws = await openWorkspace(strict.config.workspacesDir, "direct");
            const direct = await installDependencies(strict.config, ws, dependencies);
            assert.equal(direct.status, "rejected");
            assert.deepEqual(direct.denied, [denial]);
            assert.match(direct.message ?? "", /^Refused by policy: /);
          });
        }
        await t.step("allowed: the pinned, allowed package installs", async () => {
          const ws = await openWorkspace(strict.config.workspacesDir, "direct");
          const result = await installDependencies(strict.config, ws, ["npm:fixture-hello@1.0.0"]);
          assert.equal(result.status, "installed", JSON.stringify(result));
          const run = await strict.sandbox.execute({
            code: "1",
            conversationId: "strict",
            dependencies: ["npm:fixture-hello@1.0.0"],
          });
          assertSuccess(run, 1);
        });
        await t.step("allowed: and imports", async () => {
          const run = await strict.sandbox.execute({
            code: 'import { hello } from "fixture-hello"; hello("p")',
            conversationId: "strict",
            dependencies: ["npm:fixture-hello@1.0.0"],
          });
          assertSuccess(run, "hello p");
        });
      },
    );

    // -------------------------------------------------------------------------------
    await t.step(
      "a run's install holds an execution slot: past maxQueue, a second is Busy",
      async () => {
        await using one = await testSandbox({}, {
          denoDir,
          npmRegistry: registry.url,
          maxConcurrent: 1,
          maxQueue: 0,
        });
        // A package nobody installed yet: the first run's install must reach the registry.
        await registry.publish({ ...HELLO, name: "fixture-slot" });
        registry.delayMs = 300;
        try {
          const run = (conversationId: string) =>
            one.sandbox.execute({
              code: 'import { hello } from "fixture-slot"; hello("slot")',
              conversationId,
              dependencies: ["npm:fixture-slot@1.0.0"],
            });
          const first = run("slot-a");
          await new Promise((r) => setTimeout(r, 100)); // the first is installing now
          const second = await run("slot-b");
          assert.equal(second.status, "rejected", JSON.stringify(second));
          assert.equal(second.error?.type, "Busy");
          assertSuccess(await first, "hello slot");
        } finally {
          registry.delayMs = 0;
        }
      },
    );

    // -------------------------------------------------------------------------------
    await t.step(
      "a run cancelled during its install is cancelled, not an install error",
      async () => {
        await using one = await testSandbox({}, { denoDir, npmRegistry: registry.url });
        await registry.publish({ ...HELLO, name: "fixture-cancel" });
        registry.delayMs = 3000;
        try {
          const abort = new AbortController();
          const run = one.sandbox.execute({
            code: 'import { hello } from "fixture-cancel"; hello("x")',
            conversationId: "cancel-install",
            dependencies: ["npm:fixture-cancel@1.0.0"],
          }, { signal: abort.signal });
          await new Promise((r) => setTimeout(r, 300)); // the install waits on the registry now
          abort.abort();
          const result = await run;
          assert.equal(result.status, "cancelled", JSON.stringify(result));
          assert.equal(result.error?.type, "cancelled");
        } finally {
          registry.delayMs = 0;
        }
      },
    );

    // -------------------------------------------------------------------------------
    await t.step("two installs at once in one workspace are serialized and both kept", async () => {
      registry.delayMs = 150;
      try {
        const [a, b] = await Promise.all([
          openWorkspace(config.workspacesDir, "race"),
          openWorkspace(config.workspacesDir, "race"),
        ]);
        const results = await Promise.all([
          installDependencies(config, a, ["npm:fixture-hello@1.0.0"]),
          installDependencies(config, b, ["npm:fixture-reads-own-file@1.0.0"]),
        ]);
        for (const r of results) assert.equal(r.status, "installed", JSON.stringify(r));
        const both = ["npm:fixture-hello@1.0.0", "npm:fixture-reads-own-file@1.0.0"];
        assert.deepEqual(readState(a).dependencies, both);
        const lock = JSON.parse(await Deno.readTextFile(join(a.metaDir, "deno.lock")));
        assert.deepEqual(lock.workspace.dependencies, both);
        assert.deepEqual(Object.keys(lock.npm).sort(), [
          "fixture-hello@1.0.0",
          "fixture-reads-own-file@1.0.0",
        ]);
        const generated = JSON.parse(await Deno.readTextFile(join(a.metaDir, "deno.json")));
        assert.equal(generated.imports["fixture-hello"], both[0]);
        assert.equal(generated.imports["fixture-reads-own-file"], both[1]);
        // The lockfile is valid for a frozen run of both.
        const again = await installDependencies(config, a, both, { frozen: true });
        assert.equal(again.status, "skipped", JSON.stringify(again));
      } finally {
        registry.delayMs = 0;
      }
    });
  } finally {
    for (const dir of extraDirs) await Deno.remove(dir, { recursive: true }).catch(() => {});
    for (const m of MARKERS) await Deno.remove(m).catch(() => {});
  }
});

Deno.test("an install child starts through the session launcher: its own session, a lower priority", async () => {
  await using registry = await NpmRegistryFixture.start([HELLO]);
  registry.delayMs = 1500; // long enough to look at the child while it waits
  await using ts = await testSandbox({}, { npmRegistry: registry.url });
  await ts.sandbox.init();
  const ws = await openWorkspace(ts.config.workspacesDir, "niced");
  const install = installDependencies(ts.config, ws, ["npm:fixture-hello@1.0.0"]);
  let seen: string[] | undefined;
  for (let i = 0; i < 100 && !seen; i++) {
    await new Promise((r) => setTimeout(r, 20));
    for (const entry of Deno.readDirSync("/proc")) {
      if (!/^\d+$/.test(entry.name)) continue;
      const cwd = await Deno.readLink(`/proc/${entry.name}/cwd`).catch(() => "");
      if (cwd !== ws.metaDir) continue;
      const stat = await Deno.readTextFile(`/proc/${entry.name}/stat`).catch(() => "");
      if (stat) seen = [entry.name, ...stat.slice(stat.lastIndexOf(")") + 2).split(" ")];
    }
  }
  assert.ok(seen, "no install child seen");
  const [pid, , , , sid] = seen;
  const own = Number(
    (await Deno.readTextFile("/proc/self/stat")).split(") ")[1]!.split(" ")[16],
  );
  assert.equal(sid, pid, "the leader of its own session");
  assert.equal(Number(seen[17]), Math.max(own, CHILD_NICE));
  assert.equal((await install).status, "installed");
});
