/**
 * Executions in flight: at most `max` at once, then a bounded FIFO queue, then "busy".
 */

/** The queue is full: the caller should try again shortly. */
export class BusyError extends Error {
  override name = "Busy";
}

/**
 * A place taken when a request arrives, before the work that precedes its run (planning):
 * the requests refused when the queue is full are the last to arrive, not the slowest to
 * plan. Its run takes it over; `leave()` gives back one that never runs.
 */
export interface Ticket {
  live: boolean;
}

export class Limiter {
  #running = 0;
  #queue: (() => void)[] = [];
  /** Tickets taken whose run has not started yet. */
  #admitted = 0;

  constructor(readonly max: number, readonly maxQueue: number) {}

  get running(): number {
    return this.#running;
  }

  get queued(): number {
    return this.#queue.length;
  }

  /** True when a call now would find a free slot, with nobody waiting. */
  get spare(): boolean {
    return this.#running + this.#queue.length < this.max;
  }

  /**
   * A place in line for a run that will follow (see Ticket).
   * @throws {BusyError} when `max` run and `maxQueue` wait or hold tickets already
   */
  admit(): Ticket {
    this.#checkRoom();
    this.#admitted++;
    return { live: true };
  }

  /** Gives back a ticket whose run will not happen (refused, cancelled, failed). */
  leave(ticket: Ticket): void {
    if (!ticket.live) return;
    ticket.live = false;
    this.#admitted--;
  }

  #checkRoom(): void {
    if (this.#running + this.#queue.length + this.#admitted >= this.max + this.maxQueue) {
      throw new BusyError(
        `The conductor is busy: ${this.#running} executions running and ${
          this.#queue.length + this.#admitted
        } waiting; try again shortly`,
      );
    }
  }

  /**
   * Runs `fn` when a slot is free. A waiting call whose signal aborts leaves the queue.
   * With a live ticket it is never refused; without one, it is when the line is full.
   * @throws {BusyError} when `max` run and `maxQueue` wait or hold tickets already
   */
  async run<T>(fn: () => Promise<T>, signal?: AbortSignal, ticket?: Ticket): Promise<T> {
    if (signal?.aborted) {
      if (ticket) this.leave(ticket);
      throw signal.reason; // an abort listener added now would never fire
    }
    if (ticket?.live) this.leave(ticket); // its place was kept since it arrived
    else this.#checkRoom();
    if (this.#running >= this.max) {
      await new Promise<void>((resolve, reject) => {
        const entry = () => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        };
        const onAbort = () => {
          this.#queue = this.#queue.filter((e) => e !== entry);
          reject(signal!.reason);
        };
        signal?.addEventListener("abort", onAbort, { once: true });
        this.#queue.push(entry);
      });
    }
    this.#running++;
    try {
      return await fn();
    } finally {
      this.#running--;
      this.#queue.shift()?.();
    }
  }
}
