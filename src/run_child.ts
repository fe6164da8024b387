/**
 * Step 2 of an execution: spawn a fresh `deno run --no-prompt` child for a plan, give it
 * its code, enforce the limits, capture output, and classify the outcome.
 */
import { CappedBuffer, drain } from "./capture.ts";
import type { ExecutionError, ExecutionResult, ExecutionStatus } from "./execution_result.ts";
import type { ExecutionPlan } from "./execution_plan.ts";
import { FrameScanner, newNonce } from "./frames.ts";
import { heapMbFor } from "./limits.ts";
import { killGroup, treeRssBytes } from "./process_group.ts";
import { exposeLastExpression } from "./return_value.ts";

/** How often the memory watchdog samples the process group. */
const MEMORY_POLL_MS = 50;

/** How long output may keep flowing after the child exited (a leaked pipe holder). */
const DRAIN_GRACE_MS = 500;

/**
 * Runs a plan that policy accepted. Never throws for the code's own failures: every
 * outcome is a status.
 */
export async function runChild(
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
    env: plan.env,
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
  if (result.error && result.status === "error") addInstallHint(result.error);
  return result;
}

function lastLines(text: string): string {
  return text.trim().split("\n").slice(-3).join("\n");
}

/** Errors Deno gives for a module that is not installed in the workspace. */
const NOT_INSTALLED =
  /lockfile is out of date|not found in cache|not a dependency|Relative import path "[^".\/][^"]*" not prefixed|--cached-only|--no-npm is specified|Could not find npm package/;

/** Says how to fix an import of a package that the workspace has not installed. */
function addInstallHint(error: ExecutionError): void {
  if (!NOT_INSTALLED.test(error.message)) return;
  error.message += "\nHint: only installed packages can be imported. Install it first " +
    '(MCP: dependencies ["npm:NAME@VERSION"] or install_dependencies; CLI: --dep npm:NAME@VERSION), ' +
    'then import it by name ("NAME") or by the same specifier.';
}
