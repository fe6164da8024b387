/**
 * The workspace quota holds while code runs, not only for the conductor's own writes.
 */
import assert from "node:assert/strict";
import { folderSize } from "../src/workspace.ts";
import { testSandbox } from "./helpers.ts";

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
