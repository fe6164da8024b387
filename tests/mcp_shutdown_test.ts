/**
 * A server shutting down (client gone, SIGTERM) starts nothing new: what arrives after
 * `shutdown()` killed the runs in flight is refused, not run with nobody left to stop it.
 */
import assert from "node:assert/strict";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import { createConductorServer } from "../src/mcp_server.ts";
import { testSandbox } from "./helpers.ts";

Deno.test("MCP server: after shutdown() a run or an install is refused, and no child starts", async () => {
  await using ts = await testSandbox();
  await ts.sandbox.init();
  const { server, shutdown } = createConductorServer(ts.sandbox);
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await server.connect(serverSide);
  const client = new Client({ name: "t", version: "1" });
  await client.connect(clientSide);
  try {
    const before = await client.callTool({ name: "run_deno_code", arguments: { code: "1 + 1" } });
    assert.equal((before.structuredContent as { returnValue?: unknown }).returnValue, 2);
    await shutdown();
    for (
      const [name, args] of [
        ["run_deno_code", { code: "Deno.exit(3)" }],
        ["install_dependencies", { dependencies: ["npm:is-number@7.0.0"] }],
      ] as const
    ) {
      const after = await client.callTool({ name, arguments: args });
      assert.equal(after.isError, true, JSON.stringify(after));
      assert.match(JSON.stringify(after.content), /shutting down/);
    }
    const audit = await Deno.readTextFile(ts.config.auditFile!).catch(() => "");
    assert.equal(audit.trim().split("\n").length, 1, "only the run before shutdown");
  } finally {
    await client.close();
  }
});
