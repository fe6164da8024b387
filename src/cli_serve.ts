/**
 * `conductor serve`: the MCP server on stdio. Nothing but protocol on stdout; logs on
 * stderr. A client that disconnects leaves no child running.
 */
import { parseArgs } from "node:util";
import { EXIT, loadCliConfig } from "./cli_common.ts";
import { log, setLogSink, writeOut } from "./log.ts";
import { createConductorServer } from "./mcp_server.ts";
import { Sandbox } from "./sandbox.ts";
import { MAX_REQUESTS_IN_FLIGHT, StdioTransport } from "./stdio_transport.ts";
import { gcWorkspaces } from "./workspace.ts";

export const SERVE_HELP = `Usage: conductor serve [--config FILE]

Starts the MCP server on stdio, for Cursor, Claude Desktop or any MCP client. Tools:
run_deno_code, install_dependencies, write_file, read_file, list_files,
list_workspaces, delete_workspace, and search_tools when upstream servers are
configured. Logs go to stderr. Idle workspaces are garbage-collected every 10
minutes (workspaceTtlHours in the config).

A server that runs for long keeps its memory low and flat when Deno starts it with
  --v8-flags=--max-semi-space-size=4,--no-concurrent-recompilation,--optimize-for-size,--max-opt=2
as README.md and .cursor/mcp.json do (about 82 MB after 1000 runs, not 95).

Options:
  --config FILE   Config file (default: $CONDUCTOR_CONFIG, then ./conductor.jsonc)
  -h, --help      Show this help
`;

const GC_INTERVAL_MS = 10 * 60_000;

export async function serveCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { config: { type: "string" }, help: { type: "boolean", short: "h" } },
  });
  if (values.help) {
    await writeOut(SERVE_HELP);
    return EXIT.ok;
  }
  const config = await loadCliConfig(values.config);
  const sandbox = new Sandbox(config, { prewarm: true });
  await sandbox.init();
  await sandbox.refill();
  const { server, shutdown } = createConductorServer(sandbox);
  // A response the transport could not write, a handler's failure: said, never swallowed.
  server.server.onerror = (error: Error) => log(`protocol error: ${error.message}`);
  // Every execution the limiter may hold or queue is read, so that the next one is refused
  // as Busy rather than left unread.
  const transport = new StdioTransport({
    maxRequestsInFlight: Math.max(
      MAX_REQUESTS_IN_FLIGHT,
      config.maxConcurrent + config.maxQueue + 1,
    ),
  });

  const { promise: closed, resolve: markClosed } = Promise.withResolvers<void>();
  let closing = false;
  const close = async (why: string) => {
    if (closing) return;
    closing = true;
    log(`shutting down: ${why}`);
    // Kill what is running; the cancelled results still go out before the transport closes.
    await shutdown();
    await new Promise((r) => setTimeout(r, 10));
    await server.close().catch(() => {});
    markClosed();
  };
  server.server.onclose = () => void close("the transport closed");
  transport.onend = () => void close("end of input: the client disconnected");
  const onSignal = { SIGINT: () => void close("SIGINT"), SIGTERM: () => void close("SIGTERM") };
  for (const [signal, handler] of Object.entries(onSignal)) {
    Deno.addSignalListener(signal as Deno.Signal, handler);
  }
  const gc = setInterval(() => {
    gcWorkspaces(config.workspacesDir, { ttlMs: config.workspaceTtlMs })
      .then((removed) => removed.length && log(`gc: deleted ${removed.length} idle workspaces`))
      .catch((error) => log(`gc failed: ${error.message}`));
  }, GC_INTERVAL_MS);
  Deno.unrefTimer(gc);

  await server.connect(transport);
  // Log lines also go to the client as notifications (from the first one on, which MCP
  // allows before initialize); a level set through logging/setLevel filters them.
  setLogSink((line) =>
    void server.server.sendLoggingMessage({ level: "info", logger: "conductor", data: line }).catch(
      () => {},
    )
  );
  log(
    `serving MCP on stdio (workspaces: ${config.workspacesDir}, config: ${
      config.source ?? "defaults"
    })`,
  );
  await closed;
  setLogSink(undefined);
  clearInterval(gc);
  for (const [signal, handler] of Object.entries(onSignal)) {
    Deno.removeSignalListener(signal as Deno.Signal, handler);
  }
  return EXIT.ok;
}
