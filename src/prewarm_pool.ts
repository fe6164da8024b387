/**
 * Prewarmed sandbox children: started before their code is known, each with the exact
 * argv, env and cwd its execution will need, waiting on stdin. Each is used for exactly
 * one execution and never reused, so "fresh process per execution" still holds; only the
 * start-up wait moves off the critical path.
 *
 * Two kinds: a generic child in a new, empty workspace (for a request that names no
 * conversation), and a predicted child for an active conversation (same workspace and
 * flags as its last run). A child whose key does not match the request is killed, never
 * adapted. Under load, a request that waits for a slot gets its own child started while
 * it waits (`startAhead`): its start-up overlaps the runs ahead of it.
 */
import type { ExecutionPlan } from "./execution_plan.ts";
import { rssBytes } from "./process_group.ts";
import { childKey, SandboxChild } from "./run_child.ts";

export interface PrewarmOptions {
  /** Idle generic children kept ready. @default 1 */
  generic: number;
  /** Most idle children in all (generic and predicted). @default 3 */
  maxChildren: number;
  /** An idle child older than this is killed. @default 60000 */
  idleMs: number;
  /**
   * Most resident memory the idle children may hold in all, in MB, with those started for
   * requests waiting for a slot: a child that would go past it is not started (for a
   * predicted one, the oldest idle ones make room first). @default 128
   */
  memoryMb: number;
}

/**
 * What a child is counted as before it has finished starting (a started one that waits
 * for its code holds about 31 MB here).
 */
const MIN_CHILD_BYTES = 32 * 1024 * 1024;

interface Entry {
  child: SandboxChild;
  generic: boolean;
  timer: ReturnType<typeof setTimeout>;
}

export interface PrewarmStats {
  idle: number;
  hits: number;
  misses: number;
  /** Children started for requests waiting for a slot, so far. */
  ahead: number;
}

export class PrewarmPool {
  readonly options: PrewarmOptions;
  #entries = new Map<string, Entry>();
  #hits = 0;
  #misses = 0;
  #closed = false;
  /** Started for requests that wait for a slot; they count in the memory budget. */
  #ahead = new Set<SandboxChild>();
  #aheadStarted = 0;
  /** Called when an unused generic child's workspace should go (it was never used). */
  onDiscardGeneric: ((conversationId: string) => void) | undefined;

  constructor(options: PrewarmOptions) {
    this.options = options;
  }

  stats(): PrewarmStats {
    return {
      idle: this.#entries.size,
      hits: this.#hits,
      misses: this.#misses,
      ahead: this.#aheadStarted,
    };
  }

  /** True when an idle child waits in this conversation's workspace. */
  has(conversationId: string): boolean {
    return this.#entries.has(conversationId);
  }

  /** How many more generic children the pool wants. */
  genericWanted(): number {
    if (!this.#hasRoom()) return 0;
    const generic = [...this.#entries.values()].filter((e) => e.generic).length;
    return Math.max(0, this.options.generic - generic);
  }

  /** The workspaces of idle generic children: made ahead, nobody's yet. */
  idleGenericIds(): Set<string> {
    const ids = new Set<string>();
    for (const [id, entry] of this.#entries) if (entry.generic) ids.add(id);
    return ids;
  }

  /**
   * Ends a claimed generic child whose request was refused, and has its workspace removed:
   * it was claimed (and listed) while the request was planned, so it is never handed out
   * again.
   */
  discardClaimed(conversationId: string): void {
    this.drop(conversationId);
    this.onDiscardGeneric?.(conversationId);
  }

  /** Claims the workspace of an idle generic child for a request that named none. */
  claimGeneric(): string | undefined {
    for (const [id, entry] of this.#entries) {
      if (entry.generic && !entry.child.exited) {
        entry.generic = false;
        return id;
      }
    }
    return undefined;
  }

  /**
   * The idle child for this plan's conversation, if it was started with exactly this
   * plan's key and is still alive in its workspace. Any other child there is killed.
   */
  take(plan: ExecutionPlan): SandboxChild | undefined {
    const entry = this.#entries.get(plan.conversationId);
    if (!entry) return undefined;
    this.#entries.delete(plan.conversationId);
    clearTimeout(entry.timer);
    if (entry.child.key === childKey(plan) && !entry.child.exited && cwdAlive(entry.child.pid)) {
      this.#hits++;
      return entry.child;
    }
    this.#misses++;
    entry.child.kill();
    return undefined;
  }

  /**
   * For a request that must wait for a slot: its idle child, or a new one if the memory
   * budget has room, held for it until `claimAhead`. At most `max` at once.
   */
  startAhead(plan: ExecutionPlan, max: number): SandboxChild | undefined {
    if (this.#closed || this.#ahead.size >= max) return undefined;
    const child = this.take(plan) ?? (this.#hasRoom() ? new SandboxChild(plan) : undefined);
    if (!child) return undefined;
    this.#ahead.add(child);
    this.#aheadStarted++;
    return child;
  }

  /**
   * The child started ahead, once its request has a slot; `undefined` (and it is killed)
   * if it died or its workspace was removed while it waited.
   */
  claimAhead(child: SandboxChild): SandboxChild | undefined {
    this.#ahead.delete(child);
    if (!this.#closed && !child.exited && cwdAlive(child.pid)) return child;
    child.kill();
    return undefined;
  }

  /** Kills a child started ahead whose request will not run (busy, cancelled, failed). */
  dropAhead(child: SandboxChild): void {
    this.#ahead.delete(child);
    child.kill();
  }

  /** Starts a child for a plan's conversation (replacing its previous idle child). */
  offer(plan: ExecutionPlan, generic = false): void {
    this.drop(plan.conversationId);
    if (this.#closed) {
      // A generic workspace made for a pool that closed meanwhile is nobody's.
      if (generic) this.onDiscardGeneric?.(plan.conversationId);
      return;
    }
    while (this.#entries.size >= this.options.maxChildren) {
      const [oldest] = this.#entries.keys();
      this.#discard(oldest!);
    }
    if (this.options.maxChildren <= 0) return;
    // Within the memory budget: a predicted child makes room by dropping the oldest idle
    // ones; a generic one only takes room that is free.
    while (!generic && this.#entries.size && !this.#hasRoom()) {
      const [oldest] = this.#entries.keys();
      this.#discard(oldest!);
    }
    if (!this.#hasRoom()) {
      if (generic) this.onDiscardGeneric?.(plan.conversationId);
      return;
    }
    const child = new SandboxChild(plan);
    const timer = setTimeout(() => this.#discard(plan.conversationId), this.options.idleMs);
    Deno.unrefTimer(timer);
    this.#entries.set(plan.conversationId, { child, generic, timer });
  }

  /** True when one more child fits in the memory budget. */
  #hasRoom(): boolean {
    return this.#idleBytes() + MIN_CHILD_BYTES <= this.options.memoryMb * 1024 * 1024;
  }

  /** Resident memory of the idle children, each counted at least MIN_CHILD_BYTES. */
  #idleBytes(): number {
    let total = 0;
    for (const { child } of this.#entries.values()) {
      total += Math.max(rssBytes(child.pid), MIN_CHILD_BYTES);
    }
    for (const child of this.#ahead) total += Math.max(rssBytes(child.pid), MIN_CHILD_BYTES);
    return total;
  }

  /** Kills the idle child of a conversation (its workspace is going away, say). */
  drop(conversationId: string): void {
    const entry = this.#entries.get(conversationId);
    if (!entry) return;
    this.#entries.delete(conversationId);
    clearTimeout(entry.timer);
    entry.child.kill();
  }

  #discard(conversationId: string): void {
    const entry = this.#entries.get(conversationId);
    this.drop(conversationId);
    if (entry?.generic) this.onDiscardGeneric?.(conversationId);
  }

  /** Kills every idle child (and those started for waiting requests), and starts no more. */
  close(): void {
    this.#closed = true;
    for (const id of [...this.#entries.keys()]) this.#discard(id);
    for (const child of this.#ahead) child.kill();
  }
}

/** False when the child's cwd was deleted under it (its workspace was removed). */
function cwdAlive(pid: number): boolean {
  try {
    return !Deno.readLinkSync(`/proc/${pid}/cwd`).endsWith(" (deleted)");
  } catch {
    return false;
  }
}
