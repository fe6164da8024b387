/**
 * The command line: dispatches to `exec`, `install`, `workspaces` and `files`, and turns
 * usage and config errors into exit code 2.
 */
import { ConfigError } from "./config.ts";
import { EXIT, UsageError } from "./cli_common.ts";
import { EXEC_HELP, execCommand } from "./cli_exec.ts";
import { INSTALL_HELP, installCommand } from "./cli_install.ts";
import { SERVE_HELP, serveCommand } from "./cli_serve.ts";
import { FILES_HELP, filesCommand, WORKSPACES_HELP, workspacesCommand } from "./cli_workspaces.ts";
import { writeErr, writeOut } from "./log.ts";

export { EXIT } from "./cli_common.ts";

const VERSION = "0.1.0";

const MAIN_HELP =
  `MCP Conductor ${VERSION}: run untrusted TypeScript/JavaScript in a fresh Deno sandbox.

Usage: conductor <command> [options]

Commands:
  serve       Start the MCP server on stdio (for Cursor, Claude Desktop, ...)
  exec        Run code once in the sandbox and print its output
  install     Install npm packages into a conversation's workspace
  workspaces  List, delete and garbage-collect workspaces
  files       Put files into a workspace, and get them out
  help        Show help for a command

Options (every command):
  --config FILE   Config file (default: $CONDUCTOR_CONFIG, then ./conductor.jsonc)
  -h, --help      Show help
  --version       Show the version

Exit codes: 0 success, 1 the code failed, 2 usage or config error, 3 refused by policy.
Run "conductor <command> --help" for details.
`;

const HELP: Record<string, string> = {
  serve: SERVE_HELP,
  exec: EXEC_HELP,
  install: INSTALL_HELP,
  workspaces: WORKSPACES_HELP,
  files: FILES_HELP,
};

/** Runs the CLI; returns the process exit code. */
export async function runCli(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  try {
    switch (command) {
      case "serve":
        return await serveCommand(rest);
      case "exec":
        return await execCommand(rest);
      case "install":
        return await installCommand(rest);
      case "workspaces":
        return await workspacesCommand(rest);
      case "files":
        return await filesCommand(rest);
      case undefined:
      case "-h":
      case "--help":
        await writeOut(MAIN_HELP);
        return command === undefined ? EXIT.usage : EXIT.ok;
      case "help":
        await writeOut(HELP[rest[0] ?? ""] ?? MAIN_HELP);
        return EXIT.ok;
      case "--version":
        await writeOut(`conductor ${VERSION}\n`);
        return EXIT.ok;
      default:
        throw new UsageError(
          `Unknown command "${command}": expected one of ${Object.keys(HELP).join(", ")}, help`,
        );
    }
  } catch (error) {
    if (error instanceof UsageError || error instanceof ConfigError || isParseArgsError(error)) {
      await writeErr(`conductor: ${(error as Error).message}\n`);
      return EXIT.usage;
    }
    throw error;
  }
}

function isParseArgsError(error: unknown): boolean {
  return error instanceof TypeError && "code" in error &&
    String((error as { code: unknown }).code).startsWith("ERR_PARSE_ARGS");
}
