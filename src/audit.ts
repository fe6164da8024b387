/**
 * The audit log: one JSON line per execution, secrets redacted.
 */
import { ConfigError } from "./config.ts";
import type { ExecutionPlan } from "./execution_plan.ts";
import type { ExecutionResult } from "./execution_result.ts";
import { sha256Hex } from "./hash.ts";
import { log } from "./log.ts";
import { redactDeep, type Redactor } from "./redact.ts";

export interface AuditRecord {
  id: string;
  time: string;
  conversationId: string;
  codeSha256: string;
  lockfileSha256: string | null;
  argv: string[];
  limits: ExecutionPlan["limits"];
  dependencies: string[];
  status: ExecutionResult["status"];
  durationMs: number;
  exitCode?: number;
  signal?: string;
  denied: ExecutionResult["permissions"]["denied"];
  errorType?: string;
}

/** The record of one execution. */
export async function auditRecord(
  plan: ExecutionPlan,
  code: string,
  result: ExecutionResult,
): Promise<AuditRecord> {
  // The lockfile the run was given (runs without dependencies get none: no read, and no
  // exception for a missing file, on their path).
  const lockArg = plan.argv.find((arg) => arg.startsWith("--lock="));
  const lock = lockArg
    ? await Deno.readFile(lockArg.slice("--lock=".length)).catch(() => undefined)
    : undefined;
  const record: AuditRecord = {
    id: crypto.randomUUID(),
    time: new Date().toISOString(),
    conversationId: result.conversationId,
    codeSha256: sha256Hex(typeof code === "string" ? code : ""),
    lockfileSha256: lock ? sha256Hex(lock) : null,
    argv: plan.argv,
    limits: plan.limits,
    dependencies: plan.dependencies,
    status: result.status,
    durationMs: result.durationMs,
    denied: result.permissions.denied,
  };
  if (result.exitCode !== undefined) record.exitCode = result.exitCode;
  if (result.signal !== undefined) record.signal = result.signal;
  if (result.error) record.errorType = result.error.type;
  return record;
}

/** Lines that may wait for the file at once; past it, lines are dropped and counted. */
const MAX_PENDING = 1000;

/**
 * How long the first line of a batch waits for others. Each wait and each write is a turn
 * of the event loop (a timer, then the write's completion): one pair per execution cost
 * the conductor about 0.3 ms of CPU per call under load, 15 % of its own share. Lines of
 * runs that end within this window share one pair. `written()` cuts the wait short.
 */
const BATCH_MS = 25;

/**
 * The audit file, appended to off the callers' path. Lines (an execution's record, or a
 * tool call's) are redacted, then written in order, in batches: the lines that arrive
 * within BATCH_MS of the first, or while a write is in flight, go together, each batch one
 * `O_APPEND` write so that lines never interleave. Asynchronous on purpose: a write that
 * blocks (a slow or hung disk) must not stop the conductor's event loop, which enforces
 * every run's limits. Past MAX_PENDING waiting lines (the file is not keeping up) a line
 * is dropped and counted: a stalled disk holds one thread and bounded memory.
 */
export class AuditLog {
  readonly path: string;
  #queue: { record: () => object | Promise<object>; redact: Redactor }[] = [];
  /** Lines accepted and not yet written (or failed). */
  #pending = 0;
  #dropped = 0;
  #flushing: Promise<void> | undefined;
  /** Ends the current batch's wait at once (for `written()`). */
  #flushNow: (() => void) | undefined;

  constructor(path: string) {
    this.path = path;
  }

  /** Lines accepted and not yet written. */
  get pending(): number {
    return this.#pending;
  }

  /** Queues one line: `record` is built (and redacted) off the caller's path. */
  add(record: () => object | Promise<object>, redact: Redactor): void {
    if (this.#pending >= MAX_PENDING) {
      if (this.#dropped++ % 100 === 0) {
        log(`audit: ${this.#dropped} line(s) dropped: the audit file is not keeping up`);
      }
      return;
    }
    this.#pending++;
    this.#queue.push({ record, redact });
    this.#flushing ??= this.#flush();
  }

  /** Resolves once every line so far is written (or has failed). */
  async written(): Promise<void> {
    this.#flushNow?.();
    while (this.#flushing) await this.#flushing;
  }

  /**
   * Waits for the lines so far, but at most `ms`: a write that hangs (a stalled disk) must
   * not keep the conductor from exiting. Logs how many lines were left.
   */
  async settle(ms: number): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const gaveUp = new Promise<boolean>((r) => timer = setTimeout(() => r(true), ms));
    if (await Promise.race([this.written().then(() => false), gaveUp])) {
      log(`audit: ${this.#pending} line(s) not written: the audit file did not take them`);
    }
    clearTimeout(timer);
  }

  async #flush(): Promise<void> {
    // After the callers' own work (an MCP answer's write, say), not before it: building,
    // redacting and hashing a line are not the caller's wait.
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, BATCH_MS);
      this.#flushNow = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.#flushNow = undefined;
    while (this.#queue.length) {
      const batch = this.#queue.splice(0);
      try {
        let text = "";
        for (const { record, redact } of batch) {
          try {
            text += JSON.stringify(redactDeep(await record(), redact)) + "\n";
          } catch (error) {
            logFailure(error);
          }
        }
        if (text) await appendText(this.path, text);
      } catch (error) {
        logFailure(error);
      } finally {
        this.#pending -= batch.length;
      }
    }
    this.#flushing = undefined;
  }
}

function logFailure(error: unknown): void {
  log(`audit failed: ${error instanceof Error ? error.message || error.name : String(error)}`);
}

/**
 * Appends to the audit file. It exists already (checked at start-up): no mode is passed,
 * which would cost a chmod on every write. One deleted meanwhile is made again, private.
 */
async function appendText(path: string, text: string): Promise<void> {
  try {
    await Deno.writeTextFile(path, text, { append: true, create: false });
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    await Deno.writeTextFile(path, text, { append: true, create: true, mode: 0o600 });
  }
}

/**
 * Checks at start-up that the audit file can be appended to and is a regular file (a FIFO
 * or a device would block or swallow the log); creates it if missing.
 * @throws ConfigError naming the file and the problem
 */
export async function checkAuditFile(path: string): Promise<void> {
  try {
    const info = await Deno.stat(path).catch((error) => {
      if (error instanceof Deno.errors.NotFound) return undefined;
      throw error;
    });
    if (info && !info.isFile) throw new Error("it is not a regular file");
    await Deno.writeTextFile(path, "", { append: true, create: true, mode: 0o600 });
  } catch (error) {
    throw new ConfigError(`Cannot use the audit file "${path}": ${(error as Error).message}`);
  }
}
