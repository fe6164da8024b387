/**
 * The audit log: one JSON line per execution, secrets redacted.
 */
import { ConfigError } from "./config.ts";
import type { ExecutionPlan } from "./execution_plan.ts";
import type { ExecutionResult } from "./execution_result.ts";
import { sha256Hex } from "./hash.ts";
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

/**
 * Appends one redacted JSON line (an execution's record, or a tool call's) to the audit
 * file, as one `O_APPEND` write: lines never interleave. Asynchronous on purpose: a write
 * that blocks (a slow or hung disk) must not stop the conductor's event loop, which
 * enforces every other run's limits.
 */
export async function appendAudit(path: string, record: object, redact: Redactor): Promise<void> {
  const line = JSON.stringify(redactDeep(record, redact)) + "\n";
  await Deno.writeTextFile(path, line, { append: true, create: true, mode: 0o600 });
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
