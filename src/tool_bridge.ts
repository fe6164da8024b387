/**
 * The conductor's end of the tool channel: a call frame from a sandboxed child is checked
 * against the execution's allowlist and limits, forwarded to the upstream, and answered
 * with one reply line on the child's stdin.
 *
 * Security: the child's frames are claims, not authority. The channel is the child's own
 * stdio (no network permission, nothing another execution can reach), frames carry the
 * execution's nonce (which user code never sees), and every call is re-checked here
 * against the tools this execution was granted, while it runs.
 */
import { sha256Hex } from "./hash.ts";
import type { Upstreams, UpstreamTool } from "./upstreams.ts";

/** Refused calls written to the audit log per execution. */
const MAX_LOGGED_REFUSALS = 20;

/**
 * Calls of one execution in flight at once; more wait for one to end. Answers are held
 * whole in the conductor: forty 9 MB answers at once took 560 MB and its thread for
 * seconds, with the byte budget spent after the first.
 */
const MAX_CALLS_IN_FLIGHT = 4;

const encoder = new TextEncoder();

export interface ToolLimits {
  /** Tool calls one execution may make. @default 100 */
  maxCallsPerExecution: number;
  /** Bytes of tool results one execution may receive. @default 10 MiB */
  maxBytesPerExecution: number;
}

export interface ToolCallAudit {
  tool: string;
  durationMs: number;
  status: "ok" | "error" | "refused";
  argsSha256: string;
  message?: string;
}

export interface ToolReply {
  t: "reply";
  id: number;
  ok: boolean;
  value?: unknown;
  error?: string;
}

export class ToolBridge {
  #upstreams: Upstreams;
  #allowed: Set<string>;
  #limits: ToolLimits;
  #deadline: number;
  #onAudit: (record: ToolCallAudit) => void;
  #calls = 0;
  #bytes = 0;
  #refusals = 0;
  #inFlight = 0;
  #waiting: (() => void)[] = [];
  /** Aborted when the execution ends: its calls still in flight are cancelled upstream. */
  #ended = new AbortController();

  constructor(
    upstreams: Upstreams,
    allowed: readonly UpstreamTool[],
    limits: ToolLimits,
    options: { deadline: number; onAudit: (record: ToolCallAudit) => void },
  ) {
    this.#upstreams = upstreams;
    this.#allowed = new Set(allowed.map((t) => JSON.stringify([t.server, t.name])));
    this.#limits = limits;
    this.#deadline = options.deadline;
    this.#onAudit = options.onAudit;
  }

  get calls(): number {
    return this.#calls;
  }

  /**
   * Call frames past which the execution is flooding the channel and should be stopped:
   * the allowed calls, plus a margin of refused ones.
   */
  get maxFrames(): number {
    return this.#limits.maxCallsPerExecution + MAX_LOGGED_REFUSALS;
  }

  /**
   * The execution is over: calls still in flight are cancelled, and no new one starts
   * (they kept running upstream until the run's deadline, up to 5 minutes after it ended).
   */
  end(): void {
    this.#ended.abort(new Error("The execution ended"));
    for (const wake of this.#waiting.splice(0)) wake();
  }

  /** Answers one call frame; never throws. */
  async handle(
    frame: Record<string, unknown>,
    signal?: AbortSignal,
  ): Promise<ToolReply | undefined> {
    const id = frame.id;
    if (typeof id !== "number" || !Number.isSafeInteger(id)) return undefined; // not answerable
    const { server, tool } = frame;
    const started = performance.now();
    const part = (v: unknown) => typeof v === "string" ? v.slice(0, 100) : `(${typeof v})`;
    const name = `${part(server)}.${part(tool)}`;
    const argsSha256 = sha256Hex(JSON.stringify(frame.args ?? null) ?? "null");
    const refuse = (error: string): ToolReply => {
      // Security: a flood of refused calls must not flood the audit log.
      const n = ++this.#refusals;
      if (n <= MAX_LOGGED_REFUSALS) {
        const message = n === MAX_LOGGED_REFUSALS
          ? `${error} (further refusals are not logged)`
          : error;
        this.#onAudit({ tool: name, durationMs: 0, status: "refused", argsSha256, message });
      }
      return { t: "reply", id, ok: false, error };
    };
    if (
      typeof server !== "string" || typeof tool !== "string" ||
      !this.#allowed.has(JSON.stringify([server, tool]))
    ) {
      return refuse(`Tool "${name}" is not allowed for this execution`);
    }
    if (++this.#calls > this.#limits.maxCallsPerExecution) {
      return refuse(
        `Too many tool calls: the limit is ${this.#limits.maxCallsPerExecution} per execution`,
      );
    }
    const overBudget =
      `Tool results exceeded ${this.#limits.maxBytesPerExecution} bytes in this execution`;
    while (this.#inFlight >= MAX_CALLS_IN_FLIGHT && !this.#ended.signal.aborted) {
      await new Promise<void>((wake) => this.#waiting.push(wake));
    }
    if (this.#ended.signal.aborted) return undefined; // nobody left to answer
    const remaining = this.#deadline - performance.now();
    // Spent already: no call is made whose answer could not be delivered.
    const refusal = this.#bytes > this.#limits.maxBytesPerExecution
      ? overBudget
      : remaining <= 0
      ? "No time left in this execution for a tool call"
      : undefined;
    if (refusal) {
      this.#waiting.shift()?.(); // the place it was woken for goes to the next one
      return refuse(refusal);
    }
    this.#inFlight++;
    let outcome: Awaited<ReturnType<Upstreams["call"]>>;
    try {
      outcome = await this.#upstreams.call(server, tool, frame.args, {
        timeoutMs: remaining,
        signal: signal ? AbortSignal.any([signal, this.#ended.signal]) : this.#ended.signal,
      });
    } finally {
      this.#inFlight--;
      this.#waiting.shift()?.();
    }
    const durationMs = Math.round(performance.now() - started);
    let reply: ToolReply = outcome.ok
      ? { t: "reply", id, ok: true, value: outcome.value }
      : { t: "reply", id, ok: false, error: outcome.error ?? "failed" };
    // Bytes as the child receives them (UTF-8), not UTF-16 units: "漢" is three.
    this.#bytes += encoder.encode(JSON.stringify(reply)).length;
    if (this.#bytes > this.#limits.maxBytesPerExecution) {
      reply = { t: "reply", id, ok: false, error: overBudget };
    }
    this.#onAudit({
      tool: name,
      durationMs,
      status: reply.ok ? "ok" : "error",
      argsSha256,
      ...(reply.ok ? {} : { message: reply.error!.slice(0, 500) }),
    });
    return reply;
  }
}
