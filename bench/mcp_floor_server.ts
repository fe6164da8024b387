/**
 * The MCP floor of the throughput figures: an MCP server made of the SDK's own `McpServer`
 * and stdio transport whose `run_deno_code` does no sandbox work at all: it spawns a bare
 * `deno run` of FILE, as the floor does, and answers with a line of text. What MCP itself
 * costs per call (protocol, two processes), apart from what the sandbox adds.
 *
 * Usage: deno run -A bench/mcp_floor_server.ts FILE
 */
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { z } from "zod";
import { bareRun } from "./measure.ts";

const file = Deno.args[0]!;
const server = new McpServer({ name: "mcp-floor", version: "1" });
server.registerTool("run_deno_code", { inputSchema: { code: z.string() } }, async () => {
  await bareRun(file);
  return { content: [{ type: "text", text: "status: success" }] };
});
await server.connect(new StdioServerTransport());
