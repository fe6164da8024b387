/**
 * The end of an execution: the result is returned when the code's event loop has run dry
 * (the child is then killed instead of waited for), and nothing the code did is lost.
 */
import assert from "node:assert/strict";
import { SandboxChild } from "../src/run_child.ts";
import { testSandbox } from "./helpers.ts";

Deno.test("an execution ends when the event loop runs dry, with every output and write kept", async (t) => {
  await using ts = await testSandbox();
  await t.step("output from a timer after the module finished is captured", async () => {
    const r = await ts.sandbox.execute({
      code: `setTimeout(() => { console.log("late"); console.error("late err"); }, 100); "early"`,
    });
    assert.equal(r.status, "success");
    assert.equal(r.returnValue, "early");
    assert.equal(r.stdout, "late\n");
    assert.equal(r.stderr, "late err\n");
    assert.equal(r.exitCode, 0);
    assert.equal(r.signal, undefined);
  });
  await t.step("an unawaited write is on disk when the result comes back", async () => {
    const r = await ts.sandbox.execute({
      code: `Deno.writeTextFile("unawaited.txt", "x".repeat(1_000_000)); 1`,
      conversationId: "w",
      permissions: { write: ["."] },
    });
    assert.equal(r.status, "success");
    const size = (await Deno.stat(`${ts.config.workspacesDir}/w/files/unawaited.txt`)).size;
    assert.equal(size, 1_000_000);
  });
  await t.step("Deno.exit(3) is exit code 3, an error, with the output before it", async () => {
    const r = await ts.sandbox.execute({ code: `console.log("before"); Deno.exit(3)` });
    assert.equal(r.status, "error");
    assert.equal(r.exitCode, 3);
    assert.equal(r.error?.type, "Exit");
    assert.equal(r.stdout, "before\n");
  });
  await t.step("Deno.exit(0) mid-way is a success without a return value", async () => {
    const r = await ts.sandbox.execute({
      code: `console.log("a"); Deno.exit(0); console.log("b")`,
    });
    assert.equal(r.status, "success");
    assert.equal(r.stdout, "a\n");
    assert.ok(!("returnValue" in r));
  });
  await t.step("an uncaught error keeps what the code's unload listeners print", async () => {
    const r = await ts.sandbox.execute({
      code: `addEventListener("unload", () => console.log("cleanup"));
        setTimeout(() => { throw new RangeError("late"); }, 5); 1`,
    });
    assert.equal(r.status, "error");
    assert.equal(r.error?.type, "RangeError");
    assert.equal(r.stdout, "cleanup\n");
  });
  await t.step("what Node's process 'exit' and 'beforeExit' handlers print is kept", async () => {
    // Deno emits Node's 'exit' after the unload event: the child is waited for, not killed.
    const r = await ts.sandbox.execute({
      code: `import process from "node:process";
        process.on("beforeExit", () => console.log("before"));
        process.on("exit", (code) => console.log("exit", code));
        "done"`,
    });
    assert.equal(r.status, "success", JSON.stringify(r));
    assert.equal(r.returnValue, "done");
    assert.equal(r.stdout, "before\nexit 0\n");
  });
  await t.step("code that replaces dispatchEvent still ends with a true result", async () => {
    // The bootstrap's hook is gone then: results and errors come from the process itself.
    const ok = await ts.sandbox.execute({
      code: `globalThis.dispatchEvent = () => true; console.log("out"); 5`,
    });
    assert.equal(ok.status, "success", JSON.stringify(ok));
    assert.deepEqual([ok.returnValue, ok.exitCode, ok.stdout], [5, 0, "out\n"]);
    const failed = await ts.sandbox.execute({
      code: `globalThis.dispatchEvent = () => true;
        setTimeout(() => { throw new RangeError("late boom"); }, 5); 5`,
    });
    assert.equal(failed.status, "error", JSON.stringify(failed));
    assert.equal(failed.exitCode, 1);
    assert.match(failed.stderr, /Uncaught RangeError: late boom/);
  });
  await t.step("a child leads its own session and process group from its start", async () => {
    const plan = await ts.sandbox.plan({ code: "" });
    if (Deno.build.arch === "x86_64") assert.match(plan.launcher ?? "", /session-launcher$/);
    const child = new SandboxChild(plan);
    try {
      const deno = Deno.realPathSync(Deno.execPath());
      // The launcher calls setsid, then execs Deno in place: wait for the exec.
      for (let i = 0; i < 400 && Deno.readLinkSync(`/proc/${child.pid}/exe`) !== deno; i++) {
        await new Promise((r) => setTimeout(r, 5));
      }
      assert.equal(Deno.readLinkSync(`/proc/${child.pid}/exe`), deno);
      const stat = Deno.readTextFileSync(`/proc/${child.pid}/stat`);
      const [pgid, sid] = stat.slice(stat.lastIndexOf(")") + 2).split(" ").slice(2, 4);
      assert.deepEqual([pgid, sid], [String(child.pid), String(child.pid)]);
    } finally {
      child.kill();
    }
  });
  await t.step("a grandchild started by the code does not outlive the execution", async () => {
    await using wide = await testSandbox({ run: ["sleep"] });
    const r = await wide.sandbox.execute({
      code: `const c = new Deno.Command("sleep", { args: ["30"] }).spawn(); c.unref(); c.pid`,
      permissions: { run: ["sleep"] },
    });
    assert.equal(r.status, "success", JSON.stringify(r));
    const pid = r.returnValue as number;
    await new Promise((res) => setTimeout(res, 200));
    let state = "gone";
    try {
      state = Deno.readTextFileSync(`/proc/${pid}/stat`).split(") ")[1]![0]!;
    } catch { /* gone */ }
    assert.ok(state === "gone" || state === "Z", `grandchild state ${state}`);
  });
});
