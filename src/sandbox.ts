/**
 * Step 2 of an execution: plan (policy, workspace, flags), spawn a fresh
 * `deno run --no-prompt` child, enforce limits, capture output, classify the outcome.
 */
import { fileURLToPath } from "node:url";
import type { ResolvedConfig } from "./config.ts";
import type { ExecutionError, ExecutionResult, ExecutionStatus } from "./execution_result.ts";
import { CappedBuffer, drain } from "./capture.ts";
import { FrameScanner, newNonce } from "./frames.ts";
import { heapMbFor, type LimitsRequest, resolveLimits } from "./limits.ts";
import type { Limits } from "./config.ts";
import { checkGrantedPaths } from "./path_guard.ts";
import {
  buildRunArgs,
  type Denial,
  grantedEnvNames,
  parsePermissions,
  PermissionRequestError,
  type Permissions,
  resolvePermissions,
} from "./permissions.ts";
import { killGroup, OWNER_ENV, ownerToken, sweepOrphans, treeRssBytes } from "./process_group.ts";
import { exposeLastExpression, preloadParser } from "./return_value.ts";
import { prepareDenoDir } from "./deno_dir.ts";
import {
  newConversationId,
  openWorkspace,
  removeWorkspace,
  validateConversationId,
  type Workspace,
  WorkspaceIdError,
  workspacePaths,
} from "./workspace.ts";

/** Absolute path of the trusted bootstrap every child runs. */
export const BOOTSTRAP_PATH = fileURLToPath(new URL("./bootstrap.ts", import.meta.url));

/** Largest code accepted, in bytes of UTF-8. */
export const MAX_CODE_BYTES = 4 * 1024 * 1024;

/** How often the memory watchdog samples the process group. */
const MEMORY_POLL_MS = 50;

/** How long output may keep flowing after the child exited (a leaked pipe holder). */
const DRAIN_GRACE_MS = 500;

/** One request to run code; every field but `code` is untrusted and optional. */
export interface ExecutionRequest {
  code: string;
  conversationId?: string | undefined;
  permissions?: unknown;
  limits?: LimitsRequest | undefined;
}

/** Everything decided before anything runs. */
export interface ExecutionPlan {
  conversationId: string;
  workspace: Workspace;
  granted: Permissions;
  denied: Denial[];
  limits: Limits;
  /** The full child command line, starting with the deno executable. */
  argv: string[];
  /** Names of the env vars the child receives (values are not shown). */
  envNames: string[];
  /** Set when the request is refused before running. */
  rejection?: ExecutionError;
}

export interface PlanOptions {
  /** Only compute: create no workspace. @default false */
  dryRun?: boolean;
}

export interface ExecuteOptions {
  /** Aborting kills the child; the result is `cancelled`. */
  signal?: AbortSignal | undefined;
  /**
   * Delete the workspace after the run when the request named no conversation (a
   * one-off run from the CLI). @default false
   */
  ephemeral?: boolean;
}

/** Env vars the conductor sets itself; a grant never overrides them. */
const RESERVED_ENV = /^(PATH|HOME|NO_COLOR|DENO_.*|LD_.*|NODE_OPTIONS|CONDUCTOR_.*)$/;

export class Sandbox {
  readonly config: ResolvedConfig;
  #owner: string;
  #ready: Promise<void> | undefined;

  constructor(config: ResolvedConfig) {
    this.config = config;
    this.#owner = ownerToken();
  }

  /** One-time start-up: the children's DENO_DIR, and the sweep of orphaned children. */
  init(): Promise<void> {
    return this.#ready ??= (async () => {
      await Deno.mkdir(this.config.workspacesDir, { recursive: true });
      await prepareDenoDir(this.config.denoDir);
      sweepOrphans(BOOTSTRAP_PATH);
    })();
  }

  /** Decides everything about a request without running it (the `--explain` view). */
  async plan(request: ExecutionRequest, options: PlanOptions = {}): Promise<ExecutionPlan> {
    await this.init();
    const { config } = this;
    let conversationId = request.conversationId ?? newConversationId();
    const rejectWith = (type: string, message: string): ExecutionPlan => ({
      conversationId,
      workspace: { id: conversationId, root: "", filesDir: "", metaDir: "" },
      granted: {},
      denied: [],
      limits: config.limits,
      argv: [],
      envNames: [],
      rejection: { type, message },
    });
    try {
      conversationId = validateConversationId(conversationId);
    } catch (error) {
      if (error instanceof WorkspaceIdError) return rejectWith(error.name, error.message);
      throw error;
    }
    if (typeof request.code !== "string") {
      return rejectWith("InvalidRequest", "Invalid code: expected a string");
    }
    const codeBytes = new TextEncoder().encode(request.code).length;
    if (codeBytes > MAX_CODE_BYTES) {
      return rejectWith(
        "InvalidRequest",
        `Code is ${codeBytes} bytes; the limit is ${MAX_CODE_BYTES}`,
      );
    }
    let requested: Permissions;
    try {
      requested = parsePermissions(request.permissions);
    } catch (error) {
      if (error instanceof PermissionRequestError) return rejectWith(error.name, error.message);
      throw error;
    }
    const workspace = options.dryRun
      ? await workspacePaths(config.workspacesDir, conversationId)
      : await openWorkspace(config.workspacesDir, conversationId);
    const { granted, denied } = resolvePermissions(requested, config.ceiling, {
      filesDir: workspace.filesDir,
    });
    const roots = (kind: "read" | "write") => [workspace.filesDir, ...config.ceiling[kind]];
    const pathDenials = denied.length ? [] : await checkGrantedPaths(granted, [
      ...new Set([...roots("read"), ...roots("write")]),
    ]);
    const limitResult = resolveLimits(request.limits ?? {}, config.limits, config.maxLimits);
    const allDenied = [...denied, ...pathDenials, ...limitResult.denied];
    const args = buildRunArgs(granted, {
      bootstrap: BOOTSTRAP_PATH,
      privateNet: config.ceiling.privateNet,
      heapMb: heapMbFor(limitResult.limits.memoryMb),
    });
    const plan: ExecutionPlan = {
      conversationId,
      workspace,
      granted,
      denied: allDenied,
      limits: limitResult.limits,
      argv: [Deno.execPath(), ...args],
      envNames: Object.keys(this.#childEnv(granted, workspace)).sort(),
    };
    if (allDenied.length) {
      plan.rejection = {
        type: "PermissionDenied",
        message: "Refused by policy: " +
          allDenied.map((d) => `${d.kind} ${JSON.stringify(d.value)}: ${d.reason}`).join("; "),
      };
    }
    return plan;
  }

  #childEnv(granted: Permissions, workspace: Workspace): Record<string, string> {
    const env: Record<string, string> = {};
    const host = Deno.env.toObject();
    for (const name of grantedEnvNames(granted, Object.keys(host))) {
      if (!RESERVED_ENV.test(name)) env[name] = host[name]!;
    }
    // Security: a fixed, minimal environment. Without PATH, Deno writes a shim into DENO_DIR.
    env.PATH = host.PATH ?? "/usr/local/bin:/usr/bin:/bin";
    env.HOME = workspace.filesDir;
    env.DENO_DIR = this.config.denoDir;
    env.NO_COLOR = "1";
    env.DENO_NO_UPDATE_CHECK = "1";
    env[OWNER_ENV] = this.#owner;
    return env;
  }

  /** Plans and runs one execution. Never throws for the code's own failures. */
  async execute(request: ExecutionRequest, options: ExecuteOptions = {}): Promise<ExecutionResult> {
    const started = performance.now();
    preloadParser();
    const plan = await this.plan(request);
    try {
      if (plan.rejection || options.signal?.aborted) {
        return {
          status: plan.rejection ? "rejected" : "cancelled",
          stdout: "",
          stderr: "",
          truncated: { stdout: false, stderr: false },
          error: plan.rejection ?? { type: "cancelled", message: "Cancelled before it started" },
          permissions: { granted: plan.granted, denied: plan.denied },
          conversationId: plan.conversationId,
          durationMs: Math.round(performance.now() - started),
        };
      }
      return await this.#run(plan, request.code, options.signal, started);
    } finally {
      if (options.ephemeral && request.conversationId === undefined && plan.workspace.root) {
        await removeWorkspace(this.config.workspacesDir, plan.conversationId);
      }
    }
  }

  async #run(
    plan: ExecutionPlan,
    code: string,
    signal: AbortSignal | undefined,
    started: number,
  ): Promise<ExecutionResult> {
    const { limits, workspace } = plan;
    const nonce = newNonce();
    const child = new Deno.Command(plan.argv[0]!, {
      args: plan.argv.slice(1),
      cwd: workspace.filesDir,
      env: this.#childEnv(plan.granted, workspace),
      clearEnv: true,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
      // Security: its own process group, so that a kill reaches every grandchild.
      detached: true,
    }).spawn();
    const pid = child.pid;

    let fired: ExecutionStatus | undefined;
    let firedMessage = "";
    const fire = (status: ExecutionStatus, message: string) => {
      if (fired) return;
      fired = status;
      firedMessage = message;
      killGroup(pid);
    };

    const timer = setTimeout(
      () => fire("timeout", `Timed out after ${limits.timeoutMs} ms`),
      limits.timeoutMs,
    );
    const memoryLimit = limits.memoryMb * 1024 * 1024;
    const watchdog = setInterval(() => {
      const rss = treeRssBytes(pid);
      if (rss > memoryLimit) {
        fire(
          "memory_limit",
          `Resident memory reached ${
            Math.round(rss / 1048576)
          } MB; the limit is ${limits.memoryMb} MB`,
        );
      }
    }, MEMORY_POLL_MS);
    const onAbort = () => fire("cancelled", "Cancelled");
    signal?.addEventListener("abort", onAbort, { once: true });

    const frames: Record<string, unknown>[] = [];
    const out = new CappedBuffer(limits.stdoutBytes);
    const err = new CappedBuffer(limits.stderrBytes);
    const pump = (stream: ReadableStream<Uint8Array>, buffer: CappedBuffer, name: string) => {
      const scanner = new FrameScanner(nonce, {
        maxFrameBytes: limits.stdoutBytes + 1024,
        onFrame: (m) => frames.push(m as Record<string, unknown>),
        onOutput: (bytes) => {
          if (!buffer.add(bytes)) fire("output_limit", `${name} exceeded ${buffer.cap} bytes`);
        },
        onOversize: () =>
          fire("output_limit", `The result frame exceeded ${limits.stdoutBytes} bytes`),
      });
      return drain(stream, scanner, stopReading.signal);
    };
    const stopReading = new AbortController();
    const outDone = pump(child.stdout, out, "stdout");
    const errDone = pump(child.stderr, err, "stderr");

    try {
      const writer = child.stdin.getWriter();
      const header = JSON.stringify({
        nonce,
        code: await exposeLastExpression(code),
        maxReturnBytes: limits.stdoutBytes,
      });
      await writer.write(new TextEncoder().encode(header + "\n"));
      await writer.close();
    } catch {
      // The child died before reading its code; its status says why.
    }

    const status = await child.status;
    const durationMs = Math.round(performance.now() - started);
    clearTimeout(timer);
    clearInterval(watchdog);
    signal?.removeEventListener("abort", onAbort);
    // Security: nothing of an execution outlives it.
    killGroup(pid);
    // A process that left the group (setsid) may still hold the pipes: stop waiting.
    const grace = setTimeout(() => stopReading.abort(), DRAIN_GRACE_MS);
    await Promise.all([outDone, errDone]);
    clearTimeout(grace);

    const stderr = err.text();
    if (!fired && status.signal === "SIGTRAP" && stderr.includes("Reached heap limit")) {
      fired = "memory_limit";
      firedMessage = `The JavaScript heap reached its cap (${
        heapMbFor(limits.memoryMb)
      } MB, from memoryMb ${limits.memoryMb})`;
    }
    const result: ExecutionResult = {
      status: "success",
      stdout: out.text(),
      stderr,
      truncated: { stdout: out.truncated, stderr: err.truncated },
      permissions: { granted: plan.granted, denied: plan.denied },
      conversationId: plan.conversationId,
      durationMs,
      exitCode: status.code,
    };
    if (status.signal) result.signal = status.signal;
    const errorFrame = frames.find((f) => f.t === "error");
    const resultFrame = frames.find((f) => f.t === "result");
    if (resultFrame && "value" in resultFrame) result.returnValue = resultFrame.value;

    if (fired) {
      result.status = fired;
      result.error = { type: fired, message: firedMessage };
    } else if (errorFrame) {
      result.status = "error";
      result.error = errorFrame.error as ExecutionError;
    } else if (!status.success) {
      result.status = "error";
      result.error = status.signal
        ? { type: "Signal", message: `The process was killed by ${status.signal}` }
        : { type: "Exit", message: `The process exited with code ${status.code}` };
      if (!resultFrame && stderr) result.error.message += `: ${lastLines(stderr)}`;
    }
    return result;
  }
}

function lastLines(text: string): string {
  return text.trim().split("\n").slice(-3).join("\n");
}
