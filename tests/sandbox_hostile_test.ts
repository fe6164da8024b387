/**
 * Hostile code against the sandbox, with real child processes. Each test ends by checking
 * that the same sandbox still runs `1 + 1`.
 */
import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import type { ExecutionResult } from "../src/execution_result.ts";
import { resolveConfig } from "../src/config.ts";
import { Sandbox } from "../src/sandbox.ts";
import { hostAddresses } from "../src/host_addresses.ts";
import { AS_NOBODY, loopbackServer, sharedDenoDir, testSandbox } from "./helpers.ts";

/** The files folder of a conversation, created before the run so the test can seed it. */
async function filesDirOf(workspacesDir: string, conversationId: string): Promise<string> {
  const dir = join(await Deno.realPath(workspacesDir), conversationId, "files");
  await Deno.mkdir(dir, { recursive: true });
  return dir;
}

function describe(result: ExecutionResult): string {
  return JSON.stringify({ ...result, stdout: result.stdout.slice(0, 500) });
}

function assertStatus(result: ExecutionResult, status: string): void {
  assert.equal(result.status, status, describe(result));
}

/** A permission denial raised inside the code: status error, type NotCapable. */
function assertNotCapable(result: ExecutionResult, kind: string): void {
  assertStatus(result, "error");
  assert.equal(result.error?.type, "NotCapable", describe(result));
  assert.match(result.error?.message ?? "", new RegExp(`Requires ${kind} access`));
  assert.equal("returnValue" in result, false);
}

/** The shared check after each hostile case: the sandbox still runs code. */
async function assertHealthy(sandbox: Sandbox): Promise<void> {
  const result = await sandbox.execute({ code: "1 + 1" });
  assertStatus(result, "success");
  assert.equal(result.returnValue, 2);
}

function fileUrl(path: string): string {
  return new URL(`file://${path}`).href;
}

// ---------------------------------------------------------------------------------------
// Static imports of local files

/** Whether the tests run as root and can run a program as `nobody`. */
const canRunAsNobody = Deno.uid() === 0 &&
  await new Deno.Command("setpriv", { args: [...AS_NOBODY, "/bin/true"] }).output()
    .then((out) => out.success, () => false);

Deno.test({
  name: "a setuid program that code with write access makes cannot be run by another user: " +
    "workspaces are private to the conductor's user",
  // Shown as ignored, not passed, where it cannot run.
  ignore: !canRunAsNobody,
}, async () => {
  await using ts = await testSandbox();
  // A workspaces folder others may enter, as /var/lib or a checkout would be.
  await Deno.chmod(ts.dir, 0o755);
  const first = await ts.sandbox.execute({ code: "1", conversationId: "suid" });
  assert.equal(first.status, "success", JSON.stringify(first));
  const program = join(ts.dir, "suid", "files", "id");
  await Deno.copyFile("/usr/bin/id", program);
  const result = await ts.sandbox.execute({
    code: `Deno.chmodSync("id", 0o4755); Deno.chmodSync(".", 0o777); "planted"`,
    conversationId: "suid",
    permissions: { write: ["."] },
  });
  // Deno lets code chmod what it may write, setuid bit included.
  assert.equal(result.status, "success", JSON.stringify(result));
  assert.equal((await Deno.stat(program)).mode! & 0o4000, 0o4000);
  // Through a shell: setpriv keeps its capabilities up to its own exec, which would let
  // it through any folder; the shell has none left.
  const asNobody = await new Deno.Command("setpriv", {
    args: [...AS_NOBODY, "/bin/sh", "-c", '"$0" -u', program],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const said = new TextDecoder().decode(asNobody.stdout).trim();
  assert.notEqual(said, "0", "nobody ran the planted program as root");
  assert.ok(!asNobody.success);
  assert.match(new TextDecoder().decode(asNobody.stderr), /Permission denied/);
  // The conductor's own user still runs what its code made.
  const asOwner = await new Deno.Command(program, { args: ["-u"], stdout: "piped" }).output();
  assert.equal(new TextDecoder().decode(asOwner.stdout).trim(), String(Deno.uid()));
});

Deno.test("a statically imported host file is refused without a read grant; a granted file in the files folder imports", async (t) => {
  await using ts = await testSandbox();
  const conversationId = "hostile-import";
  const files = await filesDirOf(ts.config.workspacesDir, conversationId);
  await Deno.writeTextFile(join(files, "inside.txt"), "inside text");
  await Deno.writeTextFile(join(files, "inside.json"), '{"inside": "json"}');
  const outside = await Deno.makeTempDir({ prefix: "conductor-outside-" });
  const secretJson = join(outside, "secret.json");
  await Deno.writeTextFile(secretJson, '{"secret": "outside-json-secret"}');
  const hostname = (await Deno.readTextFile("/etc/hostname")).trim();
  const importCode = (path: string, type: "text" | "json") =>
    `import s from ${JSON.stringify(fileUrl(path))} with { type: "${type}" };\ns`;

  /** Refused: an error naming the read access, and nothing of the file comes back. */
  const assertRefused = (result: ExecutionResult, path: string, secret: string) => {
    assertStatus(result, "error");
    assert.ok(
      result.error?.message.includes(`Requires read access to "${path}"`),
      describe(result),
    );
    assert.equal("returnValue" in result, false);
    if (secret) assert.equal(JSON.stringify(result).includes(secret), false);
  };

  try {
    await t.step("/etc/hostname as text, no grant: refused", async () => {
      const result = await ts.sandbox.execute({
        code: importCode("/etc/hostname", "text"),
        conversationId,
      });
      assertRefused(result, "/etc/hostname", hostname.length >= 4 ? hostname : "");
    });

    await t.step("a JSON file outside the workspace, no grant: refused", async () => {
      const result = await ts.sandbox.execute({
        code: importCode(secretJson, "json"),
        conversationId,
      });
      assertRefused(result, secretJson, "outside-json-secret");
    });

    await t.step("a JSON file outside the workspace, files folder granted: refused", async () => {
      const result = await ts.sandbox.execute({
        code: importCode(secretJson, "json"),
        conversationId,
        permissions: { read: ["."] },
      });
      assertRefused(result, secretJson, "outside-json-secret");
    });

    await t.step("a dynamic import of the outside JSON file, no grant: refused", async () => {
      const result = await ts.sandbox.execute({
        code: `(await import(${
          JSON.stringify(fileUrl(secretJson))
        }, { with: { type: "json" } })).default`,
        conversationId,
      });
      assertRefused(result, secretJson, "outside-json-secret");
    });

    await t.step("a file inside the files folder, no grant: refused", async () => {
      const path = join(files, "inside.json");
      const result = await ts.sandbox.execute({ code: importCode(path, "json"), conversationId });
      assertRefused(result, path, "");
    });

    await t.step("a text file inside the files folder, read granted: imported", async () => {
      const result = await ts.sandbox.execute({
        code: importCode(join(files, "inside.txt"), "text"),
        conversationId,
        permissions: { read: ["inside.txt"] },
      });
      assertStatus(result, "success");
      assert.equal(result.returnValue, "inside text");
    });

    await t.step("a JSON file inside the files folder, read granted: imported", async () => {
      const result = await ts.sandbox.execute({
        code: importCode(join(files, "inside.json"), "json"),
        conversationId,
        permissions: { read: ["."] },
      });
      assertStatus(result, "success");
      assert.deepEqual(result.returnValue, { inside: "json" });
    });
  } finally {
    await Deno.remove(outside, { recursive: true });
  }
  await assertHealthy(ts.sandbox);
});

Deno.test({
  name: "a statically imported file without a read grant is reported as NotCapable",
  async fn() {
    await using ts = await testSandbox();
    const outside = await Deno.makeTempDir({ prefix: "conductor-outside-" });
    try {
      const secretJson = join(outside, "secret.json");
      await Deno.writeTextFile(secretJson, '{"secret": "outside-json-secret"}');
      for (
        const [path, type] of [["/etc/hostname", "text"], [secretJson, "json"]] as const
      ) {
        const result = await ts.sandbox.execute({
          code: `import s from ${JSON.stringify(fileUrl(path))} with { type: "${type}" };\ns`,
        });
        assertNotCapable(result, "read");
      }
    } finally {
      await Deno.remove(outside, { recursive: true });
    }
    await assertHealthy(ts.sandbox);
  },
});

// ---------------------------------------------------------------------------------------
// Symlinks

Deno.test("a symlink inside a granted folder that leads outside is rejected, and the denial names the symlink", async (t) => {
  await using ts = await testSandbox();
  const conversationId = "hostile-symlink";
  const files = await filesDirOf(ts.config.workspacesDir, conversationId);
  await Deno.writeTextFile(join(files, "data.txt"), "inside");
  const outside = await Deno.makeTempDir({ prefix: "conductor-outside-" });
  await Deno.writeTextFile(join(outside, "secret.txt"), "outside-symlink-secret");
  const readThrough = `console.log("ran"); Deno.readTextFileSync("escape/secret.txt")`;

  try {
    await t.step("control: before the symlink exists, the granted folder is readable", async () => {
      const result = await ts.sandbox.execute({
        code: `Deno.readTextFileSync("data.txt")`,
        conversationId,
        permissions: { read: ["."] },
      });
      assertStatus(result, "success");
      assert.equal(result.returnValue, "inside");
    });

    await Deno.symlink(outside, join(files, "escape"));

    for (const kind of ["read", "write"] as const) {
      await t.step(`${kind} of the folder holding the symlink: rejected`, async () => {
        const result = await ts.sandbox.execute({
          code: readThrough,
          conversationId,
          permissions: { [kind]: ["."] },
        });
        assertStatus(result, "rejected");
        assert.equal(result.stdout, "");
        const denial = result.permissions.denied.find((d) => d.kind === kind);
        assert.ok(denial, describe(result));
        assert.equal(denial.value, files);
        assert.match(denial.reason, /symlink/);
        assert.ok(denial.reason.includes(join(files, "escape")), denial.reason);
        assert.match(result.error?.message ?? "", /symlink/);
      });
    }

    await t.step("read of the symlink itself: rejected, the reason names the symlink", async () => {
      const result = await ts.sandbox.execute({
        code: readThrough,
        conversationId,
        permissions: { read: ["escape"] },
      });
      assertStatus(result, "rejected");
      const denial = result.permissions.denied.find((d) => d.kind === "read");
      assert.ok(denial, describe(result));
      assert.match(denial.reason, /symlink/);
      assert.equal(JSON.stringify(result).includes("outside-symlink-secret"), false);
    });

    await t.step("no grant: reading through the symlink is NotCapable", async () => {
      const result = await ts.sandbox.execute({ code: readThrough, conversationId });
      assertNotCapable(result, "read");
      assert.equal(result.stdout, "ran\n");
    });
  } finally {
    await Deno.remove(outside, { recursive: true });
  }
  await assertHealthy(ts.sandbox);
});

// ---------------------------------------------------------------------------------------
// Network

/** Fetches a URL; a wrapped connect error is unwrapped so that its reason is reported. */
function fetchCode(url: string): string {
  return `let body;
try {
  body = await (await fetch(${JSON.stringify(url)})).text();
} catch (error) {
  throw (error as Error).cause ?? error;
}
body`;
}

Deno.test("a granted folder's symlinks may lead only where the ceiling allows that kind, never to conductor files or nowhere", async (t) => {
  const dir = await Deno.realPath(await Deno.makeTempDir());
  try {
    const ro = join(dir, "ro");
    const scratch = join(dir, "scratch");
    const outside = join(dir, "outside");
    for (const d of [ro, scratch, outside]) await Deno.mkdir(d);
    await Deno.writeTextFile(join(ro, "ref.txt"), "original");
    const rw = { read: [ro, scratch], write: [scratch] };
    await using ts = await testSandbox(rw);
    const overwrite = `Deno.writeTextFileSync(${
      JSON.stringify(join(scratch, "ref", "ref.txt"))
    }, "changed"); 1`;

    await t.step("control: write to the scratch folder without the link", async () => {
      const r = await ts.sandbox.execute({ code: "1", permissions: { write: [scratch] } });
      assertStatus(r, "success");
    });
    await Deno.symlink(ro, join(scratch, "ref"));
    await t.step("a write grant holding a link into a read-only folder: rejected", async () => {
      const r = await ts.sandbox.execute({ code: overwrite, permissions: { write: [scratch] } });
      assertStatus(r, "rejected");
      assert.match(r.error?.message ?? "", /symlink .*ref.* leads outside/);
      assert.equal(await Deno.readTextFile(join(ro, "ref.txt")), "original");
    });
    await t.step(
      "control: a read grant may follow it (the ceiling allows reading there)",
      async () => {
        const r = await ts.sandbox.execute({
          code: `Deno.readTextFileSync(${JSON.stringify(join(scratch, "ref", "ref.txt"))})`,
          permissions: { read: [scratch] },
        });
        assertStatus(r, "success");
        assert.equal(r.returnValue, "original");
      },
    );
    await Deno.remove(join(scratch, "ref"));
    await Deno.symlink(join(outside, "new.txt"), join(scratch, "out"));
    await t.step(
      "a link to nothing: rejected (a write through it creates its target)",
      async () => {
        const r = await ts.sandbox.execute({
          code: `Deno.copyFileSync(${JSON.stringify(join(ro, "ref.txt"))}, ${
            JSON.stringify(join(scratch, "out"))
          }); 1`,
          permissions: { write: [scratch], read: [ro] },
        });
        assertStatus(r, "rejected");
        assert.match(r.error?.message ?? "", /leads nowhere/);
        assert.equal(await Deno.lstat(join(outside, "new.txt")).catch(() => undefined), undefined);
      },
    );
    await Deno.remove(join(scratch, "out"));

    // A ceiling folder holding the workspaces, and a link to them beside.
    const root = join(dir, "srvroot");
    await Deno.mkdir(join(root, "data"), { recursive: true });
    await using shared = await testSandbox({ read: [root] }, { workspacesDir: join(root, "ws") });
    const secret = await shared.sandbox.execute({
      code: `Deno.writeTextFileSync("private.txt", "victim"); 1`,
      conversationId: "victim",
      permissions: { write: ["."] },
    });
    assertStatus(secret, "success");
    await Deno.symlink(join(root, "ws"), join(root, "data", "l"));
    await t.step("a link to the conductor's own files: rejected", async () => {
      const r = await shared.sandbox.execute({
        code: `Deno.readTextFileSync(${
          JSON.stringify(join(root, "data", "l", "victim", "files", "private.txt"))
        })`,
        conversationId: "attacker",
        permissions: { read: [join(root, "data")] },
      });
      assertStatus(r, "rejected");
      assert.match(r.error?.message ?? "", /conductor's own files/);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("fetch with net: true to every spelling of loopback is denied under the default ceiling", async (t) => {
  await using ts = await testSandbox();
  // Control: the same code reaches both servers once the operator opens loopback.
  await using opened = await testSandbox({ privateNet: ["127.0.0.1", "[::1]"] });
  await using v4 = loopbackServer();
  await using v6 = Deno.serve(
    { hostname: "::1", port: 0, onListen: () => {} },
    () => new Response("pong6"),
  );
  const targets: [string, number, string][] = [
    ["127.0.0.1", v4.port, "pong"],
    ["127.1", v4.port, "pong"],
    ["0x7f000001", v4.port, "pong"],
    ["2130706433", v4.port, "pong"],
    ["[::ffff:127.0.0.1]", v4.port, "pong"],
    ["[::1]", v6.addr.port, "pong6"],
    ["localhost", v4.port, "pong"],
  ];
  for (const [host, port, body] of targets) {
    await t.step(`${host}: denied by default, reachable when loopback is opened`, async () => {
      const code = fetchCode(`http://${host}:${port}/`);
      const denied = await ts.sandbox.execute({ code, permissions: { net: true } });
      assertStatus(denied, "error");
      assert.deepEqual(denied.permissions.granted, { net: true });
      // A permission denial, not a refused connection.
      assert.match(
        denied.error?.message ?? "",
        new RegExp(`Requires net access to "(127\\.0\\.0\\.1|\\[::1\\]):${port}"`),
        describe(denied),
      );
      // Deno raises NotCapable itself except for a name (localhost), which it resolves
      // and then wraps; the test below checks that the conductor reports that as NotCapable.
      if (host !== "localhost") assert.equal(denied.error?.type, "NotCapable");
      assert.equal("returnValue" in denied, false);

      const allowed = await opened.sandbox.execute({ code, permissions: { net: true } });
      assertStatus(allowed, "success");
      assert.equal(allowed.returnValue, body);
    });
  }
  await assertHealthy(ts.sandbox);
});

// Link-local addresses are denied too, but cannot be reached without a zone: not tried here.
const ownAddresses = hostAddresses().filter((a) => !a.startsWith("[fe80:"));
Deno.test({
  name: "fetch with net: true to the host's own interface addresses is denied, unless opened",
  ignore: ownAddresses.length === 0, // a host with only loopback and private IPv4
  async fn(t) {
    await using ts = await testSandbox();
    await using server = Deno.serve(
      { hostname: "::", port: 0, onListen: () => {} },
      () => new Response("host"),
    );
    const port = server.addr.port;
    for (const address of ownAddresses) {
      await t.step(`${address}: denied; reachable when the operator opens it`, async () => {
        const url = `http://${address}:${port}/`;
        // Control: the server answers on that address (from the conductor's side).
        assert.equal(await (await fetch(url)).text(), "host");
        const code = fetchCode(url);
        const denied = await ts.sandbox.execute({ code, permissions: { net: true } });
        assertStatus(denied, "error");
        assert.equal(denied.error?.type, "NotCapable", describe(denied));
        await using opened = await testSandbox({ privateNet: [address] });
        const allowed = await opened.sandbox.execute({ code, permissions: { net: true } });
        assertStatus(allowed, "success");
        assert.equal(allowed.returnValue, "host");
      });
    }
    await assertHealthy(ts.sandbox);
  },
});

Deno.test({
  name: "fetch with net: true to localhost is reported as NotCapable",
  async fn() {
    await using ts = await testSandbox();
    await using server = loopbackServer();
    const result = await ts.sandbox.execute({
      code: `await (await fetch("http://localhost:${server.port}/")).text()`,
      permissions: { net: true },
    });
    assertNotCapable(result, "net");
    await assertHealthy(ts.sandbox);
  },
});

// ---------------------------------------------------------------------------------------
// Environment

Deno.test("the conductor's own env secret is not readable: not with no env, not with env: [], not through toObject or /proc/self/environ", async (t) => {
  await using ts = await testSandbox();
  await using wide = await testSandbox({ env: ["HOSTILE_*"] });
  Deno.env.set("CONDUCTOR_SECRET_TEST", "s3cret");
  Deno.env.set("HOSTILE_VISIBLE_TEST", "visible-value");
  const noSecret = (result: ExecutionResult) =>
    assert.equal(JSON.stringify(result).includes("s3cret"), false, describe(result));
  try {
    for (const permissions of [undefined, {}, { env: [] }]) {
      await t.step(`Deno.env.get with ${JSON.stringify(permissions)}: NotCapable`, async () => {
        const result = await ts.sandbox.execute({
          code: `Deno.env.get("CONDUCTOR_SECRET_TEST")`,
          permissions,
        });
        assertNotCapable(result, "env");
        noSecret(result);
      });
    }

    await t.step("requesting it under the default ceiling (env: []): rejected", async () => {
      const result = await ts.sandbox.execute({
        code: `Deno.env.get("CONDUCTOR_SECRET_TEST")`,
        permissions: { env: ["CONDUCTOR_SECRET_TEST"] },
      });
      assertStatus(result, "rejected");
      assert.ok(
        result.permissions.denied.some((d) =>
          d.kind === "env" && d.value === "CONDUCTOR_SECRET_TEST"
        ),
      );
    });

    for (
      const code of [
        `JSON.stringify(Deno.env.toObject())`,
        `import process from "node:process";\nJSON.stringify(process.env)`,
        `import process from "node:process";\nprocess.env.CONDUCTOR_SECRET_TEST`,
      ]
    ) {
      await t.step(`${code.split("\n").at(-1)}: NotCapable`, async () => {
        const result = await ts.sandbox.execute({ code });
        assertNotCapable(result, "env");
        noSecret(result);
      });
    }

    await t.step("/proc/self/environ with no grant: NotCapable", async () => {
      const result = await ts.sandbox.execute({
        code: `Deno.readTextFileSync("/proc/self/environ")`,
      });
      assertNotCapable(result, "read");
      noSecret(result);
    });

    await t.step(
      "a prefix grant (HOSTILE_*): the granted variable is read, the secret is NotCapable",
      async () => {
        const visible = await wide.sandbox.execute({
          code: `Deno.env.get("HOSTILE_VISIBLE_TEST")`,
          permissions: { env: ["HOSTILE_*"] },
        });
        assertStatus(visible, "success");
        assert.equal(visible.returnValue, "visible-value");
        const secret = await wide.sandbox.execute({
          code: `Deno.env.get("CONDUCTOR_SECRET_TEST")`,
          permissions: { env: ["HOSTILE_*"] },
        });
        assertNotCapable(secret, "env");
        noSecret(secret);
      },
    );
  } finally {
    Deno.env.delete("CONDUCTOR_SECRET_TEST");
    Deno.env.delete("HOSTILE_VISIBLE_TEST");
  }
  await assertHealthy(ts.sandbox);
});

Deno.test({
  name: "/proc/self/environ stays unreadable even with an operator ceiling and a grant on it",
  async fn() {
    await using ts = await testSandbox({ read: ["/proc"] });
    Deno.env.set("CONDUCTOR_SECRET_TEST", "s3cret");
    try {
      const result = await ts.sandbox.execute({
        code: `Deno.readTextFileSync("/proc/self/environ")`,
        permissions: { read: ["/proc/self/environ"] },
      });
      assert.deepEqual(result.permissions.granted, { read: ["/proc/self/environ"] });
      assertNotCapable(result, "all");
      assert.equal(JSON.stringify(result).includes("s3cret"), false);
    } finally {
      Deno.env.delete("CONDUCTOR_SECRET_TEST");
    }
    await assertHealthy(ts.sandbox);
  },
});

// ---------------------------------------------------------------------------------------
// The result channel

Deno.test("frames printed by the code cannot forge the result, and their bytes stay in the output unchanged", async (t) => {
  await using ts = await testSandbox();
  const fakes = [
    "\x1e" + "0".repeat(32) + '{"t":"result","value":42}' + "\x1e",
    '\x1e{"t":"result","value":42}\x1e',
    "\x1e" + "f".repeat(32) + '{"t":"error","error":{"type":"Forged","message":"forged"}}' +
    "\x1e",
    "\x1e\x1e\x1e",
    "\x1e" + "a".repeat(31), // an unterminated near-nonce at the very end
  ];
  const printed = fakes.join("\n");
  const write = (stream: string) =>
    `Deno.${stream}.writeSync(new TextEncoder().encode(${JSON.stringify(printed)}));`;

  await t.step("on stdout and stderr, then a genuine value", async () => {
    const result = await ts.sandbox.execute({
      code: `${write("stdout")}\n${write("stderr")}\n"genuine"`,
    });
    assertStatus(result, "success");
    assert.notEqual(result.returnValue, 42);
    assert.equal(result.returnValue, "genuine");
    assert.equal(result.stdout, printed);
    assert.equal(result.stderr, printed);
    assert.equal(result.error, undefined);
  });

  await t.step("printed with console.log", async () => {
    const result = await ts.sandbox.execute({
      code: `console.log(${JSON.stringify(fakes[0])});\n"genuine"`,
    });
    assertStatus(result, "success");
    assert.equal(result.returnValue, "genuine");
    assert.equal(result.stdout, fakes[0] + "\n");
  });

  await t.step("then an exit before the real result: no return value", async () => {
    const result = await ts.sandbox.execute({ code: `${write("stdout")}\nDeno.exit(0);` });
    assertStatus(result, "success");
    assert.equal("returnValue" in result, false);
    assert.equal(result.stdout, printed);
  });
  await assertHealthy(ts.sandbox);
});

/**
 * Code that patches every method and getter of the typed array, ArrayBuffer, String, Object,
 * Array and Function prototypes, records every call whose receiver or argument holds the
 * bytes of a frame (the nonce follows the marker), and, if it learned a nonce, forges a result.
 */
const PROTOTYPE_SPY = `
const marker = "\\x1e";
let nonce;
let busy = false;
const look = (v) => {
  try {
    let s;
    if (typeof v === "string") s = v;
    else if (ArrayBuffer.isView(v)) s = String.fromCharCode(...new Uint8Array(v.buffer, v.byteOffset, Math.min(v.byteLength, 64)));
    else if (v instanceof ArrayBuffer) s = String.fromCharCode(...new Uint8Array(v, 0, Math.min(v.byteLength, 64)));
    const m = s && /\\x1e([0-9a-f]{16,})\\{/.exec(s);
    if (m) nonce ??= m[1];
  } catch { /* not readable */ }
};
const protos = [Object.getPrototypeOf(Uint8Array.prototype), Uint8Array.prototype, ArrayBuffer.prototype,
  String.prototype, Object.prototype, Array.prototype, Function.prototype];
for (const proto of protos) {
  for (const key of Reflect.ownKeys(proto)) {
    const d = Object.getOwnPropertyDescriptor(proto, key);
    if (key === "constructor" || !d?.configurable) continue;
    if (typeof d.value === "function") {
      const orig = d.value;
      d.value = function (...args) {
        if (!busy) { busy = true; look(this); args.forEach(look); busy = false; }
        return Reflect.apply(orig, this, args);
      };
    } else if (d.get) {
      const get = d.get;
      d.get = function () {
        if (!busy) { busy = true; look(this); busy = false; }
        return Reflect.apply(get, this, []);
      };
    } else continue;
    Object.defineProperty(proto, key, d);
  }
}
setTimeout(() => {
  busy = true;
  if (nonce) Deno.stdout.writeSync(new TextEncoder().encode(marker + nonce + JSON.stringify({ t: "result", value: "FORGED" }) + marker));
  console.log("learned a nonce: " + (nonce !== undefined));
}, 20);
"genuine"`;

/**
 * Code that swaps the constructor that typed-array methods (`subarray`, `slice`, `map`...)
 * build their results with, both ways: they would hand it the buffer they view.
 */
const SPECIES_SPY = `
let nonce;
const look = (buf, off, len) => {
  try {
    const bytes = new Uint8Array(buf, off ?? 0, Math.min(len ?? buf.byteLength, 256));
    const m = /\\x1e([0-9a-f]{16,})\\{/.exec(String.fromCharCode(...bytes));
    if (m) nonce ??= m[1];
  } catch { /* not a buffer */ }
};
const Spy = function (buf, off, len) {
  look(buf, off, len);
  return new Uint8Array(buf, off, len);
};
Spy[Symbol.species] = Spy;
Uint8Array.prototype.constructor = Spy;
Object.defineProperty(Uint8Array, Symbol.species, { get: () => Spy, configurable: true });
setTimeout(() => {
  if (nonce) {
    const forged = "\\x1e" + nonce + JSON.stringify({ t: "result", value: "FORGED" }) + "\\x1e";
    Deno.stdout.writeSync(new TextEncoder().encode(forged));
  }
  console.log("learned a nonce: " + (nonce !== undefined));
}, 20);
export default "genuine";
`;

Deno.test("code that patches the prototypes the frame writer might use, or the typed-array species constructor, never learns the nonce", async (t) => {
  await using ts = await testSandbox();
  for (
    const [name, code] of [
      ["patched prototype methods and getters", PROTOTYPE_SPY],
      ["a replaced species constructor", SPECIES_SPY],
    ] as const
  ) {
    await t.step(name, async () => {
      const result = await ts.sandbox.execute({ code });
      assertStatus(result, "success");
      assert.equal(result.returnValue, "genuine");
      assert.equal(result.stdout, "learned a nonce: false\n");
      await assertHealthy(ts.sandbox);
    });
  }
});

/** Code that reads every string of its own heap (no permission needed) for the nonce. */
const HEAP_SPY = `
import v8 from "node:v8";
let text = "";
for await (const chunk of v8.getHeapSnapshot()) {
  text += typeof chunk === "string" ? chunk : new TextDecoder().decode(chunk);
}
const candidates = [...new Set(text.match(/\\b[0-9a-f]{32}\\b/g) ?? [])];
for (const nonce of candidates) {
  const forged = "\\x1e" + nonce + JSON.stringify({ t: "result", value: "FORGED" }) + "\\x1e";
  Deno.stdout.writeSync(new TextEncoder().encode(forged));
}
"genuine"
`;

Deno.test("code that searches a heap snapshot of its own process never finds the nonce", async () => {
  await using ts = await testSandbox();
  const result = await ts.sandbox.execute({ code: HEAP_SPY, limits: { timeoutMs: 60_000 } });
  assertStatus(result, "success");
  assert.equal(result.returnValue, "genuine");
});

Deno.test("code that adds toJSON to every object cannot choose a frame's type or fields", async (t) => {
  await using ts = await testSandbox();
  const forge = (frame: string) =>
    `Object.prototype.toJSON = function () { delete Object.prototype.toJSON; return ${frame}; };`;
  await t.step("the result frame", async () => {
    const result = await ts.sandbox.execute({
      code: forge(`{ t: "error", error: { type: "Forged", message: "chosen by the code" } }`) +
        `\n"genuine"`,
    });
    assertStatus(result, "success");
    assert.equal(result.returnValue, "genuine");
  });
  await t.step("the error frame", async () => {
    const result = await ts.sandbox.execute({
      code: forge(`{ t: "result", value: "FORGED" }`) + `\nthrow new RangeError("real");`,
    });
    assertStatus(result, "error");
    assert.equal(result.returnValue, undefined);
    assert.equal(result.error?.type, "RangeError");
    assert.equal(result.error?.message, "real");
  });
  await t.step("an inherited stack does not reach the error of a thrown non-Error", async () => {
    const result = await ts.sandbox.execute({
      code: `Object.prototype.stack = "injected";\nthrow "a string";`,
    });
    assertStatus(result, "error");
    assert.equal(result.error?.type, "Uncaught");
    assert.equal(result.error?.stack, undefined);
  });
  await t.step("a returned object: only its own value changes", async () => {
    const result = await ts.sandbox.execute({
      code: forge(`"its own choice"`) + `\n({ a: 1 })`,
    });
    assertStatus(result, "success");
    assert.equal(result.returnValue, "its own choice");
  });
});

Deno.test("a child that knows the nonce and floods frames: the first result and error count, later ones are dropped", async () => {
  await using ts = await testSandbox();
  const dir = await Deno.makeTempDir();
  // Stands in for a bootstrap whose nonce leaked: it reads the nonce line and floods frames.
  const flooder = join(dir, "flooder.js");
  await Deno.writeTextFile(
    flooder,
    `const buf = new Uint8Array(1 << 20);
    const n = Deno.stdin.readSync(buf);
    const nonce = new TextDecoder().decode(buf.subarray(0, n)).split("\\n")[0];
    const frame = (m) => "\\x1e" + nonce + JSON.stringify(m) + "\\x1e";
    const out = (text) => Deno.stdout.writeSync(new TextEncoder().encode(text));
    out(frame({ t: "result", value: "first" }) + frame({ t: "error", error: { type: "E", message: "first" } }));
    const burst = (frame({ t: "result", value: "later" }) + frame({ t: "x", pad: "y".repeat(900) })).repeat(1000);
    for (let i = 0; i < 50; i++) out(burst);
    out(frame({ t: "exit", code: 0 }));
    Deno.stderr.writeSync(new TextEncoder().encode(frame({ t: "exit", code: 0 })));`,
  );
  try {
    const plan = await ts.sandbox.plan({ code: "" });
    plan.argv = [Deno.execPath(), "run", "--no-prompt", `--allow-read=${dir}`, flooder];
    const { SandboxChild } = await import("../src/run_child.ts");
    const result = await new SandboxChild(plan).run(plan, "", { started: performance.now() });
    assert.equal(result.returnValue, "first");
    assert.equal(result.error?.message, "first");
    assert.equal(result.stdout, "");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the conductor's config, code and deno binary are never granted, even inside a ceiling folder", async (t) => {
  const dir = await Deno.makeTempDir();
  let close = () => Promise.resolve();
  try {
    const project = join(dir, "project");
    await Deno.mkdir(join(project, "data"), { recursive: true });
    const configFile = join(project, "conductor.jsonc");
    await Deno.writeTextFile(configFile, '{ "mcpServers": {} } // TOKEN=secret');
    await Deno.writeTextFile(join(project, "data", "ok.txt"), "ok");
    const src = new URL("../src/", import.meta.url).pathname.replace(/\/$/, "");
    const deno = Deno.realPathSync(Deno.execPath());
    const sandbox = new Sandbox(
      resolveConfig(
        {
          workspacesDir: join(dir, "ws"),
          denoDir: sharedDenoDir(),
          ceiling: { read: [project, src], write: [dirname(deno)] },
        },
        project,
        configFile,
      ),
    );
    close = () => sandbox.close();
    await t.step("control: a folder beside the config is readable", async () => {
      const r = await sandbox.execute({
        code: `Deno.readTextFileSync(${JSON.stringify(join(project, "data", "ok.txt"))})`,
        permissions: { read: [join(project, "data")] },
      });
      assertStatus(r, "success");
      assert.equal(r.returnValue, "ok");
    });
    for (
      const [name, permissions] of [
        ["the config's folder (upstream credentials)", { read: [project] }],
        ["the config file", { read: [configFile] }],
        ["the conductor's code (the bootstrap)", { read: [src] }],
        ["the deno binary's folder", { write: [dirname(deno)] }],
      ] as const
    ) {
      await t.step(`${name}: rejected before running`, async () => {
        const r = await sandbox.execute({ code: "1", permissions });
        assertStatus(r, "rejected");
        assert.match(r.error?.message ?? "", /conductor's own files/);
      });
    }
  } finally {
    await close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("results the code shapes itself stay well-formed", async (t) => {
  await using ts = await testSandbox();
  await t.step("an array's own map cannot bypass the nesting cap", async () => {
    const r = await ts.sandbox.execute({
      code: `const a = [1, undefined];
        a.map = () => { let d = 0; for (let i = 0; i < 100000; i++) d = [d]; return d; };
        a`,
    });
    assertStatus(r, "success");
    assert.deepEqual(r.returnValue, [1, null]);
  });
  await t.step("an error whose name is not a string still has a string type", async () => {
    const r = await ts.sandbox.execute({
      code: `const e = new Error("odd"); e.name = { a: 1 }; throw e;`,
    });
    assertStatus(r, "error");
    assert.equal(r.error?.type, "[object Object]");
    assert.equal(r.error?.message, "odd");
  });
  await t.step("an error named with a megabyte is cut to 200 characters", async () => {
    const r = await ts.sandbox.execute({
      code: `const e = new Error("big"); void e.stack;
        e.name = "-----BEGIN PRIVATE KEY-----".repeat(37000); throw e;`,
    });
    assertStatus(r, "error");
    assert.equal(r.error?.type, "-----BEGIN PRIVATE KEY-----".repeat(8).slice(0, 200) + "...");
    assert.equal(r.error?.message, "big");
  });
  await assertHealthy(ts.sandbox);
});

// ---------------------------------------------------------------------------------------
// Limits

Deno.test("an infinite loop is a timeout, and the output printed before it is kept", async () => {
  await using ts = await testSandbox();
  const result = await ts.sandbox.execute({
    code: `console.log("before the loop"); console.error("on stderr too"); while (true) {}`,
    limits: { timeoutMs: 1000 },
  });
  assertStatus(result, "timeout");
  assert.equal(result.error?.type, "timeout");
  assert.equal(result.stdout, "before the loop\n");
  assert.equal(result.stderr, "on stderr too\n");
  assert.equal(result.signal, "SIGKILL");
  assert.ok(result.durationMs >= 1000 && result.durationMs < 4000, `${result.durationMs} ms`);
  await assertHealthy(ts.sandbox);
});

Deno.test("a SIGTERM handler (which needs no permission) does not survive the timeout", async () => {
  await using ts = await testSandbox();
  const result = await ts.sandbox.execute({
    code: `Deno.addSignalListener("SIGTERM", () => console.log("ignored SIGTERM"));
console.log("armed");
while (true) {}`,
    limits: { timeoutMs: 1000 },
  });
  assertStatus(result, "timeout");
  assert.equal(result.stdout, "armed\n");
  assert.equal(result.signal, "SIGKILL");
  assert.ok(result.durationMs < 4000, `${result.durationMs} ms`);
  await assertHealthy(ts.sandbox);
});

/** The state letter of /proc/PID/stat, or undefined when the process is gone. */
async function processState(pid: number): Promise<string | undefined> {
  try {
    const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0];
  } catch {
    return undefined;
  }
}

Deno.test("a grandchild process left running is killed with the group at the timeout", async () => {
  await using ts = await testSandbox({ run: ["sleep"] });
  const result = await ts.sandbox.execute({
    code: `const child = new Deno.Command("sleep", { args: ["1000"] }).spawn();
console.log(child.pid);
while (true) {}`,
    permissions: { run: ["sleep"] },
    limits: { timeoutMs: 1500 },
  });
  assertStatus(result, "timeout");
  const pid = Number(result.stdout.trim());
  assert.ok(Number.isInteger(pid) && pid > 1, `no grandchild pid printed: ${describe(result)}`);
  try {
    // Gone, or a zombie waiting for a reaper (PID 1 here may not reap): either way dead.
    let state = await processState(pid);
    for (let i = 0; i < 20 && state !== undefined && state !== "Z"; i++) {
      await new Promise((r) => setTimeout(r, 50));
      state = await processState(pid);
    }
    assert.ok(state === undefined || state === "Z", `grandchild ${pid} is in state ${state}`);
  } finally {
    // If the assertion failed, do not leave the grandchild behind.
    if ((await processState(pid)) !== undefined) {
      try {
        Deno.kill(pid, "SIGKILL");
      } catch { /* already gone */ }
    }
  }
  await assertHealthy(ts.sandbox);
});

const MEMORY_LIMITS = { memoryMb: 128, timeoutMs: 20_000 };

function assertMemoryLimit(result: ExecutionResult): void {
  assertStatus(result, "memory_limit");
  assert.equal(result.error?.type, "memory_limit");
  assert.equal(result.stdout, "started\n");
  assert.equal("returnValue" in result, false);
}

Deno.test("memory: a JS heap growing forever under memoryMb 128 is memory_limit", async (t) => {
  await using ts = await testSandbox();
  // V8 words the end of the heap differently by how it fills: each is memory_limit.
  for (
    const [name, code] of [
      [
        "strings in an array",
        `const keep: string[] = [];
while (true) keep.push("x".repeat(64) + keep.length);`,
      ],
      ["a Map", "const m = new Map(); for (let i = 0; ; i++) m.set(i, i);"],
    ]
  ) {
    await t.step(name!, async () => {
      const result = await ts.sandbox.execute({
        code: `console.log("started");\n${code}`,
        limits: MEMORY_LIMITS,
      });
      assertMemoryLimit(result);
    });
  }
  await assertHealthy(ts.sandbox);
});

Deno.test({
  name: "memory: 3 GB of ArrayBuffers under memoryMb 128 is memory_limit",
  async fn(t) {
    await using ts = await testSandbox();
    const cases: [string, string][] = [
      ["one 3 GB Uint8Array filled", `new Uint8Array(3e9).fill(1).length`],
      [
        "100 MB chunks, each touched",
        `const keep = [];
for (let i = 0; i < 30; i++) keep.push(new Uint8Array(100e6).fill(1));
keep.length`,
      ],
    ];
    for (const [name, code] of cases) {
      await t.step(name, async () => {
        const result = await ts.sandbox.execute({
          code: `console.log("started");\n${code}`,
          limits: MEMORY_LIMITS,
        });
        assertMemoryLimit(result);
      });
    }
    await assertHealthy(ts.sandbox);
  },
});

Deno.test("memory: with run granted, a grandchild's memory counts toward memoryMb", async () => {
  // Without run the watchdog reads the child alone (it cannot start a process); with run
  // it must walk the whole tree: here the child itself stays small.
  const deno = Deno.execPath();
  await using ts = await testSandbox({ run: [deno] });
  const result = await ts.sandbox.execute({
    code:
      `const grow = "new Uint8Array(3e9).fill(1); await new Promise((r) => setTimeout(r, 60000));";
new Deno.Command(Deno.execPath(), { args: ["eval", grow], stdout: "null", stderr: "null" }).spawn();
console.log("started");
await new Promise((r) => setTimeout(r, 60000));`,
    permissions: { run: [deno] },
    limits: MEMORY_LIMITS,
  });
  assertMemoryLimit(result);
  await assertHealthy(ts.sandbox);
});

Deno.test("100 MB on stdout is an output_limit, truncated at the cap", async () => {
  await using ts = await testSandbox();
  const result = await ts.sandbox.execute({
    code: `const chunk = new TextEncoder().encode("x".repeat(1024 * 1024));
for (let i = 0; i < 100; i++) Deno.stdout.writeSync(chunk);
"finished"`,
    limits: { timeoutMs: 20_000 },
  });
  assertStatus(result, "output_limit");
  assert.equal(result.error?.type, "output_limit");
  assert.equal(result.truncated.stdout, true);
  assert.equal(result.truncated.stderr, false);
  assert.equal(result.stdout.length, ts.config.limits.stdoutBytes);
  assert.match(result.stdout, /^x+$/);
  assert.equal("returnValue" in result, false);
  await assertHealthy(ts.sandbox);
});

// ---------------------------------------------------------------------------------------
// Errors and odd output

Deno.test("a syntax error is status error with type SyntaxError", async (t) => {
  await using ts = await testSandbox();
  for (const code of ["let x = ;", "const = 5;", "function (", "let a: = 1;"]) {
    await t.step(JSON.stringify(code), async () => {
      const result = await ts.sandbox.execute({ code });
      assertStatus(result, "error");
      assert.equal(result.error?.type, "SyntaxError", describe(result));
      assert.ok(result.error?.message, "a message is given");
    });
  }
  await assertHealthy(ts.sandbox);
});

Deno.test("an unhandled rejection is status error with its message", async (t) => {
  await using ts = await testSandbox();
  await t.step("rejected at the top level", async () => {
    const result = await ts.sandbox.execute({
      code: `console.log("before"); Promise.reject(new RangeError("unhandled-boom"));`,
    });
    assertStatus(result, "error");
    assert.equal(result.error?.type, "RangeError");
    assert.equal(result.error?.message, "unhandled-boom");
    assert.equal(result.stdout, "before\n");
  });
  await t.step("rejected in a timer after the module finished", async () => {
    const result = await ts.sandbox.execute({
      code: `setTimeout(() => { Promise.reject(new Error("late-boom")); }, 20);\n"done"`,
    });
    assertStatus(result, "error");
    assert.equal(result.error?.type, "Error");
    assert.equal(result.error?.message, "late-boom");
  });
  await t.step("rejected with a string, not an Error", async () => {
    const result = await ts.sandbox.execute({ code: `Promise.reject("plain-reason");` });
    assertStatus(result, "error");
    assert.match(result.error?.message ?? "", /plain-reason/);
  });
  await assertHealthy(ts.sandbox);
});

Deno.test({
  name: "error stacks of longer code name code.ts, never the data URL",
  async fn() {
    await using ts = await testSandbox();
    const padding = `const padding = "${"p".repeat(200)}";\n`;
    for (
      const code of [
        `${padding}throw new Error("top-level boom");`,
        `${padding}Promise.reject(new Error("rejected boom"));`,
      ]
    ) {
      const result = await ts.sandbox.execute({ code });
      assertStatus(result, "error");
      assert.equal(JSON.stringify(result.error).includes("data:"), false, describe(result));
      assert.match(result.error?.stack ?? "", /code\.ts:2:\d+/);
    }
    await assertHealthy(ts.sandbox);
  },
});

Deno.test("code that closes stdout and then returns a value leaves the conductor healthy", async () => {
  await using ts = await testSandbox();
  const result = await ts.sandbox.execute({
    code: `console.log("before close"); Deno.stdout.close();\n42`,
    limits: { timeoutMs: 5000 },
  });
  // The bootstrap falls back to stderr for its frame, which the conductor strips.
  assertStatus(result, "success");
  assert.equal(result.returnValue, 42);
  assert.equal(result.stdout, "before close\n");
  assert.equal(result.stderr, "");
  assert.ok(result.durationMs < 4000, `${result.durationMs} ms`);
  await assertHealthy(ts.sandbox);
});

Deno.test("non-UTF-8 output is success, decoded with U+FFFD", async () => {
  await using ts = await testSandbox();
  const result = await ts.sandbox.execute({
    code: `Deno.stdout.writeSync(new Uint8Array([0xff, 0xfe, 0x41]));
Deno.stderr.writeSync(new Uint8Array([0xc3, 0x42]));`,
  });
  assertStatus(result, "success");
  assert.ok(result.stdout.includes("\uFFFD"), JSON.stringify(result.stdout));
  assert.ok(result.stdout.includes("A"));
  assert.equal(result.stdout, "\uFFFD\uFFFDA");
  assert.equal(result.stderr, "\uFFFDB");
  await assertHealthy(ts.sandbox);
});

// ---------------------------------------------------------------------------------------
// Malformed permission requests

Deno.test("malformed permission entries are rejected before running, with a message naming the entry", async (t) => {
  await using ts = await testSandbox();
  const code = `console.log("ran"); 1`;
  await t.step("control: a well-formed request runs", async () => {
    const result = await ts.sandbox.execute({ code, permissions: { read: ["."] } });
    assertStatus(result, "success");
    assert.equal(result.stdout, "ran\n");
  });
  const cases: [string, unknown, string[]][] = [
    ["a comma in a path", { read: ["a,b"] }, ["permissions.read[0]", '"a,b"', "comma"]],
    ["a comma in a host", { net: ["example.com,127.0.0.1"] }, [
      "permissions.net[0]",
      "comma",
    ]],
    ["a comma in an env name", { env: ["A,B"] }, ["permissions.env[0]", "comma"]],
    ["-A as a read entry", { read: ["-A"] }, ["permissions.read[0]", '"-A"']],
    ["-A as a net entry", { net: ["-A"] }, ["permissions.net[0]", '"-A"']],
    ["--allow-all as an env entry", { env: ["--allow-all"] }, ["permissions.env[0]"]],
    ["-A as a second entry", { write: [".", "-A"] }, ["permissions.write[1]", '"-A"']],
    ["'..' as a read path", { read: [".."] }, ['read ".."']],
    ["'../x' as a read path", { read: ["../x"] }, ['read "../x"']],
    ["'../x' as a write path", { write: ["../x"] }, ['write "../x"']],
    ["an empty read entry", { read: [""] }, ["permissions.read[0]", "empty"]],
    ["an empty env entry", { env: [""] }, ["permissions.env[0]", "empty"]],
    ["an '=' in an entry", { env: ["A=B"] }, ["permissions.env[0]"]],
    ["a NUL in an entry", { read: ["a\u0000b"] }, ["permissions.read[0]"]],
    ["a newline in an entry", { net: ["example.com\n--allow-all"] }, ["permissions.net[0]"]],
    ["a __proto__ key", JSON.parse('{"__proto__": {"read": ["/"]}}'), ["__proto__"]],
    ["an unknown kind", { files: ["x"] }, ['"files"']],
    ["a number entry", { read: [1] }, ["permissions.read[0]", "number"]],
    ["a null entry", { env: [null] }, ["permissions.env[0]", "null"]],
    ["a nested array entry", { write: [["."]] }, ["permissions.write[0]"]],
    ["a string instead of a list", { net: "example.com" }, ["permissions.net"]],
    ["a string for ffi", { ffi: "yes" }, ["permissions.ffi"]],
    ["a list for all", { all: ["true"] }, ["permissions.all"]],
    ["permissions as a string", "read", ["permissions"]],
    ["permissions as an array", ["read"], ["permissions"]],
  ];
  for (const [name, permissions, fragments] of cases) {
    await t.step(name, async () => {
      const result = await ts.sandbox.execute({ code, permissions });
      assertStatus(result, "rejected");
      assert.equal(result.stdout, "", "the code must not have run");
      assert.equal(result.exitCode, undefined, "no child must have been started");
      assert.deepEqual(result.permissions.granted, {});
      for (const fragment of fragments) {
        assert.ok(
          result.error?.message.includes(fragment),
          `message ${JSON.stringify(result.error?.message)} lacks ${JSON.stringify(fragment)}`,
        );
      }
    });
  }
  await assertHealthy(ts.sandbox);
});

// ---------------------------------------------------------------------------------------
// Isolation between conversations

Deno.test("localStorage and caches written in one conversation are not readable in another", async (t) => {
  await using ts = await testSandbox();
  const attempt = (body: string) =>
    `let outcome: unknown;
try {
  ${body}
} catch (error) {
  outcome = "threw " + (error as Error).name;
}
outcome`;

  await t.step("localStorage", async () => {
    const write = await ts.sandbox.execute({
      conversationId: "storage-a",
      code: attempt(
        `localStorage.setItem("shared-key", "secret-from-a"); outcome = localStorage.getItem("shared-key");`,
      ),
    });
    assertStatus(write, "success");
    const read = await ts.sandbox.execute({
      conversationId: "storage-b",
      code: attempt(`outcome = localStorage.getItem("shared-key");`),
    });
    assertStatus(read, "success");
    assert.notEqual(read.returnValue, "secret-from-a", describe(read));
  });

  await t.step("caches", async () => {
    const write = await ts.sandbox.execute({
      conversationId: "storage-a",
      code: attempt(`const cache = await caches.open("shared");
  await cache.put("https://example.com/k", new Response("secret-from-a"));
  outcome = "stored";`),
    });
    assertStatus(write, "success");
    const read = await ts.sandbox.execute({
      conversationId: "storage-b",
      code: attempt(`const cache = await caches.open("shared");
  const hit = await cache.match("https://example.com/k");
  outcome = hit ? await hit.text() : null;`),
    });
    assertStatus(read, "success");
    assert.notEqual(read.returnValue, "secret-from-a", describe(read));
  });
  await assertHealthy(ts.sandbox);
});

// ---------------------------------------------------------------------------------------
// Return values

Deno.test("the return value: last expression, default export, undefined, BigInt, function, cycle, Map", async (t) => {
  await using ts = await testSandbox();
  const cases: [string, string, unknown][] = [
    [
      "the last top-level expression",
      `const data = { stargazers_count: 7 }; data.stargazers_count`,
      7,
    ],
    ["the last expression after an await", `const n = await Promise.resolve(3);\nn * 2`, 6],
    ["a default export", `export default { a: 1, b: [1, "x", null] };`, {
      a: 1,
      b: [1, "x", null],
    }],
    [
      "a default export wins over a last expression",
      `export default "exported";\n"last"`,
      "exported",
    ],
    ["a promise as default export is awaited", `export default Promise.resolve(5);`, 5],
    ["a BigInt", `10n ** 30n`, { $bigint: "1000000000000000000000000000000" }],
    ["a function", `function namedFn() {}\nnamedFn`, { $function: "namedFn" }],
    ["a cycle", `const a: Record<string, unknown> = { x: 1 }; a.self = a; a`, {
      x: 1,
      self: { $circular: true },
    }],
    [
      "a Map",
      `new Map<string, unknown>([["a", 1], ["b", new Map([["c", 2n]])]])`,
      { $map: [["a", 1], ["b", { $map: [["c", { $bigint: "2" }]] }]] },
    ],
    ["a Set", `new Set([1, 2])`, { $set: [1, 2] }],
    ["NaN", `0 / 0`, { $number: "NaN" }],
    ["-Infinity", `-1 / 0`, { $number: "-Infinity" }],
    ["null", `null`, null],
    ["a boolean", `false`, false],
    [
      "non-ASCII text, from the code and back",
      `// Überblick\n"é 漢字 😀 " + String.fromCodePoint(0x10ffff)`,
      "é 漢字 😀 \u{10ffff}",
    ],
  ];
  for (const [name, code, expected] of cases) {
    await t.step(name, async () => {
      const result = await ts.sandbox.execute({ code });
      assertStatus(result, "success");
      assert.deepEqual(result.returnValue, expected);
    });
  }
  for (
    const [name, code] of [
      ["a statement last", `const x = 1;`],
      ["undefined as last expression", `undefined`],
      ["console.log as last expression", `console.log("printed")`],
      ["a default export of undefined", `export default undefined;`],
    ]
  ) {
    await t.step(`${name}: no returnValue key`, async () => {
      const result = await ts.sandbox.execute({ code: code! });
      assertStatus(result, "success");
      assert.equal("returnValue" in result, false, describe(result));
    });
  }
  await assertHealthy(ts.sandbox);
});

Deno.test({
  name: "the return value: a parenthesized last expression",
  async fn() {
    await using ts = await testSandbox();
    for (
      const [code, expected] of [
        [`({ a: 1 })`, { a: 1 }],
        [`(1 + 1)`, 2],
        [`const f = () => 3;\n(f())`, 3],
        [`((function named() {}))`, { $function: "named" }],
      ] as const
    ) {
      const result = await ts.sandbox.execute({ code });
      assertStatus(result, "success");
      assert.deepEqual(result.returnValue, expected);
    }
    await assertHealthy(ts.sandbox);
  },
});
