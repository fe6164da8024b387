/**
 * MCP Conductor entry point: hands the arguments to the CLI and sets the exit code.
 */
import { runCli } from "./src/cli.ts";

if (import.meta.main) {
  Deno.exitCode = await runCli(Deno.args);
}
