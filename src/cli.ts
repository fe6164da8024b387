/**
 * The command line: dispatches to `exec`, `install`, `workspaces` and `files`, and turns
 * usage and config errors into exit code 2.
 */
import { ConfigError } from "./config.ts";
import { EXIT, UsageError } from "./cli_common.ts";
import { writeErr, writeOut } from "./log.ts";

export { EXIT } from "./cli_common.ts";

const VERSION = "0.1.0";

const MAIN_HELP =
  `MCP Conductor ${VERSION}: run untrusted TypeScript/JavaScript in a fresh Deno sandbox.

Usage: conductor <command> [options]
       conductor --version

Commands:
  serve       Start the MCP server on stdio (for Cursor, Claude Desktop, ...)
  exec        Run code once in the sandbox and print its output
  install     Install npm packages into a conversation's workspace
  workspaces  List, delete and garbage-collect workspaces
  files       Put files into a workspace, and get them out
  help        Show help for a command

Options (every command, before or after it):
  --config FILE   Config file (default: $CONDUCTOR_CONFIG, then ./conductor.jsonc)
  -h, --help      Show help

Exit codes: 0 success, 1 the code failed, 2 usage or config error, 3 refused by policy.
Run "conductor <command> --help" for details.
`;

interface Command {
  run: (args: string[]) => Promise<number>;
  help: string;
}
/**
 * Each command's module, loaded only when that command runs: `exec` need not load the MCP
 * server (most of the start-up time), nor `serve` the CLI's file commands.
 */
const COMMANDS = {
  serve: () =>
    import("./cli_serve.ts").then((m): Command => ({ run: m.serveCommand, help: m.SERVE_HELP })),
  exec: () =>
    import("./cli_exec.ts").then((m): Command => ({ run: m.execCommand, help: m.EXEC_HELP })),
  install: () =>
    import("./cli_install.ts").then((m): Command => ({
      run: m.installCommand,
      help: m.INSTALL_HELP,
    })),
  workspaces: () =>
    import("./cli_workspaces.ts").then((m): Command => ({
      run: m.workspacesCommand,
      help: m.WORKSPACES_HELP,
    })),
  files: () =>
    import("./cli_workspaces.ts").then((m): Command => ({
      run: m.filesCommand,
      help: m.FILES_HELP,
    })),
};
type CommandName = keyof typeof COMMANDS;

function isCommand(name: string | undefined): name is CommandName {
  return name !== undefined && Object.hasOwn(COMMANDS, name);
}

/** Permissions Deno grants only with --allow-all (the conductor needs every one). */
const NEEDED: Deno.PermissionName[] = [
  "read",
  "write",
  "net",
  "env",
  "run",
  "ffi",
  "sys",
];

/** A clear refusal when the conductor was not started with --allow-all, else undefined. */
function missingAllowAll(): string | undefined {
  const missing: string[] = NEEDED.filter((name) =>
    Deno.permissions.querySync({ name }).state !== "granted"
  );
  if (!missing.length) {
    try {
      Deno.readTextFileSync("/proc/self/stat");
      return undefined;
    } catch {
      missing.push("/proc"); // every flag one by one is not --allow-all
    }
  }
  return "the conductor must be started with --allow-all " +
    `(missing: ${missing.join(", ")}), as in: deno run --no-prompt --allow-all main.ts ...; ` +
    "it spawns and kills the sandbox children and reads /proc, which Deno opens only to " +
    "--allow-all. The code it runs gets only what each request asks for.";
}

/** Runs the CLI; returns the process exit code. */
export async function runCli(args: string[]): Promise<number> {
  const [command, ...rest] = configAfterCommand(args);
  try {
    if (isCommand(command)) {
      const module = await COMMANDS[command]();
      const missing = rest.some((a) => a === "-h" || a === "--help")
        ? undefined
        : missingAllowAll();
      if (missing) {
        await writeErr(`conductor: ${missing}\n`);
        return EXIT.usage;
      }
      return await module.run(rest);
    }
    switch (command) {
      case undefined:
      case "-h":
      case "--help":
        await writeOut(MAIN_HELP);
        return command === undefined ? EXIT.usage : EXIT.ok;
      case "help": {
        const topic = rest[0];
        if (topic !== undefined && !isCommand(topic)) {
          throw new UsageError(
            `Unknown help topic "${topic}": expected one of ${Object.keys(COMMANDS).join(", ")}`,
          );
        }
        await writeOut(isCommand(topic) ? (await COMMANDS[topic]()).help : MAIN_HELP);
        return EXIT.ok;
      }
      case "--version":
        await writeOut(`conductor ${VERSION}\n`);
        return EXIT.ok;
      default:
        if (command.startsWith("-")) {
          throw new UsageError(
            `${command} goes with a command: conductor <command> ${command} ...`,
          );
        }
        throw new UsageError(
          `Unknown command "${command}": expected one of ${Object.keys(COMMANDS).join(", ")}, help`,
        );
    }
  } catch (error) {
    // The reader of our output went away (`conductor exec ... | head`): stop quietly.
    if (error instanceof Deno.errors.BrokenPipe) return EXIT.failed;
    if (isParseArgsError(error)) {
      // Node's wording advises "--" for positionals, which never applies here.
      const unknown = /^Unknown option '([^']+)'/.exec((error as Error).message)?.[1];
      const see = isCommand(command) ? `conductor ${command} --help` : "conductor --help";
      const message = unknown
        ? `Unknown option ${unknown}: see ${see}`
        : `${(error as Error).message} (see ${see})`;
      await writeErr(`conductor: ${message}\n`);
      return EXIT.usage;
    }
    if (error instanceof UsageError || error instanceof ConfigError) {
      await writeErr(`conductor: ${(error as Error).message}\n`);
      return EXIT.usage;
    }
    throw error;
  }
}

/**
 * `--config FILE` given before the command goes after it, where the command reads it
 * (`help` reads no config: there it goes).
 */
function configAfterCommand(args: string[]): string[] {
  const taken = args[0] === "--config" ? 2 : args[0]?.startsWith("--config=") ? 1 : 0;
  if (!taken || args.length <= taken) return args;
  const [command, ...rest] = args.slice(taken);
  return command === "help" ? [command, ...rest] : [command!, ...args.slice(0, taken), ...rest];
}

function isParseArgsError(error: unknown): boolean {
  return error instanceof TypeError && "code" in error &&
    String((error as { code: unknown }).code).startsWith("ERR_PARSE_ARGS");
}
