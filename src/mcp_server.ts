/**
 * The MCP server: registers the tools, turns core results into tool results (structured
 * content with an output schema, plus a short text rendering).
 */
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { RequestHandlerExtra } from "@modelcontextprotocol/sdk/shared/protocol.js";
import type {
  CallToolResult,
  ServerNotification,
  ServerRequest,
} from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";
import { BusyError } from "./concurrency.ts";
import { MIN_LIMITS, type ResolvedConfig } from "./config.ts";
import { MAX_CODE_BYTES } from "./execution_plan.ts";
import type { ExecutionResult } from "./execution_result.ts";
import { installDependencies } from "./installer.ts";
import { log } from "./log.ts";
import type { Sandbox } from "./sandbox.ts";
import { searchTools } from "./tool_search.ts";
import {
  findWorkspace,
  inWorkspace,
  listWorkspaces,
  removeWorkspace,
  validateConversationId,
  type Workspace,
  WorkspaceIdError,
} from "./workspace.ts";
import {
  listWorkspaceFiles,
  printablePath,
  readWorkspaceFile,
  WorkspaceFileError,
  writeWorkspaceFile,
} from "./workspace_files.ts";

export const SERVER_NAME = "mcp-conductor";
export const SERVER_VERSION = "0.1.0";

/** How often a long execution reports progress to a client that asked for it. */
const PROGRESS_INTERVAL_MS = 1000;

const listOf = (what: string) => z.array(z.string()).describe(what);

const permissionsInput = z.object({
  net: z.union([z.array(z.string()), z.literal(true)]).optional().describe(
    'Hosts the code may connect to: ["api.github.com", "example.com:443"], or true for any public host. Private, loopback, link-local and metadata addresses are denied unless the operator allows them.',
  ),
  read: listOf(
    'Paths the code may read, relative to the workspace (its cwd): ["."] for all of it, ["data.csv"].',
  ).optional(),
  write: listOf('Paths the code may write, relative to the workspace: ["."] or ["out/"].')
    .optional(),
  env: listOf(
    "Environment variables the code may read (NAME or PREFIX*), if the operator allows them.",
  ).optional(),
  import: listOf("Hosts of cached remote modules, if the operator allows them.").optional(),
  sys: z.union([z.array(z.string()), z.literal(true)]).optional().describe(
    'System info APIs (["hostname", "osRelease", ...]), if the operator allows them.',
  ),
  run: listOf("Subprocesses: almost never allowed (a full sandbox escape).").optional(),
  ffi: z.boolean().optional().describe("Almost never allowed."),
  all: z.boolean().optional().describe("Almost never allowed."),
}).strict();

const deniedOutput = z.array(z.object({ kind: z.string(), value: z.string(), reason: z.string() }));

const resultOutput = {
  status: z.enum([
    "success",
    "error",
    "rejected",
    "timeout",
    "memory_limit",
    "output_limit",
    "cancelled",
    "install_error",
  ]),
  returnValue: z.unknown().optional(),
  stdout: z.string(),
  stderr: z.string(),
  truncated: z.object({ stdout: z.boolean(), stderr: z.boolean() }),
  error: z.object({ type: z.string(), message: z.string(), stack: z.string().optional() })
    .optional(),
  permissions: z.object({ granted: z.record(z.string(), z.unknown()), denied: deniedOutput }),
  conversationId: z.string(),
  durationMs: z.number(),
  exitCode: z.number().optional(),
  signal: z.string().optional(),
  warnings: z.array(z.string()).optional(),
};

const conversationIdInput = z.string().describe(
  "The conversation's workspace id (letters, digits, _ and -), as returned by run_deno_code.",
);

/** The validated arguments of a tool with this input shape. */
type Args<S extends z.ZodRawShape> = z.infer<z.ZodObject<S>>;
// Every tool's input is a strict object: an unknown or misspelt argument (conversationID)
// is an invalid-params error naming it, not silently dropped.
type Extra = RequestHandlerExtra<ServerRequest, ServerNotification>;

const runDenoCodeInput = (config: ResolvedConfig) => ({
  code: z.string().describe(
    `The TypeScript/JavaScript module to run (at most ${MAX_CODE_BYTES / 1048576} MB).`,
  ),
  conversationId: conversationIdInput.optional(),
  permissions: permissionsInput.optional(),
  dependencies: z.array(z.string()).optional().describe(
    'Packages to install before running, e.g. ["npm:zod@3.23.8"]. Added to the workspace\'s packages.',
  ),
  timeoutMs: z.number().int().optional().describe(
    `Time limit in ms (default ${config.limits.timeoutMs}; ${MIN_LIMITS.timeoutMs} to ${config.maxLimits.timeoutMs}).`,
  ),
  allowedTools: z.array(z.string()).optional().describe(
    'Upstream MCP tools the code may call through the `tools` object, as SERVER.TOOL names or globs: ["github.get_issue"]. ' +
      "Each must stay within the operator's allowlist (a glob that also reaches other tools is refused). " +
      (Object.keys(config.mcpServers).length
        ? "Find them with search_tools. Nothing is callable unless listed here."
        : "No upstream servers are configured here: leave it out."),
  ),
  memoryMb: z.number().int().optional().describe(
    `Memory limit in MB for the whole process (default ${config.limits.memoryMb}; ${MIN_LIMITS.memoryMb} to ${config.maxLimits.memoryMb}).`,
  ),
});

const searchToolsInput = {
  query: z.string().optional().describe("Words to look for in tool names and descriptions."),
  server: z.string().optional().describe("Only this upstream server."),
  detail: z.boolean().optional().describe(
    "Include each tool's input schema and its TypeScript signature in the sandbox.",
  ),
  limit: z.number().int().min(1).max(200).optional().describe("Most results (default 20)."),
};

const installDependenciesInput = {
  dependencies: z.array(z.string()).min(1).describe(
    'e.g. ["npm:zod@3.23.8", "npm:date-fns@4.1.0"]',
  ),
  conversationId: conversationIdInput.optional(),
};

const writeFileInput = {
  path: z.string().describe('Path relative to the workspace, e.g. "data/input.csv".'),
  content: z.string().describe("File content: text, or base64 when encoding is base64."),
  encoding: z.enum(["utf8", "base64"]).optional().describe("Default utf8."),
  conversationId: conversationIdInput.optional(),
};

const readFileInput = {
  conversationId: conversationIdInput,
  path: z.string().describe("Path relative to the workspace."),
  encoding: z.enum(["utf8", "base64"]).optional().describe("Force an encoding."),
};

const listFilesInput = { conversationId: conversationIdInput };

const listWorkspacesInput = {};

const deleteWorkspaceInput = { conversationId: conversationIdInput };

function describeCeiling(sandbox: Sandbox): string {
  const { ceiling, limits, maxLimits } = sandbox.config;
  const list = (v: true | string[], all: string) =>
    v === true ? all : v.length ? v.join(", ") : "none";
  return [
    `Operator ceiling in force: net: ${list(ceiling.net, "any public host")}` +
    (ceiling.privateNet.length ? ` (plus private: ${ceiling.privateNet.join(", ")})` : "") +
    `; read/write: the workspace${
      ceiling.read.length ? ` (+ read ${ceiling.read.join(", ")})` : ""
    }` +
    `${ceiling.write.length ? ` (+ write ${ceiling.write.join(", ")})` : ""}` +
    `; env: ${list(ceiling.env, "any")}; sys: ${list(ceiling.sys, "all")}; run: ${
      list(ceiling.run, "")
    }` +
    `; ffi: ${ceiling.ffi ? "yes" : "no"}; all: ${ceiling.all ? "yes" : "no"}.`,
    `Limits: timeout ${limits.timeoutMs} ms (max ${maxLimits.timeoutMs}), memory ${limits.memoryMb} MB ` +
    `(max ${maxLimits.memoryMb}), stdout and stderr ${limits.stdoutBytes} bytes each.`,
  ].join(" ");
}

/** The short text a model reads first. */
export function renderResultText(result: ExecutionResult): string {
  const lines = [
    `status: ${result.status} (${result.durationMs} ms, conversationId ${result.conversationId})`,
  ];
  if ("returnValue" in result) lines.push(`returnValue: ${JSON.stringify(result.returnValue)}`);
  if (result.error) lines.push(`error: ${result.error.type}: ${result.error.message}`);
  for (const d of result.permissions.denied) {
    lines.push(`denied: ${d.kind} ${JSON.stringify(d.value)}: ${d.reason}`);
  }
  if (result.stdout) {
    lines.push(`stdout${result.truncated.stdout ? " (truncated)" : ""}:\n${result.stdout}`);
  }
  if (result.stderr) {
    lines.push(`stderr${result.truncated.stderr ? " (truncated)" : ""}:\n${result.stderr}`);
  }
  for (const w of result.warnings ?? []) lines.push(`warning: ${w}`);
  return lines.join("\n");
}

function toolError(message: string): CallToolResult {
  return { isError: true, content: [{ type: "text", text: message }] };
}

function structured(data: Record<string, unknown>, text: string, isError = false): CallToolResult {
  return {
    content: [{ type: "text", text }],
    structuredContent: data,
    ...(isError ? { isError } : {}),
  };
}

/** Errors that are the caller's fault: reported as tool errors, not logged as bugs. */
function isCallerError(error: unknown): error is Error {
  return error instanceof WorkspaceFileError || error instanceof WorkspaceIdError ||
    error instanceof BusyError;
}

async function guarded(fn: () => Promise<CallToolResult>): Promise<CallToolResult> {
  try {
    return await fn();
  } catch (error) {
    if (isCallerError(error)) return toolError(error.message);
    log(`internal error: ${(error as Error).stack ?? error}`);
    return toolError(`Internal error in the conductor: ${(error as Error).message}`);
  }
}

export interface ConductorServer {
  server: McpServer;
  /** Aborts every execution in flight (client gone) and waits for them to end. */
  shutdown(): Promise<void>;
}

/** Builds the MCP server with every tool over one sandbox, once `sandbox.init()` is done. */
export function createConductorServer(sandbox: Sandbox): ConductorServer {
  const { config } = sandbox;
  if (Object.keys(config.mcpServers).length && !sandbox.upstreams) {
    throw new Error(
      "Cannot build the MCP server: call sandbox.init() first (it loads the upstreams)",
    );
  }
  const server = new McpServer(
    { name: SERVER_NAME, version: SERVER_VERSION },
    {
      capabilities: { logging: {} },
      instructions:
        "Runs TypeScript/JavaScript in a fresh Deno sandbox per call. Pass the conversationId " +
        "returned by the first run_deno_code call to keep files and installed packages between calls.",
    },
  );
  const inFlight = new Set<{ controller: AbortController; done: Promise<unknown> }>();
  /** Conversations with a run or an install in progress here, and how many. */
  const busy = new Map<string, number>();
  /** Set by `shutdown()`: no run or install starts after it has killed those in flight. */
  let closing = false;
  async function busyWith<T>(id: string | undefined, fn: () => Promise<T>): Promise<T> {
    if (closing) throw new BusyError("The server is shutting down: no new run or install starts");
    if (id === undefined) return await fn();
    busy.set(id, (busy.get(id) ?? 0) + 1);
    try {
      return await fn();
    } finally {
      const left = busy.get(id)! - 1;
      if (left) busy.set(id, left);
      else busy.delete(id);
    }
  }

  function existingWorkspace(id: string): Workspace {
    validateConversationId(id);
    const ws = findWorkspace(config.workspacesDir, id);
    if (!ws) throw new WorkspaceFileError(`No workspace "${id}": run code or write a file first`);
    return ws;
  }

  server.registerTool("run_deno_code", {
    title: "Run Deno code",
    description: [
      "Runs TypeScript or JavaScript in a fresh, isolated Deno process and returns its output.",
      "Return value: the default export, or the value of the last top-level expression, as JSON " +
      "(returnValue); use it instead of printing when you want data back. Top-level await works.",
      "Permissions: NOTHING is granted unless asked for in `permissions` (no file, network or env " +
      "access). Ask for the least you need. A request beyond the operator's ceiling is refused " +
      "before running (status rejected, each denied entry with its reason). A denial while running " +
      "is status error with error.type NotCapable, whose message names the permission to ask for.",
      "Files: the cwd is this conversation's workspace; files persist between calls with the same " +
      "conversationId (omit it to start a new workspace; its id comes back in conversationId).",
      'Packages: pass `dependencies` like ["npm:zod@3.23.8"] to install first (no package code runs ' +
      'at install), then import by name (import { z } from "zod"). No network is needed at run time.',
      describeCeiling(sandbox),
    ].join("\n"),
    inputSchema: z.strictObject(runDenoCodeInput(config)),
    outputSchema: resultOutput,
    annotations: {
      readOnlyHint: false,
      destructiveHint: false,
      idempotentHint: false,
      openWorldHint: true,
    },
  }, (args: Args<ReturnType<typeof runDenoCodeInput>>, extra: Extra) =>
    guarded(async () => {
      const controller = new AbortController();
      const onAbort = () => controller.abort(extra.signal.reason);
      extra.signal.addEventListener("abort", onAbort, { once: true });
      // A cancel read with its request (in the same chunk) aborted the signal already.
      if (extra.signal.aborted) onAbort();
      const token = extra._meta?.progressToken;
      const started = Date.now();
      const progress = token === undefined ? undefined : setInterval(() => {
        const seconds = Math.round((Date.now() - started) / 1000);
        extra.sendNotification({
          method: "notifications/progress",
          params: {
            progressToken: token,
            progress: seconds,
            total: Math.round((args.timeoutMs ?? config.limits.timeoutMs) / 1000),
            message: `running for ${seconds} s`,
          },
        }).catch(() => {});
      }, PROGRESS_INTERVAL_MS);
      const limits: Record<string, number> = {};
      if (args.timeoutMs !== undefined) limits.timeoutMs = args.timeoutMs;
      if (args.memoryMb !== undefined) limits.memoryMb = args.memoryMb;
      const done = busyWith(args.conversationId, () =>
        sandbox.execute({
          code: args.code,
          conversationId: args.conversationId,
          permissions: args.permissions,
          dependencies: args.dependencies,
          allowedTools: args.allowedTools,
          limits,
        }, { signal: controller.signal }));
      const entry = { controller, done };
      inFlight.add(entry);
      try {
        const result = await done;
        return structured(
          result as unknown as Record<string, unknown>,
          renderResultText(result),
          result.status !== "success",
        );
      } finally {
        inFlight.delete(entry);
        clearInterval(progress);
        extra.signal.removeEventListener("abort", onAbort);
      }
    }));

  server.registerTool("install_dependencies", {
    title: "Install packages",
    description:
      "Installs npm packages into a conversation's workspace so that later run_deno_code " +
      'calls can import them by name (import { z } from "zod"). Specifiers: "npm:NAME@VERSION". ' +
      "No package code runs during the install (no lifecycle scripts); the workspace lockfile pins " +
      "exact versions and hashes; installing what is already installed does nothing. " +
      '"jsr:NAME@VERSION" works only where the conductor can reach the jsr registry.',
    inputSchema: z.strictObject(installDependenciesInput),
    outputSchema: {
      status: z.enum(["installed", "skipped", "rejected", "install_error"]),
      conversationId: z.string(),
      dependencies: z.array(z.string()),
      denied: deniedOutput,
      message: z.string().optional(),
      durationMs: z.number(),
    },
    annotations: {
      readOnlyHint: false,
      destructiveHint: false,
      idempotentHint: true,
      openWorldHint: true,
    },
  }, (args: Args<typeof installDependenciesInput>, extra: Extra) =>
    guarded(async () => {
      await sandbox.init();
      const { ws, value: result } = await inWorkspace(
        config.workspacesDir,
        args.conversationId,
        // Installs take a slot like executions: the machine runs a bounded number of children.
        (ws) =>
          busyWith(ws.id, () =>
            sandbox.limiter.run(
              () => installDependencies(config, ws, args.dependencies, { signal: extra.signal }),
              extra.signal,
            )),
        (result) => result.status === "installed" || result.status === "skipped",
      );
      const data = { conversationId: ws.id, ...result };
      const text = `status: ${result.status} (conversationId ${ws.id})` +
        (result.message ? `\n${result.message}` : `\ninstalled: ${result.dependencies.join(", ")}`);
      return structured(
        data,
        text,
        result.status === "rejected" || result.status === "install_error",
      );
    }));

  server.registerTool("write_file", {
    title: "Write a file",
    description: "Writes a file into the conversation's workspace (the cwd of run_deno_code), " +
      "creating folders as needed. Text by default; binary as base64. Refused past the workspace " +
      `quota (${
        Math.round(config.workspaceQuotaBytes / 1048576)
      } MB). Without conversationId, a new ` +
      "workspace is made and its id returned.",
    inputSchema: z.strictObject(writeFileInput),
    outputSchema: { conversationId: z.string(), path: z.string(), sizeBytes: z.number() },
    annotations: {
      readOnlyHint: false,
      destructiveHint: true,
      idempotentHint: true,
      openWorldHint: false,
    },
  }, (args: Args<typeof writeFileInput>) =>
    guarded(async () => {
      await sandbox.init();
      const { ws, value: sizeBytes } = await inWorkspace(
        config.workspacesDir,
        args.conversationId,
        (ws) =>
          writeWorkspaceFile(ws, args.path, args.content, {
            encoding: args.encoding ?? "utf8",
            quotaBytes: config.workspaceQuotaBytes,
          }),
      );
      return structured(
        { conversationId: ws.id, path: args.path, sizeBytes },
        `wrote ${sizeBytes} bytes to ${args.path} (conversationId ${ws.id})`,
      );
    }));

  server.registerTool("read_file", {
    title: "Read a file",
    description:
      "Reads a file from the conversation's workspace. Text comes back as utf8; binary " +
      `files as base64. Files over ${config.readFileMaxBytes} bytes are refused: read a slice with ` +
      "run_deno_code instead.",
    inputSchema: z.strictObject(readFileInput),
    outputSchema: {
      conversationId: z.string(),
      path: z.string(),
      content: z.string(),
      encoding: z.enum(["utf8", "base64"]),
      sizeBytes: z.number(),
    },
    annotations: { readOnlyHint: true, openWorldHint: false },
  }, (args: Args<typeof readFileInput>) =>
    guarded(async () => {
      const ws = existingWorkspace(args.conversationId);
      const file = await readWorkspaceFile(ws, args.path, {
        maxBytes: config.readFileMaxBytes,
        encoding: args.encoding,
      });
      return structured(
        { conversationId: ws.id, path: args.path, ...file },
        file.encoding === "utf8"
          ? file.content
          : `(${file.sizeBytes} bytes, base64)\n${file.content}`,
      );
    }));

  server.registerTool("list_files", {
    title: "List files",
    description: "Lists the files in the conversation's workspace, with sizes.",
    inputSchema: z.strictObject(listFilesInput),
    outputSchema: {
      conversationId: z.string(),
      entries: z.array(z.object({
        path: z.string(),
        type: z.enum(["file", "directory", "symlink"]),
        sizeBytes: z.number(),
      })),
      truncated: z.boolean(),
    },
    annotations: { readOnlyHint: true, openWorldHint: false },
  }, (args: Args<typeof listFilesInput>) =>
    guarded(async () => {
      const ws = existingWorkspace(args.conversationId);
      const { entries, truncated } = await listWorkspaceFiles(ws);
      const text = entries.length
        ? entries.map((e) =>
          `${printablePath(e.type === "directory" ? e.path + "/" : e.path)} ${e.sizeBytes}`
        )
          .join("\n")
        : "(empty)";
      return structured({ conversationId: ws.id, entries, truncated }, text);
    }));

  server.registerTool("list_workspaces", {
    title: "List workspaces",
    description:
      "Lists the conversation workspaces with their size, last use and installed packages.",
    inputSchema: z.strictObject(listWorkspacesInput),
    outputSchema: {
      workspaces: z.array(z.object({
        id: z.string(),
        sizeBytes: z.number(),
        createdAt: z.string(),
        lastUsedAt: z.string(),
        dependencies: z.array(z.string()),
      })),
    },
    annotations: { readOnlyHint: true, openWorldHint: false },
  }, () =>
    guarded(async () => {
      // Workspaces made ahead for prewarmed children are nobody's yet: not listed.
      const ready = sandbox.pool?.idleGenericIds() ?? new Set<string>();
      const workspaces = (await listWorkspaces(config.workspacesDir))
        .filter((w) => !ready.has(w.id));
      const text = workspaces.length
        ? workspaces.map((w) => `${w.id} ${w.sizeBytes} bytes, last used ${w.lastUsedAt}`).join(
          "\n",
        )
        : "(no workspaces)";
      return structured({ workspaces }, text);
    }));

  server.registerTool("delete_workspace", {
    title: "Delete a workspace",
    description:
      "Deletes a conversation's workspace: its files and installed packages list. Cannot be " +
      "undone. Refused while a run or an install of that conversation is in progress.",
    inputSchema: z.strictObject(deleteWorkspaceInput),
    outputSchema: { conversationId: z.string(), deleted: z.boolean() },
    annotations: {
      readOnlyHint: false,
      destructiveHint: true,
      idempotentHint: true,
      openWorldHint: false,
    },
  }, (args: Args<typeof deleteWorkspaceInput>) =>
    guarded(async () => {
      validateConversationId(args.conversationId);
      if (busy.has(args.conversationId)) {
        throw new WorkspaceFileError(
          `Workspace "${args.conversationId}" is in use by a run or an install in progress: ` +
            "cancel it or wait for it, then delete",
        );
      }
      sandbox.pool?.drop(args.conversationId);
      const deleted = await removeWorkspace(config.workspacesDir, args.conversationId);
      return structured(
        { conversationId: args.conversationId, deleted },
        deleted ? `deleted ${args.conversationId}` : `no workspace ${args.conversationId}`,
      );
    }));

  const upstreams = sandbox.upstreams;
  if (upstreams) {
    server.registerTool("search_tools", {
      title: "Search upstream tools",
      description:
        "Finds tools of the upstream MCP servers that sandboxed code can call (code mode). " +
        "In run_deno_code, list them in allowedTools, by name or by a glob within the operator " +
        'allowlist below (e.g. ["github.get_issue"]), and call them as ' +
        "`await tools.SERVER.TOOL({ ...args })`: the result is the tool's structured content, or its " +
        "text; an upstream error is thrown. Use detail: true for input schemas and TypeScript " +
        "signatures. Combine several calls in one script and return only what you need. " +
        `Servers: ${upstreams.names.join(", ")}. Operator allowlist: ${
          config.toolPolicy.allow.join(", ") || "none"
        }; ` +
        `at most ${config.toolPolicy.maxCallsPerExecution} calls per execution.`,
      inputSchema: z.strictObject(searchToolsInput),
      outputSchema: {
        tools: z.array(z.object({
          name: z.string(),
          description: z.string(),
          inputSchema: z.record(z.string(), z.unknown()).optional(),
          signature: z.string().optional(),
        })),
      },
      annotations: { readOnlyHint: true, openWorldHint: true },
    }, (args: Args<typeof searchToolsInput>) =>
      guarded(async () => {
        const found = searchTools(
          await upstreams.allTools(),
          config.toolPolicy.allow,
          args,
          upstreams.names,
        );
        const text = found.length
          ? found.map((t) => t.signature ?? `${t.name}: ${t.description}`).join("\n")
          : "(no matching tools)";
        return structured({ tools: found }, text);
      }));
  }

  return {
    server,
    async shutdown() {
      closing = true;
      for (const entry of inFlight) entry.controller.abort(new Error("client disconnected"));
      await Promise.allSettled([...inFlight].map((e) => e.done));
      await sandbox.close();
    },
  };
}
