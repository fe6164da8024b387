/**
 * Executions in flight: at most `max` at once, then a bounded FIFO queue, then "busy".
 */

/** The queue is full: the caller should try again shortly. */
export class BusyError extends Error {
  override name = "Busy";
}

export class Limiter {
  #running = 0;
  #queue: (() => void)[] = [];

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
   * Runs `fn` when a slot is free. A waiting call whose signal aborts leaves the queue.
   * @throws {BusyError} when `max` run and `maxQueue` wait already
   */
  async run<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    if (this.#running >= this.max) {
      if (this.#queue.length >= this.maxQueue) {
        throw new BusyError(
          `The conductor is busy: ${this.#running} executions running and ${this.#queue.length} waiting; try again shortly`,
        );
      }
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
