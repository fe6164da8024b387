/**
 * The sandbox: one execution end to end. Plan (policy, workspace), install (step 1, when
 * dependencies are asked for), run (step 2, a fresh child), result.
 */
import { ensureFolder } from "./conductor_folder.ts";
import { AuditLog, auditRecord, checkAuditFile } from "./audit.ts";
import { BusyError, Limiter, type Ticket } from "./concurrency.ts";
import type { ResolvedConfig } from "./config.ts";
import { prepareDenoDir } from "./deno_dir.ts";
import { sessionLauncher } from "./session_launcher.ts";
import type { ExecutionResult } from "./execution_result.ts";
import {
  applyWorkspaceState,
  BOOTSTRAP_PATH,
  type ExecutionPlan,
  type ExecutionRequest,
  makePlan,
} from "./execution_plan.ts";
import { installDependencies } from "./installer.ts";
import { ownerToken, sweepOrphans, treeRssBytes } from "./process_group.ts";
import { grantedEnvNames, isReservedEnv } from "./permissions.ts";
import { makeRedactor } from "./redact.ts";
import { log } from "./log.ts";
import { preloadParser } from "./code_transform.ts";
import { PrewarmPool } from "./prewarm_pool.ts";
import { ToolBridge } from "./tool_bridge.ts";
import type { Upstreams } from "./upstreams.ts";
import { SandboxChild } from "./run_child.ts";
import { readState, removeWorkspace } from "./workspace.ts";

export type { ExecutionPlan, ExecutionRequest } from "./execution_plan.ts";

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
  /** Human progress lines (installs). */
  onProgress?: ((line: string) => void) | undefined;
}

/** How long `close()` waits for the audit lines still being written. */
const AUDIT_CLOSE_MS = 2000;

export interface SandboxOptions {
  /**
   * Keep children started ahead of their code (config `prewarm`): for a long-lived
   * conductor (`serve`), not for a one-shot CLI run. @default false
   */
  prewarm?: boolean;
}

export class Sandbox {
  readonly config: ResolvedConfig;
  readonly limiter: Limiter;
  /** Prewarmed children, when enabled. */
  readonly pool: PrewarmPool | undefined;
  /** Upstream MCP servers for code mode, when configured (set by `init()`). */
  get upstreams(): Upstreams | undefined {
    return this.#upstreams;
  }
  #upstreams: Upstreams | undefined;
  #owner: string;
  #launcher: string | undefined;
  #ready: Promise<void> | undefined;
  /** Refills and removals of unused generic workspaces in progress, awaited by `close()`. */
  #background = new Set<Promise<unknown>>();
  /** Awaited (for a while) by `close()`. */
  #audit: AuditLog | undefined;
  #closed = false;

  constructor(config: ResolvedConfig, options: SandboxOptions = {}) {
    this.config = config;
    this.limiter = new Limiter(config.maxConcurrent, config.maxQueue);
    this.#owner = ownerToken();
    if (config.auditFile) this.#audit = new AuditLog(config.auditFile);
    if (options.prewarm && config.prewarm.maxChildren > 0) {
      this.pool = new PrewarmPool(config.prewarm);
      this.pool.onDiscardGeneric = (id) =>
        void this.#track(removeWorkspace(config.workspacesDir, id)).catch(() => {});
    }
  }

  /** Starts children ahead of demand, only with capacity to spare (never under load). */
  async refill(): Promise<void> {
    const pool = this.pool;
    if (!pool || this.#closed || !this.limiter.spare) return;
    await this.#track((async () => {
      for (let i = pool.genericWanted(); i > 0 && !this.#closed; i--) {
        const plan = await this.plan({ code: "" });
        if (!plan.rejection) pool.offer(plan, true);
      }
    })());
  }

  /** Keeps `close()` waiting for a piece of background work (a refill, a removal). */
  #track<T>(work: Promise<T>): Promise<T> {
    this.#background.add(work);
    const untrack = () => this.#background.delete(work);
    work.then(untrack, untrack);
    return work;
  }

  /** Kills the prewarmed children and disconnects the upstreams. */
  async close(): Promise<void> {
    this.#closed = true;
    this.pool?.close();
    // A refill in progress may still discard a workspace: wait until nothing is left.
    while (this.#background.size) await Promise.allSettled(this.#background);
    await this.#audit?.settle(AUDIT_CLOSE_MS);
    await this.#upstreams?.close();
  }

  /** Resolves once every audit line of the executions so far is written (or has failed). */
  async auditWritten(): Promise<void> {
    await this.#audit?.written();
  }

  /** One-time start-up: the children's DENO_DIR, and the sweep of orphaned children. */
  init(): Promise<void> {
    return this.#ready ??= (async () => {
      // Security: the memory watchdog, the orphan sweep and in-use checks read /proc,
      // which Deno opens only to --allow-all. Refuse to run without them.
      if (treeRssBytes(Deno.pid) === 0) {
        throw new Error(
          "Cannot read /proc: the conductor needs --allow-all (Deno gates /proc behind it), " +
            "or the memory limit would not be enforced",
        );
      }
      if (Object.keys(this.config.mcpServers).length) {
        // Loaded only when configured: the MCP client is most of a CLI run's start-up.
        const { Upstreams } = await import("./upstreams.ts");
        this.#upstreams = new Upstreams(this.config.mcpServers);
      }
      await ensureFolder("workspacesDir", this.config.workspacesDir);
      await prepareDenoDir(this.config.denoDir);
      if (this.config.auditFile) await checkAuditFile(this.config.auditFile);
      this.#launcher = await sessionLauncher(this.config.denoDir);
      sweepOrphans(BOOTSTRAP_PATH);
    })();
  }

  /** Decides everything about a request without running it (the `--explain` view). */
  async plan(request: ExecutionRequest, options: PlanOptions = {}): Promise<ExecutionPlan> {
    await this.init();
    return await makePlan(this.config, request, {
      owner: this.#owner,
      dryRun: options.dryRun ?? false,
      upstreams: this.upstreams,
      launcher: this.#launcher,
    });
  }

  /**
   * Plans and runs one execution, and writes its audit line. Never throws for the code's
   * own failures, nor for a bad request: every outcome is a status.
   */
  async execute(request: ExecutionRequest, options: ExecuteOptions = {}): Promise<ExecutionResult> {
    const started = performance.now();
    preloadParser();
    // A place in line from the moment it arrives: when the queue is full, the request
    // refused is the last to come, not the slowest to plan. A refused one is planned
    // without a workspace (its refusal still names what policy would say first).
    let ticket: Ticket | BusyError;
    try {
      ticket = this.limiter.admit();
    } catch (error) {
      if (!(error instanceof BusyError)) throw error;
      ticket = error;
    }
    try {
      return await this.#admitted(request, options, started, ticket);
    } finally {
      if (!(ticket instanceof BusyError)) this.limiter.leave(ticket);
    }
  }

  async #admitted(
    request: ExecutionRequest,
    options: ExecuteOptions,
    started: number,
    ticket: Ticket | BusyError,
  ): Promise<ExecutionResult> {
    const busy = ticket instanceof BusyError;
    const named = request.conversationId !== undefined;
    const asked = request;
    let claimed: string | undefined;
    if (
      request.conversationId === undefined && request.dependencies === undefined &&
      !options.ephemeral && !busy
    ) {
      claimed = this.pool?.claimGeneric();
      if (claimed) request = { ...request, conversationId: claimed };
    }
    let plan = await this.plan(request, { dryRun: busy });
    if (claimed && plan.rejection) {
      // A refused request makes no workspace. The ready one it claimed could be seen while
      // it was planned: it goes (child and folder), never to be handed out again.
      this.pool!.discardClaimed(claimed);
      claimed = undefined;
      request = asked;
      plan = await this.plan(request);
    }
    const result = await this.#execute(plan, request, options, started, ticket);
    // A claimed child that ran nothing (cancelled while queued) is killed; its workspace is
    // the caller's now (its id came back). A used one left the pool already.
    if (claimed) this.pool!.drop(claimed);
    if (
      this.pool && !this.#closed && !busy && !plan.rejection && plan.workspace.root &&
      this.limiter.spare
    ) {
      // Once the caller has its result: predict the next run of a conversation the caller
      // keeps using (it named it), with the same workspace and flags; refill generic ones.
      // Never under load (checked again then).
      setTimeout(() => {
        if (this.#closed) return;
        try {
          if (named && this.limiter.spare) this.pool!.offer(plan);
        } catch {
          // A child that cannot be started ahead is started when its request comes.
        }
        this.refill().catch(() => {});
      }, 0);
    }
    if (this.#audit) {
      const redact = makeRedactor(
        Object.entries(plan.env).filter(([k]) =>
          grantedEnvNames(plan.granted, [k]).length > 0 && !isReservedEnv(k)
        )
          .map(([, v]) => v),
        this.config.redactPatterns,
      );
      // Written off the caller's path; `close()` and `auditWritten()` wait for it. A failed
      // write is reported; the code has run.
      this.#audit.add(() => auditRecord(plan, request.code, result), redact);
    }
    return result;
  }

  async #execute(
    plan: ExecutionPlan,
    request: ExecutionRequest,
    options: ExecuteOptions,
    started: number,
    ticket: Ticket | BusyError,
  ): Promise<ExecutionResult> {
    const early = (
      status: ExecutionResult["status"],
      type: string,
      message: string,
    ): ExecutionResult => ({
      status,
      stdout: "",
      stderr: "",
      truncated: { stdout: false, stderr: false },
      error: { type, message },
      permissions: { granted: plan.granted, denied: plan.denied },
      conversationId: plan.conversationId,
      durationMs: Math.round(performance.now() - started),
    });
    try {
      if (plan.rejection) return early("rejected", plan.rejection.type, plan.rejection.message);
      if (options.signal?.aborted) {
        return early("cancelled", "cancelled", "Cancelled before it started");
      }
      if (ticket instanceof BusyError) return early("rejected", ticket.name, ticket.message);
      let result: ExecutionResult;
      // Under load, a request that must wait for a slot has its child started while it
      // waits. Not with dependencies: the install may change the child's argv.
      const { limiter } = this;
      let ahead: SandboxChild | undefined;
      if (
        this.pool && !plan.dependencies.length && !limiter.spare &&
        limiter.queued < limiter.maxQueue
      ) {
        try {
          ahead = this.pool.startAhead(plan, limiter.max);
        } catch {
          // A child that cannot be started now (out of file descriptors, say) is started
          // when the slot is free, or fails there with its own error.
        }
      }
      try {
        // The install (step 1) holds the slot too: a request's `deno install` child counts
        // toward maxConcurrent like its run.
        result = await this.limiter.run(
          async () => {
            if (plan.dependencies.length) {
              const install = await installDependencies(
                this.config,
                plan.workspace,
                plan.dependencies,
                {
                  frozen: request.frozen ?? false,
                  signal: options.signal,
                  onProgress: options.onProgress,
                },
              );
              if (options.signal?.aborted) {
                return early("cancelled", "cancelled", "Cancelled during the install");
              }
              if (install.status === "rejected" || install.status === "install_error") {
                return early(
                  install.status,
                  "InstallError",
                  install.message ?? "The install failed",
                );
              }
              if (install.status === "installed") {
                applyWorkspaceState(this.config, plan, readState(plan.workspace));
              }
              if (options.signal?.aborted) {
                return early("cancelled", "cancelled", "Cancelled after the install");
              }
            }
            const waited = ahead && this.pool!.claimAhead(ahead);
            ahead = undefined;
            const child = waited ?? this.pool?.take(plan) ?? new SandboxChild(plan);
            return await child.run(plan, request.code, {
              signal: options.signal,
              started,
              bridge: this.#bridge(plan),
              quotaBytes: plan.granted.write ? this.config.workspaceQuotaBytes : undefined,
            });
          },
          options.signal,
          ticket,
        );
      } catch (error) {
        if (error instanceof BusyError) return early("rejected", error.name, error.message);
        if (options.signal?.aborted) {
          return early("cancelled", "cancelled", "Cancelled while waiting for a slot");
        }
        throw error;
      } finally {
        if (ahead) this.pool!.dropAhead(ahead);
      }
      return result;
    } finally {
      if (options.ephemeral && request.conversationId === undefined && plan.workspace.root) {
        // The run's result stands; a workspace that could not be removed is said, and
        // collected once idle.
        await removeWorkspace(this.config.workspacesDir, plan.conversationId).catch((error) =>
          log(`could not remove workspace ${plan.conversationId}: ${error.message}`)
        );
      }
    }
  }

  /** The tool channel of an execution that may call upstream tools. */
  #bridge(plan: ExecutionPlan): ToolBridge | undefined {
    if (!plan.tools || !this.upstreams) return undefined;
    const audit = this.#audit;
    const redact = makeRedactor([], this.config.redactPatterns);
    return new ToolBridge(this.upstreams, plan.tools.allowed, this.config.toolPolicy, {
      deadline: performance.now() + plan.limits.timeoutMs,
      onAudit: (record) => {
        const line = {
          type: "tool_call",
          time: new Date().toISOString(),
          conversationId: plan.conversationId,
          ...record,
        };
        audit?.add(() => line, redact);
      },
    });
  }
}
