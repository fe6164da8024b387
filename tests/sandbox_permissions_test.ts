/**
 * The permission matrix, with real child processes: for read, write, net and env, a
 * granted request has its real effect, a permission that was not requested fails inside
 * the code with NotCapable, and a request beyond the ceiling is refused before anything
 * runs, with a denial naming the kind and the value.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import type { ExecutionResult } from "../src/execution_result.ts";
import type { Sandbox } from "../src/sandbox.ts";
import { loopbackServer, testSandbox } from "./helpers.ts";

/** The files folder of a conversation, created before the run so the test can seed it. */
async function filesDirOf(workspacesDir: string, conversationId: string): Promise<string> {
  const dir = join(await Deno.realPath(workspacesDir), conversationId, "files");
  await Deno.mkdir(dir, { recursive: true });
  return dir;
}

function assertSuccess(result: ExecutionResult): void {
  assert.equal(
    result.status,
    "success",
    `expected success, got ${result.status}: ${JSON.stringify(result.error)}`,
  );
}

/** A permission denial raised inside the code: status error, type NotCapable. */
function assertNotCapable(result: ExecutionResult, kind: string): void {
  assert.equal(result.status, "error", `expected error, got ${result.status}`);
  assert.equal(result.error?.type, "NotCapable", JSON.stringify(result.error));
  assert.match(result.error?.message ?? "", new RegExp(`Requires ${kind} access`));
  assert.equal("returnValue" in result, false);
}

/** A refusal by policy: nothing ran, and `permissions.denied` names kind and value. */
function assertRejected(result: ExecutionResult, kind: string, value: string): void {
  assert.equal(result.status, "rejected", `expected rejected, got ${result.status}`);
  assert.equal(result.stdout, "", "the code must not have run");
  assert.equal(result.exitCode, undefined, "no child must have been started");
  const denial = result.permissions.denied.find((d) => d.kind === kind && d.value === value);
  assert.ok(denial, `no denial for ${kind} ${value}: ${JSON.stringify(result.permissions)}`);
  assert.ok(denial.reason.length > 0);
  assert.ok(result.error?.message.includes(value), result.error?.message);
}

async function assertHealthy(sandbox: Sandbox): Promise<void> {
  const result = await sandbox.execute({ code: "1 + 1" });
  assertSuccess(result);
  assert.equal(result.returnValue, 2);
}

Deno.test("read: a granted file is read, an ungranted one is NotCapable, one beyond the ceiling is rejected", async (t) => {
  await using ts = await testSandbox();
  const conversationId = "perm-read";
  const files = await filesDirOf(ts.config.workspacesDir, conversationId);
  await Deno.writeTextFile(join(files, "data.txt"), "content of data.txt");
  const code = `console.log("ran"); Deno.readTextFileSync("data.txt")`;

  await t.step("granted by file name: the content is read back", async () => {
    const result = await ts.sandbox.execute({
      code,
      conversationId,
      permissions: { read: ["data.txt"] },
    });
    assertSuccess(result);
    assert.equal(result.returnValue, "content of data.txt");
    assert.deepEqual(result.permissions.granted, { read: [join(files, "data.txt")] });
  });

  await t.step("granted as the files folder itself: the content is read back", async () => {
    const result = await ts.sandbox.execute({ code, conversationId, permissions: { read: ["."] } });
    assertSuccess(result);
    assert.equal(result.returnValue, "content of data.txt");
  });

  await t.step("not requested: NotCapable", async () => {
    const result = await ts.sandbox.execute({ code, conversationId });
    assertNotCapable(result, "read");
    assert.equal(result.stdout, "ran\n");
  });

  await t.step("only write requested: reading is still NotCapable", async () => {
    const result = await ts.sandbox.execute({
      code,
      conversationId,
      permissions: { write: ["."] },
    });
    assertNotCapable(result, "read");
  });

  await t.step("another file granted: this one is NotCapable", async () => {
    await Deno.writeTextFile(join(files, "other.txt"), "other");
    const result = await ts.sandbox.execute({
      code,
      conversationId,
      permissions: { read: ["other.txt"] },
    });
    assertNotCapable(result, "read");
  });

  await t.step("a host path beyond the ceiling: rejected", async () => {
    const result = await ts.sandbox.execute({
      code: `Deno.readTextFileSync("/etc/hostname")`,
      conversationId,
      permissions: { read: ["/etc/hostname"] },
    });
    assertRejected(result, "read", "/etc/hostname");
  });

  await t.step("a relative path leaving the files folder: rejected", async () => {
    const result = await ts.sandbox.execute({
      code,
      conversationId,
      permissions: { read: ["../meta"] },
    });
    assertRejected(result, "read", "../meta");
  });

  await assertHealthy(ts.sandbox);
});

Deno.test("write: a granted folder is written to disk, an ungranted write is NotCapable, one beyond the ceiling is rejected", async (t) => {
  await using ts = await testSandbox();
  const conversationId = "perm-write";
  const files = await filesDirOf(ts.config.workspacesDir, conversationId);
  const code = (name: string) =>
    `console.log("ran"); Deno.writeTextFileSync(${
      JSON.stringify(name)
    }, "written by the sandbox"); "done"`;
  const exists = (path: string) => Deno.lstat(path).then(() => true, () => false);

  await t.step("granted: the file is on disk afterwards", async () => {
    const result = await ts.sandbox.execute({
      code: code("out.txt"),
      conversationId,
      permissions: { write: ["."] },
    });
    assertSuccess(result);
    assert.equal(result.returnValue, "done");
    assert.equal(await Deno.readTextFile(join(files, "out.txt")), "written by the sandbox");
  });

  await t.step("not requested: NotCapable, and no file appears", async () => {
    const result = await ts.sandbox.execute({ code: code("denied.txt"), conversationId });
    assertNotCapable(result, "write");
    assert.equal(result.stdout, "ran\n");
    assert.equal(await exists(join(files, "denied.txt")), false);
  });

  await t.step("only read requested: writing is still NotCapable", async () => {
    const result = await ts.sandbox.execute({
      code: code("denied2.txt"),
      conversationId,
      permissions: { read: ["."] },
    });
    assertNotCapable(result, "write");
    assert.equal(await exists(join(files, "denied2.txt")), false);
  });

  await t.step("a host folder beyond the ceiling: rejected, nothing written", async () => {
    const outside = await Deno.makeTempDir({ prefix: "conductor-outside-" });
    try {
      const target = join(outside, "escape.txt");
      const result = await ts.sandbox.execute({
        code: code(target),
        conversationId,
        permissions: { write: [outside] },
      });
      assertRejected(result, "write", outside);
      assert.equal(await exists(target), false);
    } finally {
      await Deno.remove(outside, { recursive: true });
    }
  });

  await assertHealthy(ts.sandbox);
});

Deno.test("net: a granted loopback host (opened by privateNet) is fetched, ungranted net is NotCapable, a private host beyond the ceiling is rejected", async (t) => {
  await using ts = await testSandbox({ privateNet: ["127.0.0.1"] });
  await using server = loopbackServer();
  const url = `http://127.0.0.1:${server.port}/`;
  const code = `console.log("ran"); await (await fetch(${JSON.stringify(url)})).text()`;

  await t.step("granted by host: the body is fetched", async () => {
    const result = await ts.sandbox.execute({ code, permissions: { net: ["127.0.0.1"] } });
    assertSuccess(result);
    assert.equal(result.returnValue, "pong");
  });

  await t.step("granted by host:port: the body is fetched", async () => {
    const result = await ts.sandbox.execute({
      code,
      permissions: { net: [`127.0.0.1:${server.port}`] },
    });
    assertSuccess(result);
    assert.equal(result.returnValue, "pong");
  });

  await t.step("granted as true (any host): the opened loopback host is fetched", async () => {
    const result = await ts.sandbox.execute({ code, permissions: { net: true } });
    assertSuccess(result);
    assert.equal(result.returnValue, "pong");
  });

  await t.step("not requested: NotCapable", async () => {
    const result = await ts.sandbox.execute({ code });
    assertNotCapable(result, "net");
    assert.equal(result.stdout, "ran\n");
  });

  await t.step("another host granted: this one is NotCapable", async () => {
    const result = await ts.sandbox.execute({ code, permissions: { net: ["example.com"] } });
    assertNotCapable(result, "net");
    assert.doesNotMatch(result.error!.message, /Hint:/);
  });

  await t.step("net true, a private address not opened: NotCapable, with why", async () => {
    const result = await ts.sandbox.execute({
      code: `await fetch("http://127.0.0.2:${server.port}/")`,
      permissions: { net: true },
    });
    assertNotCapable(result, "net");
    assert.match(
      result.error!.message,
      /Hint: the run had network access, but not to this address/,
    );
  });

  for (const host of ["169.254.169.254", "10.0.0.1", "127.0.0.2", "[::1]"]) {
    await t.step(`a private host beyond the ceiling (${host}): rejected`, async () => {
      const result = await ts.sandbox.execute({ code, permissions: { net: [host] } });
      assertRejected(result, "net", host);
    });
  }

  await assertHealthy(ts.sandbox);
});

Deno.test("env: a granted variable is read, an ungranted one is NotCapable, one beyond the ceiling is rejected", async (t) => {
  await using ts = await testSandbox({ env: ["CONDUCTOR_TEST_*", "PERMTEST_*"] });
  Deno.env.set("PERMTEST_GRANTED", "granted-value");
  Deno.env.set("PERMTEST_OTHER", "other-value");
  const code = (name: string) => `console.log("ran"); Deno.env.get(${JSON.stringify(name)})`;
  try {
    await t.step("granted by name: the value is read", async () => {
      const result = await ts.sandbox.execute({
        code: code("PERMTEST_GRANTED"),
        permissions: { env: ["PERMTEST_GRANTED"] },
      });
      assertSuccess(result);
      assert.equal(result.returnValue, "granted-value");
    });

    await t.step("granted by prefix pattern: the value is read", async () => {
      const result = await ts.sandbox.execute({
        code: code("PERMTEST_OTHER"),
        permissions: { env: ["PERMTEST_*"] },
      });
      assertSuccess(result);
      assert.equal(result.returnValue, "other-value");
    });

    await t.step("not requested: NotCapable", async () => {
      const result = await ts.sandbox.execute({ code: code("PERMTEST_GRANTED") });
      assertNotCapable(result, "env");
      assert.equal(result.stdout, "ran\n");
    });

    await t.step("another variable granted: this one is NotCapable", async () => {
      const result = await ts.sandbox.execute({
        code: code("PERMTEST_OTHER"),
        permissions: { env: ["PERMTEST_GRANTED"] },
      });
      assertNotCapable(result, "env");
    });

    await t.step("a variable beyond the ceiling: rejected", async () => {
      const result = await ts.sandbox.execute({
        code: code("HOME"),
        permissions: { env: ["HOME"] },
      });
      assertRejected(result, "env", "HOME");
    });

    await t.step("a wider pattern than the ceiling: rejected", async () => {
      const result = await ts.sandbox.execute({
        code: code("PERMTEST_GRANTED"),
        permissions: { env: ["PERM*"] },
      });
      assertRejected(result, "env", "PERM*");
    });
  } finally {
    Deno.env.delete("PERMTEST_GRANTED");
    Deno.env.delete("PERMTEST_OTHER");
  }
  await assertHealthy(ts.sandbox);
});

Deno.test("env: a pattern does not reach what the conductor sets itself (its identity, its cache)", async () => {
  await using ts = await testSandbox({ env: ["C*", "D*"] });
  Deno.env.set("CPERMTEST_VALUE", "caller-value");
  try {
    const result = await ts.sandbox.execute({
      code:
        `const read = (n) => { try { return Deno.env.get(n) ?? null; } catch (e) { return e.name; } };
        ["CPERMTEST_VALUE", "CONDUCTOR_OWNER", "DENO_DIR"].map(read)`,
      permissions: { env: ["C*", "D*"] },
    });
    assertSuccess(result);
    assert.deepEqual(result.returnValue, ["caller-value", "NotCapable", "NotCapable"]);
  } finally {
    Deno.env.delete("CPERMTEST_VALUE");
  }
  await assertHealthy(ts.sandbox);
});

Deno.test({
  name: "env: a granted CONDUCTOR_TEST_* variable allowed by the ceiling is read",
  async fn() {
    await using ts = await testSandbox({ env: ["CONDUCTOR_TEST_*"] });
    Deno.env.set("CONDUCTOR_TEST_VALUE", "conductor-test-value");
    try {
      for (const env of [["CONDUCTOR_TEST_VALUE"], ["CONDUCTOR_TEST_*"]]) {
        const result = await ts.sandbox.execute({
          code: `Deno.env.get("CONDUCTOR_TEST_VALUE")`,
          permissions: { env },
        });
        assertSuccess(result);
        assert.deepEqual(result.permissions.granted, { env });
        assert.equal(result.returnValue, "conductor-test-value");
      }
    } finally {
      Deno.env.delete("CONDUCTOR_TEST_VALUE");
    }
    await assertHealthy(ts.sandbox);
  },
});

Deno.test("nothing requested: no read of the files folder, no write, no env, no net", async (t) => {
  // A ceiling that would allow all of these, so that only the empty request stops them.
  await using ts = await testSandbox({ privateNet: ["127.0.0.1"], env: ["PERMTEST_*"] });
  await using server = loopbackServer();
  const conversationId = "perm-nothing";
  const files = await filesDirOf(ts.config.workspacesDir, conversationId);
  await Deno.writeTextFile(join(files, "data.txt"), "content of data.txt");
  Deno.env.set("PERMTEST_NOTHING", "nothing-value");
  const cases: { name: string; kind: string; code: string; grant: Record<string, unknown> }[] = [
    {
      name: "read of a file in the files folder",
      kind: "read",
      code: `Deno.readTextFileSync("data.txt")`,
      grant: { read: ["."] },
    },
    {
      name: "listing the files folder",
      kind: "read",
      code: `[...Deno.readDirSync(".")].map((e) => e.name).join(",")`,
      grant: { read: ["."] },
    },
    {
      name: "write in the files folder",
      kind: "write",
      code: `Deno.writeTextFileSync("new.txt", "x"); "written"`,
      grant: { write: ["."] },
    },
    {
      name: "env var",
      kind: "env",
      code: `Deno.env.get("PERMTEST_NOTHING")`,
      grant: { env: ["PERMTEST_NOTHING"] },
    },
    {
      name: "fetch of the loopback server",
      kind: "net",
      code: `await (await fetch("http://127.0.0.1:${server.port}/")).text()`,
      grant: { net: ["127.0.0.1"] },
    },
  ];
  try {
    for (const c of cases) {
      await t.step(`${c.name}: NotCapable with nothing requested, works when granted`, async () => {
        for (const permissions of [undefined, {}]) {
          const denied = await ts.sandbox.execute({ code: c.code, conversationId, permissions });
          assert.deepEqual(denied.permissions.granted, {});
          assertNotCapable(denied, c.kind);
        }
        const allowed = await ts.sandbox.execute({
          code: c.code,
          conversationId,
          permissions: c.grant,
        });
        assertSuccess(allowed);
        assert.notEqual(allowed.returnValue, undefined);
      });
    }
  } finally {
    Deno.env.delete("PERMTEST_NOTHING");
  }
  await assertHealthy(ts.sandbox);
});

Deno.test("sys: setPriority (it renices other processes, the conductor too) only when the ceiling's list names it", async (t) => {
  const code = `import { getPriority, setPriority } from "node:os";
    let set = "done";
    try { setPriority(0, 15); } catch (error) { set = error.name; }
    ({ set, priority: getPriority(0) })`;
  await t.step("sys true: granted without it, so NotCapable", async () => {
    await using ts = await testSandbox({ sys: true });
    const result = await ts.sandbox.execute({ code, permissions: { sys: true } });
    assert.equal(result.status, "success", JSON.stringify(result));
    assert.equal((result.returnValue as { set: string }).set, "NotCapable");
  });
  await t.step("asked by name under a ceiling of sys true: rejected, with why", async () => {
    await using ts = await testSandbox({ sys: true });
    const result = await ts.sandbox.execute({ code, permissions: { sys: ["setPriority"] } });
    assert.equal(result.status, "rejected", JSON.stringify(result));
    assert.match(result.error!.message, /setPriority changes other processes/);
  });
  await t.step("named by the ceiling's list: granted, the child renices itself", async () => {
    await using ts = await testSandbox({ sys: ["getPriority", "setPriority"] });
    const result = await ts.sandbox.execute({
      code,
      permissions: { sys: ["getPriority", "setPriority"] },
    });
    assert.equal(result.status, "success", JSON.stringify(result));
    assert.deepEqual(result.returnValue, { set: "done", priority: 15 });
  });
});

Deno.test("sys: true grants every sys API by name, and not node:inspector (which would open the bootstrap's scope)", async () => {
  await using ts = await testSandbox({ sys: true });
  const result = await ts.sandbox.execute({
    code: `import { Session } from "node:inspector";
    const hostname = Deno.hostname().length > 0;
    let inspector = "connected";
    try { new Session().connect(); } catch (error) { inspector = error.name; }
    ({ hostname, inspector })`,
    permissions: { sys: true },
  });
  assert.equal(result.status, "success", JSON.stringify(result));
  assert.deepEqual(result.returnValue, { hostname: true, inspector: "NotCapable" });
});
