/**
 * The workspace quota holds while code runs, not only for the conductor's own writes.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  findWorkspace,
  folderSize,
  openWorkspace,
  quotaUsage,
  removeWorkspace,
} from "../src/workspace.ts";
import { listWorkspaceFiles } from "../src/workspace_files.ts";
import { AS_NOBODY, testSandbox } from "./helpers.ts";

Deno.test("a run that keeps writing past the workspace quota is killed, with its output kept", async () => {
  await using ts = await testSandbox({}, { workspaceQuotaMb: 2 });
  const result = await ts.sandbox.execute({
    code: `console.log("writing");
      const chunk = new Uint8Array(256 * 1024);
      for (let i = 0; ; i++) {
        await Deno.writeFile("f" + i + ".bin", chunk);
        await new Promise((r) => setTimeout(r, 20));
      }`,
    conversationId: "q",
    permissions: { write: ["."] },
    limits: { timeoutMs: 20_000 },
  });
  assert.equal(result.status, "output_limit", JSON.stringify(result).slice(0, 400));
  assert.match(result.error!.message, /quota is 2097152/);
  assert.equal(result.stdout, "writing\n");
  const used = await folderSize(`${ts.config.workspacesDir}/q/files`);
  assert.ok(used < 16 * 1024 * 1024, `stopped soon after the quota: ${used} bytes`);
  // Without write access nothing is measured, and a normal run is unaffected.
  const ok = await ts.sandbox.execute({ code: "1 + 1", conversationId: "q" });
  assert.equal(ok.returnValue, 2);
});

Deno.test("a run that writes past the quota faster than the first measure ends output_limit, and so does one that leaves a workspace past its quota there", async (t) => {
  await using ts = await testSandbox({}, { workspaceQuotaMb: 1 });
  const files = () => `${ts.config.workspacesDir}/burst/files`;
  await t.step("a burst written before the first measure is caught at the end", async () => {
    const result = await ts.sandbox.execute({
      code: `Deno.writeFileSync("big.bin", new Uint8Array(3 << 20)); "written"`,
      conversationId: "burst",
      permissions: { write: ["."] },
    });
    assert.equal(result.status, "output_limit", JSON.stringify(result).slice(0, 400));
    assert.match(result.error!.message, /The workspace reached \d+ bytes; its quota is 1048576/);
    assert.equal(result.returnValue, "written", "its result is kept");
  });
  await t.step("past its quota: a run that adds a byte ends output_limit", async () => {
    const result = await ts.sandbox.execute({
      code: `Deno.writeTextFileSync("more.txt", "x")`,
      conversationId: "burst",
      permissions: { write: ["."] },
    });
    assert.equal(result.status, "output_limit", JSON.stringify(result).slice(0, 400));
    assert.match(result.error!.message, /The workspace reached \d+ bytes; its quota is 1048576/);
    assert.match(result.warnings![0]!, /over its quota of 1048576: delete files/);
  });
  await t.step("past its quota: a run that deletes files succeeds", async () => {
    const result = await ts.sandbox.execute({
      code: `Deno.removeSync("big.bin"); Deno.removeSync("more.txt"); "freed"`,
      conversationId: "burst",
      permissions: { write: ["."] },
    });
    assert.equal(result.status, "success", JSON.stringify(result).slice(0, 400));
    assert.equal(result.warnings, undefined);
    assert.equal(await folderSize(files()), 0);
  });
});

Deno.test("empty folders and files count toward the quota: making thousands is killed too", async () => {
  await using ts = await testSandbox({}, { workspaceQuotaMb: 1 });
  const result = await ts.sandbox.execute({
    code: `for (let i = 0; ; i++) {
        Deno.mkdirSync("d" + i);
        Deno.writeFileSync("d" + i + "/empty", new Uint8Array(0));
        if (i % 100 === 0) await new Promise((r) => setTimeout(r, 5));
      }`,
    conversationId: "inodes",
    permissions: { write: ["."] },
    limits: { timeoutMs: 20_000 },
  });
  assert.equal(result.status, "output_limit", JSON.stringify(result).slice(0, 400));
  assert.match(result.error!.message, /quota is 1048576/);
  const entries = [...Deno.readDirSync(`${ts.config.workspacesDir}/inodes/files`)].length;
  assert.ok(entries < 20_000, `stopped soon after the quota: ${entries} folders`);
});

/** Whether this machine can run Deno as a user other than root (setpriv, a readable deno). */
const unprivilegedDeno = Deno.uid() !== 0 ||
  await new Deno.Command("setpriv", { args: [...AS_NOBODY, Deno.execPath(), "--version"] })
    .output().then((out) => out.success, () => false);

Deno.test({
  name: "a folder made unreadable fails the quota closed, is listed without its contents, and " +
    "its workspace is still removed (as a non-root user)",
  // Shown as ignored, not passed, where it cannot run.
  ignore: !unprivilegedDeno,
}, async () => {
  // Root reads any folder; a conductor run by a user is refused like anyone else. So the
  // walk runs as `nobody` when the tests run as root, on copies of the modules (their only
  // other import is node:path) in a folder nobody owns.
  const dir = await Deno.makeTempDir({ prefix: "conductor-unreadable-" });
  try {
    for (const module of ["workspace.ts", "workspace_files.ts", "paths.ts", "remove_tree.ts"]) {
      await Deno.copyFile(new URL(`../src/${module}`, import.meta.url), join(dir, module));
    }
    await Deno.writeTextFile(
      join(dir, "walk.ts"),
      `import { openWorkspace, quotaUsage, removeWorkspace } from "./workspace.ts";
      import { listWorkspaceFiles } from "./workspace_files.ts";
      const root = Deno.args[0];
      const ws = await openWorkspace(root, "c1");
      const hidden = ws.filesDir + "/hidden";
      await Deno.mkdir(hidden + "/deep", { recursive: true });
      await Deno.writeFile(hidden + "/deep/big.bin", new Uint8Array(1 << 20));
      const measure = () => quotaUsage(ws.filesDir).then(String, (e) => e.name + ": " + e.message);
      const out = { readable: await measure() };
      await Deno.chmod(hidden, 0o000);
      out.unreadable = await measure();
      out.listed = await listWorkspaceFiles(ws).then((l) => l.entries.map((e) => e.path), String);
      await Deno.chmod(hidden, 0o500);
      await Deno.chmod(hidden + "/deep", 0o400); // names can be listed, sizes not read
      out.unsearchable = await measure();
      await Deno.chmod(hidden + "/deep", 0o000);
      out.removed = await removeWorkspace(root, "c1");
      out.gone = await Deno.lstat(ws.root).then(() => false, () => true);
      console.log(JSON.stringify(out));`,
    );
    await Deno.mkdir(join(dir, "ws"));
    const run = [
      "run",
      "--no-prompt",
      "--allow-all",
      "--no-config",
      join(dir, "walk.ts"),
      join(dir, "ws"),
    ];
    const root = Deno.uid() === 0;
    if (root) {
      const chown = await new Deno.Command("chown", { args: ["-R", "65534:65534", dir] }).output();
      assert.ok(chown.success);
    }
    const out = await new Deno.Command(root ? "setpriv" : Deno.execPath(), {
      args: root ? [...AS_NOBODY, Deno.execPath(), ...run] : run,
      cwd: dir,
      env: { HOME: dir, DENO_DIR: join(dir, ".deno"), PATH: Deno.env.get("PATH") ?? "" },
      clearEnv: true,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.ok(out.success, stderr);
    const result = JSON.parse(new TextDecoder().decode(out.stdout));
    assert.ok(Number(result.readable) > 1 << 20, result.readable);
    assert.match(result.unreadable, /^UnmeasurableError: .*"hidden" cannot be read/);
    // list_files shows the folder, and nothing it cannot read (no error with a host path).
    assert.deepEqual(result.listed, ["hidden"]);
    assert.match(result.unsearchable, /^UnmeasurableError: .*"hidden\/deep" cannot be read/);
    assert.deepEqual([result.removed, result.gone], [true, true]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a tree nested past the length limit for paths fails the quota closed too, and is listed and removed", async () => {
  const dir = await Deno.makeTempDir({ prefix: "conductor-deep-" });
  try {
    const ws = await openWorkspace(dir, "c1");
    // Two chains of 3000 characters, each a legal path, one moved to the end of the other
    // from inside it (as code with write access can): a megabyte at a path of 6000.
    const chain = Array(15).fill("d".repeat(200)).join("/");
    const setup = `
      await Deno.mkdir("a/${chain}", { recursive: true });
      await Deno.mkdir("b/${chain}", { recursive: true });
      await Deno.writeFile("b/${chain}/big.bin", new Uint8Array(1 << 20));
      Deno.chdir("a/${chain}");
      await Deno.rename("${ws.filesDir}/b", "b");`;
    const made = await new Deno.Command(Deno.execPath(), {
      args: ["eval", setup],
      cwd: ws.filesDir,
      stderr: "piped",
    }).output();
    assert.ok(made.success, new TextDecoder().decode(made.stderr));
    await assert.rejects(quotaUsage(ws.filesDir), (error: Error) => {
      assert.equal(error.name, "UnmeasurableError");
      assert.match(error.message, /cannot be read \(File name too long; delete it\)/);
      assert.ok(!error.message.includes(dir), `no host path: ${error.message}`);
      return true;
    });
    const listed = await listWorkspaceFiles(ws);
    assert.ok(listed.entries.some((e) => e.path === "a"), JSON.stringify(listed).slice(0, 200));
    assert.equal(await removeWorkspace(dir, "c1"), true);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a tree 25,000 folders deep, built by code with write access: a grant over it is refused with why, and it is removed", async () => {
  await using ts = await testSandbox();
  // Each path stays short: a chain of 500 is built, and the deep one moved to its end.
  const made = await ts.sandbox.execute({
    code: `const chain = Array(500).fill("a").join("/");
      Deno.mkdirSync("B");
      for (let i = 0; i < 50; i++) {
        Deno.mkdirSync("A/" + chain, { recursive: true });
        Deno.renameSync("B", "A/" + chain + "/B");
        Deno.renameSync("A", "B");
      }`,
    conversationId: "deep",
    permissions: { read: ["."], write: ["."] },
    limits: { timeoutMs: 60_000 },
  });
  assert.ok(["success", "output_limit"].includes(made.status), JSON.stringify(made.error));
  // The link check stops at a depth it can hold open, and refuses what it did not check.
  const read = await ts.sandbox.execute({
    code: "1",
    conversationId: "deep",
    permissions: { read: ["."] },
  });
  assert.equal(read.status, "rejected", JSON.stringify(read.error));
  assert.match(read.error!.message, /nested more than 256 deep, too deep to check for links/);
  // Deno's recursive remove ran out of descriptors here (at 100,000 levels its stack
  // overflowed and aborted the conductor).
  assert.equal(await removeWorkspace(ts.config.workspacesDir, "deep"), true);
  assert.equal(findWorkspace(ts.config.workspacesDir, "deep"), undefined);
  assert.equal((await ts.sandbox.execute({ code: "1 + 1" })).returnValue, 2);
});

Deno.test("a folder replaced by a file while the quota walks it is not a failure", async () => {
  // The walk lists a folder, then reads it: code may have made it a file meanwhile (`rm -rf
  // out; build > out`). The read then fails with "Not a directory", as on this root.
  const dir = await Deno.makeTempDir({ prefix: "conductor-replaced-" });
  try {
    await Deno.writeTextFile(join(dir, "out"), "now a file");
    assert.equal(await quotaUsage(join(dir, "out")), 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
