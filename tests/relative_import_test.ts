/**
 * Code imports files of its own workspace by relative path, under the read permission.
 */
import assert from "node:assert/strict";
import { testSandbox } from "./helpers.ts";

Deno.test("code imports a workspace file by relative path with a read grant, and not without", async () => {
  await using ts = await testSandbox();
  const write = await ts.sandbox.execute({
    code: `await Deno.writeTextFile("lib.ts", "export const twice = (n: number) => n * 2;");
           await Deno.writeTextFile("data.json", '{"n": 21}');`,
    conversationId: "rel",
    permissions: { write: ["."] },
  });
  assert.equal(write.status, "success", JSON.stringify(write));
  const code = `import { twice } from "./lib.ts";
import data from "./data.json" with { type: "json" };
const dyn = await import("./lib.ts");
[twice(data.n), dyn.twice(1)]`;
  const granted = await ts.sandbox.execute({
    code,
    conversationId: "rel",
    permissions: { read: ["."] },
  });
  assert.equal(granted.status, "success", JSON.stringify(granted));
  assert.deepEqual(granted.returnValue, [42, 2]);
  const denied = await ts.sandbox.execute({ code, conversationId: "rel" });
  assert.equal(denied.status, "error");
  assert.equal(denied.error?.type, "NotCapable");
  assert.match(denied.error!.message, /Hint: files of the conversation's workspace are read/);
  const missing = await ts.sandbox.execute({
    code: `import { x } from "./helper.ts"; x`,
    conversationId: "rel",
    permissions: { read: ["."] },
  });
  assert.equal(missing.status, "error");
  assert.match(missing.error!.message, /Module not found[\s\S]*Hint: relative paths lead into/);
  const escape = await ts.sandbox.execute({
    code: `import s from "../meta/state.json" with { type: "json" }; s`,
    conversationId: "rel",
    permissions: { read: ["."] },
  });
  assert.equal(escape.status, "error");
  assert.equal(escape.error?.type, "NotCapable", "meta/ stays closed to a files-folder grant");
});
