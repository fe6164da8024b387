import assert from "node:assert/strict";
import { parse } from "@babel/parser";
import { BOOTSTRAP_PATH } from "./execution_plan.ts";

// Every child loads this file first. Any comment in it costs each child ~1.2 ms of CPU, an
// inline source map 1.7 ms: bootstrap.md holds what comments would say.
const MAX_BYTES = 10 * 1024;

Deno.test("bootstrap.js imports nothing and stays small, with no comments and no source map", async () => {
  const text = await Deno.readTextFile(BOOTSTRAP_PATH);
  const { comments, program } = parse(text, { sourceType: "module" });
  assert.equal(program.body.filter((n) => n.type === "ImportDeclaration").length, 0);
  assert.deepEqual((comments ?? []).map((c) => c.value.trim().slice(0, 60)), []);
  assert.doesNotMatch(text, /sourceMappingURL|denoCacheMetadata/);
  assert.ok(new TextEncoder().encode(text).length <= MAX_BYTES, `${text.length} bytes`);
});

/** Runs the bootstrap as a child would (no permissions) and returns both streams. */
async function runBootstrap(
  code: string,
): Promise<{ stdout: string; stderr: string; code: number }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", "--no-config", "--no-code-cache", BOOTSTRAP_PATH],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(
    new TextEncoder().encode("N\n" + JSON.stringify({ code, maxReturnBytes: 1000 }) + "\n"),
  );
  await writer.close();
  const out = await child.output();
  const text = (bytes: Uint8Array) =>
    new TextDecoder().decode(bytes).replaceAll("\x1eN", "<").replaceAll("\x1e", ">");
  return { stdout: text(out.stdout), stderr: text(out.stderr), code: out.code };
}

Deno.test("the exit frame closes both streams, after the code's own unload listeners; an error has none", async (t) => {
  await t.step("a normal end: the exit code set by the code, on both streams, last", async () => {
    const r = await runBootstrap(
      `addEventListener("unload", () => { console.log("bye"); console.error("bye err"); Deno.exitCode = 4; });
      setTimeout(() => console.log("late"), 10);
      export default 1;`,
    );
    assert.equal(r.code, 4);
    assert.equal(r.stdout, '<{"t":"result","value":1}>late\nbye\n<{"t":"exit","code":4}>');
    assert.equal(r.stderr, 'bye err\n<{"t":"exit","code":4}>');
  });
  for (
    const [name, code] of [
      ["an error thrown in a timer", `setTimeout(() => { throw new RangeError("late"); }, 5);`],
      ["an unhandled rejection", `Promise.reject(new RangeError("late"));`],
    ]
  ) {
    await t.step(`${name}: the error frame, the code's unload output, exit code 1`, async () => {
      // No exit frame: the conductor waits for the process, so the listener's output is kept.
      const r = await runBootstrap(
        `addEventListener("unload", () => console.log("bye"));\n${code}`,
      );
      assert.equal(r.code, 1);
      assert.match(r.stdout, /^<\{"t":"result"\}><\{"t":"error","error":\{"type":"RangeError"/);
      assert.ok(r.stdout.endsWith("}}>bye\n"), r.stdout);
      assert.equal(r.stderr, "");
    });
  }
});
