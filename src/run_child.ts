/**
 * Step 2 of an execution: spawn a fresh `deno run --no-prompt` child for a plan, give it
 * its code, enforce the limits, capture output, and classify the outcome.
 */
import { CappedBuffer, type Drain, drain } from "./capture.ts";
import type { ExecutionError, ExecutionResult, ExecutionStatus } from "./execution_result.ts";
import type { ExecutionPlan } from "./execution_plan.ts";
import { FrameScanner, newNonce } from "./frames.ts";
import { heapMbFor } from "./limits.ts";
import { killGroup, rssBytes, spawnGroupLeader, treeRssBytes } from "./process_group.ts";
import { prepareCode } from "./code_transform.ts";
import type { ToolBridge } from "./tool_bridge.ts";
import { quotaUsage, UnmeasurableError } from "./workspace.ts";

/** How often the memory watchdog samples the process group. */
const MEMORY_POLL_MS = 50;

/** How often the files folder of a run with write access is measured against the quota. */
const QUOTA_POLL_MS = 500;

/**
 * The longest wait between two measures, however long the last walk took: code can fill a
 * workspace with empty entries (within the quota) to slow each walk, then write in the gap.
 */
const MAX_QUOTA_WAIT_MS = 1500;

export interface RunOptions {
  /** Aborting kills the child: status `cancelled`. */
  signal?: AbortSignal | undefined;
  /** `performance.now()` when the request arrived, for `durationMs`. */
  started: number;
  /** The tool channel, for an execution that may call upstream tools. */
  bridge?: ToolBridge | undefined;
  /** The workspace quota, enforced during the run (for runs that may write). */
  quotaBytes?: number | undefined;
}

/** What V8 prints when the JavaScript heap runs out (then it aborts with SIGTRAP). */
const HEAP_EXHAUSTED = /Reached heap limit|Fatal JavaScript out of memory|heap out of memory/;

/**
 * Code that may listen for Node's process `exit` event: Deno emits it after `unload`, so
 * such a child is waited for instead of killed at the end of its event loop (3 ms more),
 * or what its handlers print would be lost. A false match costs only those 3 ms.
 */
const NODE_EXIT_LISTENER =
  /\.\s*(?:on|once|addListener|prependListener|prependOnceListener)\s*\(\s*(["'`])exit\1/;

/** How long output may keep flowing after the child exited (a leaked pipe holder). */
const DRAIN_GRACE_MS = 500;

/**
 * After the early end, how long the killed group has to close its pipes before the reads
 * are cancelled (it takes well under 1 ms; only a process that left the group holds them).
 */
const EARLY_DRAIN_GRACE_MS = 50;

/**
 * The argv, env, cwd and output caps of a plan: two plans with the same key get children
 * that cannot tell each other apart.
 */
export function childKey(plan: ExecutionPlan): string {
  return JSON.stringify([
    plan.launcher,
    plan.argv,
    Object.entries(plan.env).sort(([a], [b]) => a < b ? -1 : 1),
    plan.workspace.filesDir,
    plan.limits.stdoutBytes,
    plan.limits.stderrBytes,
  ]);
}

/**
 * One fresh sandbox child: spawned for a plan (possibly before its code is known: it
 * waits on stdin), used for exactly one execution, never reused.
 */
export class SandboxChild {
  readonly key: string;
  readonly pid: number;
  readonly spawnedAt = performance.now();
  #child: Deno.ChildProcess;
  #nonce = newNonce();
  #exited = false;
  #used = false;
  #finished = false;
  #fired: ExecutionStatus | undefined;
  #firedMessage = "";
  /** The first result and error frames; later ones, and other kinds, are not kept. */
  #result: Record<string, unknown> | undefined;
  #error: Record<string, unknown> | undefined;
  #out: CappedBuffer;
  #err: CappedBuffer;
  #pumps: Drain[];
  #maxReturnBytes: number;
  #onCall: ((frame: Record<string, unknown>) => void) | undefined;
  /** The exit code the bootstrap reported at "unload", and on which streams so far. */
  #exitCode: number | undefined;
  #exitSeen = { stdout: Promise.withResolvers<void>(), stderr: Promise.withResolvers<void>() };

  constructor(plan: ExecutionPlan) {
    this.key = childKey(plan);
    // Security: its own process group, so that a kill reaches every grandchild.
    this.#child = spawnGroupLeader(plan.argv[0]!, {
      args: plan.argv.slice(1),
      cwd: plan.workspace.filesDir,
      env: plan.env,
      clearEnv: true,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }, plan.launcher);
    this.pid = this.#child.pid;
    this.#child.status.then(() => this.#exited = true, () => this.#exited = true);
    const { stdoutBytes, stderrBytes } = plan.limits;
    this.#maxReturnBytes = stdoutBytes;
    this.#out = new CappedBuffer(stdoutBytes);
    this.#err = new CappedBuffer(stderrBytes);
    this.#pumps = [
      this.#pump(this.#child.stdout, this.#out, "stdout"),
      this.#pump(this.#child.stderr, this.#err, "stderr"),
    ];
    // A stream that ends needs no marker.
    this.#pumps[0]!.done.finally(() => this.#exitSeen.stdout.resolve());
    this.#pumps[1]!.done.finally(() => this.#exitSeen.stderr.resolve());
  }

  /** True once the process has ended (an idle child that died is of no use). */
  get exited(): boolean {
    return this.#exited;
  }

  #pump(
    stream: ReadableStream<Uint8Array>,
    buffer: CappedBuffer,
    name: "stdout" | "stderr",
  ): Drain {
    const scanner = new FrameScanner(this.#nonce, {
      maxFrameBytes: this.#maxReturnBytes + 1024,
      onFrame: (m) => {
        const frame = m as Record<string, unknown>;
        if (frame.t === "call") this.#onCall?.(frame);
        else if (frame.t === "exit") {
          if (typeof frame.code === "number") this.#exitCode = frame.code;
          this.#exitSeen[name].resolve();
        } else if (frame.t === "result") this.#result ??= frame;
        else if (frame.t === "error") this.#error ??= frame;
      },
      onOutput: (bytes) => {
        if (!buffer.add(bytes)) this.#fire("output_limit", `${name} exceeded ${buffer.cap} bytes`);
      },
      onOversize: () =>
        this.#fire(
          "output_limit",
          `The return value or a tool call's arguments exceeded ${this.#maxReturnBytes} bytes`,
        ),
    });
    return drain(stream, scanner);
  }

  #stopPumps(): void {
    for (const pump of this.#pumps) pump.stop();
  }

  /**
   * Lets the pumps end with their pipes (a cancelled read costs an exception each), but
   * stops them after a grace: a process that left the group (setsid) may hold the pipes.
   */
  #endPumps(graceMs: number): Promise<void> {
    const grace = setTimeout(() => this.#stopPumps(), graceMs);
    return Promise.all(this.#pumps.map((p) => p.done)).then(() => clearTimeout(grace));
  }

  #fire(status: ExecutionStatus, message: string): void {
    // After its result, a run's leftover output (a process that left the group) fires nothing.
    if (this.#fired || this.#finished) return;
    this.#fired = status;
    this.#firedMessage = message;
    killGroup(this.pid, !this.#exited);
  }

  /** Kills an unused child (and anything it started). */
  kill(): void {
    killGroup(this.pid, !this.#exited);
  }

  /**
   * Runs the code of a plan that policy accepted (its key must be this child's). Never
   * throws for the code's own failures: every outcome is a status.
   */
  async run(plan: ExecutionPlan, code: string, options: RunOptions): Promise<ExecutionResult> {
    const { signal, started, bridge, quotaBytes } = options;
    if (this.#used) throw new Error("A sandbox child runs exactly one execution");
    this.#used = true;
    const { limits } = plan;
    const pid = this.pid;
    const fire = (status: ExecutionStatus, message: string) => this.#fire(status, message);
    const timer = setTimeout(
      () => fire("timeout", `Timed out after ${limits.timeoutMs} ms`),
      limits.timeoutMs,
    );
    const memoryLimit = limits.memoryMb * 1024 * 1024;
    // A child without run, ffi or all cannot start a process: its own RSS is the group's,
    // one read instead of a walk of every thread's children.
    const { run: mayRun, ffi, all } = plan.granted;
    const measure = mayRun?.length || ffi || all ? treeRssBytes : rssBytes;
    const watchdog = setInterval(() => {
      const rss = measure(pid);
      if (rss > memoryLimit) {
        fire(
          "memory_limit",
          `Resident memory reached ${
            Math.round(rss / 1048576)
          } MB; the limit is ${limits.memoryMb} MB`,
        );
      }
    }, MEMORY_POLL_MS);
    // The workspace quota holds during the run too, not only through the conductor's writes:
    // measured while it runs (a walk waits ten times as long as the last one took, so that
    // a workspace of many files cannot keep the conductor walking it, but never more than
    // MAX_QUOTA_WAIT_MS) and once more at its end, so that a run which leaves the workspace
    // past its quota (written faster than the first measure, or already past it when the
    // run started and not brought back under it) ends `output_limit`: runs that each wrote
    // less than the first measure saw used to add up without bound.
    const overQuota = (used: number) =>
      `The workspace reached ${used} bytes; its quota is ${quotaBytes}`;
    let quotaWatch: ReturnType<typeof setTimeout> | undefined;
    let quotaStopped = false;
    const measureQuota = async () => {
      const begun = performance.now();
      let used: number;
      try {
        used = await quotaUsage(plan.workspace.filesDir, quotaBytes);
      } catch (error) {
        fire("output_limit", (error as Error).message); // a folder the code made unreadable
        return;
      }
      if (used > quotaBytes!) fire("output_limit", overQuota(used));
      else if (!quotaStopped) {
        const took = performance.now() - begun;
        const wait = Math.min(MAX_QUOTA_WAIT_MS, Math.max(QUOTA_POLL_MS, 10 * took));
        quotaWatch = setTimeout(measureQuota, wait);
      }
    };
    if (quotaBytes !== undefined) quotaWatch = setTimeout(measureQuota, QUOTA_POLL_MS);
    const onAbort = () => fire("cancelled", "Cancelled");
    signal?.addEventListener("abort", onAbort, { once: true });
    if (signal?.aborted) onAbort(); // before the listener: it would never fire

    const writer = this.#child.stdin.getWriter();
    const encoder = new TextEncoder();
    let writes = Promise.resolve();
    const writeText = (text: string) => {
      const bytes = encoder.encode(text);
      writes = writes.then(() => writer.write(bytes)).catch(() => {});
      return writes;
    };
    const writeLine = (value: unknown) => writeText(JSON.stringify(value) + "\n");
    if (bridge) {
      // Replies go back on stdin, one line per call, while the child runs.
      let frames = 0;
      this.#onCall = (frame) => {
        if (++frames > bridge.maxFrames) {
          fire("output_limit", `The code sent more than ${bridge.maxFrames} tool calls`);
          return;
        }
        bridge.handle(frame, signal).then((reply) => reply && writeLine(reply)).catch(() => {});
      };
    }
    const prepared = await prepareCode(code, plan.workspace.filesDir);
    const header: Record<string, unknown> = {
      code: prepared.code,
      typescript: prepared.typescript,
      maxReturnBytes: limits.stdoutBytes,
    };
    if (plan.tools) header.tools = plan.tools.bindings;
    // The nonce goes first, on a line of its own: the bootstrap keeps it as bytes, never as
    // a string, which a heap snapshot (`node:v8`, no permission needed) would show the code.
    await writeText(this.#nonce + "\n" + JSON.stringify(header) + "\n");
    if (!bridge) writes = writes.then(() => writer.close()).catch(() => {});

    // Done when the process exits, or as soon as the bootstrap has said on both streams
    // that the event loop ran dry: then everything is captured, and the group is killed
    // rather than waited for through Deno's teardown and the kernel's reaping (3 ms each).
    const drained = Promise.all([this.#exitSeen.stdout.promise, this.#exitSeen.stderr.promise]);
    const waitForExit = NODE_EXIT_LISTENER.test(code);
    const early = await Promise.race([
      this.#child.status.then(() => false),
      drained.then(() => !waitForExit && this.#exitCode !== undefined && !this.#fired),
    ]);
    let status: Pick<Deno.CommandStatus, "code" | "signal" | "success">;
    if (early) {
      // Security: nothing of an execution outlives it; the group dies, unawaited. Its
      // output is complete (the exit frames came last); the pipes close as it dies.
      killGroup(pid, !this.#exited);
      void this.#endPumps(EARLY_DRAIN_GRACE_MS);
      status = { code: this.#exitCode!, signal: null, success: this.#exitCode === 0 };
    } else {
      status = await this.#child.status;
      // Security: nothing of an execution outlives it.
      killGroup(pid);
      await this.#endPumps(DRAIN_GRACE_MS);
    }
    const durationMs = Math.round(performance.now() - started);
    // The code is done: no timeout, memory limit or cancel can fire from here on.
    clearTimeout(timer);
    clearInterval(watchdog);
    quotaStopped = true;
    clearTimeout(quotaWatch);
    signal?.removeEventListener("abort", onAbort);
    const warnings: string[] = [];
    if (quotaBytes !== undefined) {
      // What it wrote since the last measure counts too (all of it, in a short run).
      try {
        const used = await quotaUsage(plan.workspace.filesDir);
        if (used > quotaBytes) {
          this.#fire("output_limit", overQuota(used));
          warnings.push(
            `The workspace holds ${used} bytes, over its quota of ${quotaBytes}: delete files ` +
              "before writing more (writes through the conductor are refused until then)",
          );
        }
      } catch (error) {
        if (!(error instanceof UnmeasurableError)) throw error;
        warnings.push(`${error.message} (writes through the conductor are refused until then)`);
      }
    }
    this.#finished = true;
    this.#onCall = undefined;
    bridge?.end(); // its calls still in flight are cancelled upstream
    writes.then(() => writer.close()).catch(() => {});
    let fired = this.#fired;
    let firedMessage = this.#firedMessage;
    const out = this.#out;
    const err = this.#err;

    const stderr = err.text();
    if (!fired && status.signal === "SIGTRAP" && HEAP_EXHAUSTED.test(stderr)) {
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
    if (warnings.length) result.warnings = warnings;
    const errorFrame = this.#error;
    const resultFrame = this.#result;
    if (resultFrame && "value" in resultFrame) result.returnValue = resultFrame.value;

    if (fired) {
      result.status = fired;
      result.error = { type: fired, message: firedMessage };
    } else if (errorFrame) {
      result.status = "error";
      result.error = errorFromFrame(errorFrame.error);
    } else if (!status.success) {
      result.status = "error";
      result.error = status.signal
        ? { type: "Signal", message: `The process was killed by ${status.signal}` }
        : { type: "Exit", message: `The process exited with code ${status.code}` };
      if (!resultFrame && stderr) result.error.message += `: ${lastLines(stderr)}`;
    }
    if (result.error && result.status === "error") {
      addInstallHint(result.error);
      addPrivateNetHint(result.error, plan);
      addWorkspaceFileHint(result.error, plan);
    }
    return result;
  }
}

/** The longest error type kept: a class name, which the code may set to anything. */
const MAX_ERROR_TYPE = 200;

/**
 * The error the code's frame reports, in the result's shape whatever the code made of it:
 * the code sets an error's name and message (a megabyte of text, an object), and the name
 * goes into the audit line as is.
 */
function errorFromFrame(raw: unknown): ExecutionError {
  const frame = (raw && typeof raw === "object" ? raw : {}) as Record<string, unknown>;
  const text = (value: unknown) => typeof value === "string" ? value : String(value ?? "");
  const type = text(frame.type);
  const error: ExecutionError = {
    type: type.length > MAX_ERROR_TYPE ? type.slice(0, MAX_ERROR_TYPE) + "..." : type || "Error",
    message: text(frame.message),
  };
  if (typeof frame.stack === "string") error.stack = frame.stack;
  return error;
}

function lastLines(text: string): string {
  return text.trim().split("\n").slice(-3).join("\n");
}

/** Errors Deno gives for a module that is not installed in the workspace. */
const NOT_INSTALLED =
  /lockfile is out of date|not found in cache|not a dependency|Relative import path "[^".\/][^"]*" not prefixed|--cached-only|--no-npm is specified|Could not find npm package/;

/**
 * Deno's denial says "run again with the --allow-net flag" even when the run had it and
 * the address is one the conductor denies (private, loopback, link-local): say why.
 */
function addPrivateNetHint(error: ExecutionError, plan: ExecutionPlan): void {
  // With `net: true` every other host is allowed: a denial is the conductor's deny list.
  if (plan.granted.net !== true || !/Requires net access to "[^"]+"/.test(error.message)) return;
  error.message += "\nHint: the run had network access, but not to this address: private, " +
    "loopback, link-local and metadata addresses, the host's own addresses, and names that " +
    "resolve to them are denied unless the operator's ceiling.privateNet lists them.";
}

/**
 * A file of the workspace that could not be read or imported: say where relative paths
 * lead (only the code itself is sent) and which permission reads them.
 */
function addWorkspaceFileHint(error: ExecutionError, plan: ExecutionPlan): void {
  // Deno names a relative path as the code gave it: relative to the files folder (the cwd).
  const inside = (path: string | undefined) =>
    path !== undefined && !path.split("/").includes("..") &&
    (path.startsWith(plan.workspace.filesDir + "/") || !path.startsWith("/"));
  const missing = /Module not found "file:\/\/([^"]+)"/.exec(error.message)?.[1];
  if (inside(missing)) {
    error.message +=
      "\nHint: relative paths lead into the conversation's files folder (the cwd), " +
      "and only the code itself is sent: write the files it imports there first (MCP write_file, " +
      "CLI conductor files put).";
    return;
  }
  const unread = /Requires read access to "([^"]+)"/.exec(error.message)?.[1];
  if (inside(unread)) {
    error.message += "\nHint: files of the conversation's workspace are read (and imported) " +
      'with read permission: permissions { read: ["."] } (CLI --allow-read).';
  }
}

/** Says how to fix an import of a package that the workspace has not installed. */
function addInstallHint(error: ExecutionError): void {
  if (!NOT_INSTALLED.test(error.message)) return;
  error.message += "\nHint: only installed packages can be imported. Install it first " +
    '(MCP: dependencies ["npm:NAME@VERSION"] or install_dependencies; CLI: --dep npm:NAME@VERSION), ' +
    'then import it by name ("NAME") or by the same specifier.';
}
