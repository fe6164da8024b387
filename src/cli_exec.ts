/**
 * `conductor exec`: run code once in the sandbox, with Deno-style permission flags, human
 * or `--json` output, and `--explain`.
 */
import { parseArgs } from "node:util";
import { MIN_LIMITS } from "./config.ts";
import type { ExecutionResult } from "./execution_result.ts";
import { writeErr, writeOut } from "./log.ts";
import type { Permissions } from "./permissions.ts";
import { type ExecutionPlan, Sandbox } from "./sandbox.ts";
import type { ExecutionRequest } from "./execution_plan.ts";
import {
  checkedDependencies,
  EXIT,
  loadCliConfig,
  parseInteger,
  readStdin,
  shellQuote,
  UsageError,
} from "./cli_common.ts";

export const EXEC_HELP = `Usage: conductor exec [options] FILE
       conductor exec [options] -e CODE
       conductor exec [options] -          (code from stdin)

Runs the code in a fresh "deno run --no-prompt" child with only the permissions given
here, cut down to the operator's ceiling (conductor.jsonc). Nothing is granted by
default: no read, no write, no net, no env. A request beyond the ceiling is refused
before anything runs (exit code 3).

The value of the default export, or of the last top-level expression, is printed after
the code's own output (JSON). The code's stdout and stderr go to stdout and stderr.

Permissions (relative paths are inside the conversation's files folder, the cwd):
  --allow-net[=HOSTS]     Network: any public host, or HOST[:PORT],... Private,
                          loopback and link-local addresses are denied unless the
                          config's ceiling.privateNet lists them
  --allow-read[=PATHS]    Read (without a value: the files folder)
  --allow-write[=PATHS]   Write (without a value: the files folder)
  --allow-env[=NAMES]     Env vars (NAME or PREFIX*; without a value: all, "*"), if
                          the ceiling allows them
  --allow-sys[=NAMES]     System info APIs, if the ceiling allows them
  --allow-import=HOSTS    Cached remote modules from these hosts, if allowed
  --allow-run=PROGRAMS    Subprocesses, if allowed (a full escape: off by default)
  --allow-ffi, -A/--allow-all   Only if the ceiling allows them
  --permissions JSON      The request as JSON, e.g. '{"net":["api.github.com"]}'

Limits:
  --timeout DURATION      Milliseconds, or 2s, 1m (default 30s, max from config)
  --memory MB             Resident memory of the process group (default 256)
  --max-output BYTES      Cap on stdout and on stderr each (default 1 MiB)

Dependencies:
  --dep SPEC              Install first (repeatable): npm:NAME@VERSION; then import
                          it by name ("NAME") or by the same specifier. Added to
                          the conversation's packages; no network at run time
  --frozen                The lockfile must already pin the dependencies; nothing
                          new is resolved (for CI)

Code mode (upstream MCP servers from the config's mcpServers):
  --allow-tools=GLOBS     Tools the code may call as tools.SERVER.TOOL(args), e.g.
                          --allow-tools=github.* (within the config's toolPolicy)

Other:
  --conversation ID       Run in this conversation's workspace (created if new);
                          without it, a temporary workspace deleted afterwards
  --json                  Print the ExecutionResult record as JSON
  --explain               Print granted permissions, denials and the exact child
                          argv, and run nothing
  --config FILE           Config file
  -h, --help              Show this help

Examples:
  conductor exec -e "1 + 1"
  conductor exec --allow-net=api.github.com script.ts
  conductor exec --dep npm:is-number@7.0.0 -e 'import isNumber from "is-number"; isNumber(5)' 
  echo 'console.log(Deno.cwd())' | conductor exec --json -
`;

const PERMISSION_FLAG = /^--allow-(net|read|write|env|sys|import|run|ffi|all)(?:=(.*))?$/s;

/** Pulls the Deno-style `--allow-*` flags out of argv into a permission request. */
export function extractPermissionFlags(
  args: string[],
): { permissions: Permissions; rest: string[] } {
  const permissions: Permissions = {};
  const rest: string[] = [];
  for (const arg of args) {
    const m = arg === "-A" ? ["-A", "all", undefined] : PERMISSION_FLAG.exec(arg);
    if (!m) {
      rest.push(arg);
      continue;
    }
    const kind = m[1] as keyof Permissions;
    const value = m[2];
    if (kind === "ffi" || kind === "all") {
      if (value !== undefined) throw new UsageError(`${arg.split("=")[0]} takes no value`);
      permissions[kind] = true;
      continue;
    }
    if (value === undefined) {
      if (kind === "net" || kind === "sys") permissions[kind] = true;
      else if (kind === "read" || kind === "write") permissions[kind] = ["."];
      else if (kind === "env") permissions.env = ["*"];
      else throw new UsageError(`--allow-${kind} needs a value: --allow-${kind}=A,B`);
      continue;
    }
    // Empty entries are kept so that policy names them ("empty string").
    const entries = value.split(",");
    const previous = permissions[kind];
    permissions[kind] = Array.isArray(previous) ? [...previous, ...entries] : entries;
  }
  return { permissions, rest };
}

/** Parses `500`, `500ms`, `2s`, `1.5m` into milliseconds. */
export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim());
  if (!m) {
    throw new UsageError(
      `Invalid duration "${text}": use milliseconds, or a number with ms, s or m`,
    );
  }
  const n = Number(m[1]) * ({ ms: 1, s: 1000, m: 60_000 }[m[2] ?? "ms"] ?? 1);
  return Math.round(n);
}

interface ExecArgs {
  request: ExecutionRequest;
  json: boolean;
  explain: boolean;
  config: string | undefined;
}

async function parseExecArgs(args: string[]): Promise<ExecArgs | "help"> {
  const { permissions, rest } = extractPermissionFlags(args);
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    strict: true,
    options: {
      eval: { type: "string", short: "e" },
      conversation: { type: "string" },
      dep: { type: "string", multiple: true },
      "allow-tools": { type: "string" },
      frozen: { type: "boolean" },
      timeout: { type: "string" },
      memory: { type: "string" },
      "max-output": { type: "string" },
      permissions: { type: "string" },
      json: { type: "boolean" },
      explain: { type: "boolean" },
      config: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) return "help";
  // `--allow-net api.github.com` leaves the host as a positional: say how to give it.
  const bare = args.find((a, i) => /^--allow-[a-z]+$/.test(a) && args[i + 1]?.[0] !== "-");
  const valueHint = bare ? ` (a value of ${bare} goes after "=": ${bare}=VALUE)` : "";
  let code: string;
  if (values.eval !== undefined) {
    if (positionals.length) {
      throw new UsageError(`Give either -e CODE or a file, not both${valueHint}`);
    }
    code = values.eval;
  } else if (positionals.length === 1) {
    const source = positionals[0]!;
    try {
      code = source === "-" ? await readStdin() : await Deno.readTextFile(source);
    } catch (error) {
      // `--allow-net example.com` with no file: the host was taken for the file.
      const hint = bare && args[args.indexOf(bare) + 1] === source ? valueHint : "";
      throw new UsageError(`Cannot read "${source}": ${(error as Error).message}${hint}`);
    }
  } else if (positionals.length === 0) {
    throw new UsageError(`Nothing to run: give a FILE, -e CODE, or - for stdin`);
  } else {
    throw new UsageError(`Too many arguments: ${positionals.slice(1).join(" ")}${valueHint}`);
  }
  let requested: unknown = permissions;
  if (values.permissions !== undefined) {
    if (Object.keys(permissions).length) {
      throw new UsageError(`Give either --permissions JSON or --allow-* flags, not both`);
    }
    try {
      requested = JSON.parse(values.permissions);
    } catch (error) {
      throw new UsageError(`Invalid --permissions JSON: ${(error as Error).message}`);
    }
  }
  const limits: Record<string, number> = {};
  if (values.timeout !== undefined) limits.timeoutMs = parseDuration(values.timeout);
  if (values.memory !== undefined) limits.memoryMb = parseInteger("--memory", values.memory);
  if (values["max-output"] !== undefined) {
    limits.stdoutBytes = limits.stderrBytes = parseInteger("--max-output", values["max-output"]);
  }
  // Below a limit's floor nothing can run: a usage error (a value over the operator's
  // maximum is a policy refusal, exit 3, from the plan).
  const floors = [["--timeout", "timeoutMs", "ms"], ["--memory", "memoryMb", "MB"]] as const;
  for (const [flag, key, unit] of floors) {
    const value = limits[key];
    if (value !== undefined && value < MIN_LIMITS[key]) {
      throw new UsageError(`${flag} must be at least ${MIN_LIMITS[key]} ${unit}`);
    }
  }
  return {
    request: {
      code,
      conversationId: values.conversation,
      permissions: requested,
      limits,
      ...(values.dep ? { dependencies: checkedDependencies(values.dep) } : {}),
      ...(values["allow-tools"] !== undefined
        ? { allowedTools: values["allow-tools"].split(",") }
        : {}),
      frozen: values.frozen ?? false,
    },
    json: values.json ?? false,
    explain: values.explain ?? false,
    config: values.config,
  };
}

/** The `--explain` text: what would run, and why. */
export function renderPlan(plan: ExecutionPlan): string {
  const lines = [
    `conversation: ${plan.conversationId}`,
    `cwd: ${plan.workspace.filesDir}`,
    `granted: ${JSON.stringify(plan.granted)}`,
  ];
  if (plan.denied.length) {
    lines.push("denied:");
    for (const d of plan.denied) {
      lines.push(`  - ${d.kind} ${JSON.stringify(d.value)}: ${d.reason}`);
    }
  } else lines.push("denied: none");
  if (plan.rejection && !plan.denied.length) lines.push(`refused: ${plan.rejection.message}`);
  lines.push(
    `limits: ${Object.entries(plan.limits).map(([k, v]) => `${k}=${v}`).join(" ")}`,
  );
  if (plan.tools) lines.push(`tools: ${plan.tools.allowed.map((t) => t.fullName).join(" ")}`);
  if (plan.argv.length) {
    lines.push(
      `env: ${Object.keys(plan.env).sort().join(" ")}`,
      `argv: ${plan.argv.map(shellQuote).join(" ")}`,
    );
  }
  return lines.join("\n") + "\n";
}

/** The one-line status (and error details) printed to stderr after a human run. */
export function renderStatus(result: ExecutionResult): string {
  const { status, error, durationMs } = result;
  if (status === "success") return `[conductor] success in ${durationMs} ms\n`;
  let text = `[conductor] ${status}`;
  if (status === "rejected" && result.permissions.denied.length) {
    text += ": refused by policy, nothing ran";
    for (const d of result.permissions.denied) {
      text += `\n  - ${d.kind} ${JSON.stringify(d.value)}: ${d.reason}`;
    }
  } else if (error) {
    // A limit's error type is the status itself: said once.
    text += error.type === status ? `: ${error.message}` : `: ${error.type}: ${error.message}`;
    if (error.stack) {
      // Frames the message already carries (Deno puts the import's location in it) once.
      const frames = error.stack.split("\n").filter((l) =>
        /^\s+at /.test(l) && !error.message.includes(l)
      );
      if (frames.length) text += "\n" + frames.join("\n");
    }
  }
  return text + "\n";
}

/** Rejections of a malformed request (a usage error), not of a policy. */
const MALFORMED = new Set([
  "InvalidRequest",
  "PermissionRequestError",
  "WorkspaceIdError",
  "ToolPatternError",
]);

function exitCodeFor(result: ExecutionResult): number {
  if (result.status === "success") return EXIT.ok;
  return result.status === "rejected" ? rejectedExit(result.error?.type) : EXIT.failed;
}

/** A refusal's exit code: 2 for a malformed request, 3 for one policy refused. */
function rejectedExit(type: string | undefined): number {
  return MALFORMED.has(type ?? "") ? EXIT.usage : EXIT.refused;
}

export async function execCommand(args: string[]): Promise<number> {
  const parsed = await parseExecArgs(args);
  if (parsed === "help") {
    await writeOut(EXEC_HELP);
    return EXIT.ok;
  }
  const config = await loadCliConfig(parsed.config);
  const sandbox = new Sandbox(config);
  if (parsed.explain) {
    try {
      const plan = await sandbox.plan(parsed.request, { dryRun: true });
      // Security: env values may be secrets granted to the child; show names only.
      const shown = { ...plan, env: Object.keys(plan.env).sort() };
      await writeOut(parsed.json ? JSON.stringify(shown, null, 2) + "\n" : renderPlan(plan));
      return plan.rejection ? rejectedExit(plan.rejection.type) : EXIT.ok;
    } finally {
      // Planning code mode starts the upstream servers: stop them, or the CLI never exits.
      await sandbox.close();
    }
  }
  const controller = new AbortController();
  const onSignal = () => controller.abort();
  Deno.addSignalListener("SIGINT", onSignal);
  try {
    const result = await sandbox.execute(parsed.request, {
      signal: controller.signal,
      ephemeral: true,
      onProgress: parsed.json ? undefined : (line) => void writeErr(`[conductor] ${line}\n`),
    });
    try {
      if (parsed.json) {
        await writeOut(JSON.stringify(result, null, 2) + "\n");
      } else {
        await writeOut(result.stdout);
        await writeErr(result.stderr);
        if ("returnValue" in result) {
          const sep = result.stdout && !result.stdout.endsWith("\n") ? "\n" : "";
          await writeOut(sep + JSON.stringify(result.returnValue, null, 2) + "\n");
        }
        await writeErr(renderStatus(result));
      }
    } catch (error) {
      // The reader went away (| head): the exit code still says how the code did.
      if (!(error instanceof Deno.errors.BrokenPipe)) throw error;
    }
    return exitCodeFor(result);
  } finally {
    await sandbox.close();
    Deno.removeSignalListener("SIGINT", onSignal);
  }
}

/** Runs the CLI; returns the process exit code. */
