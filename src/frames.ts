/**
 * The conductor's side of the bootstrap channel: a streaming scanner that splits a child's
 * output into the code's own bytes and frames `\x1e<nonce><json>\x1e`.
 *
 * Security: only a frame that carries this execution's nonce is a frame; anything else,
 * `\x1e` bytes included, is the code's output. JSON never contains a raw `\x1e`
 * (JSON.stringify escapes control characters), so the first `\x1e` after the nonce ends
 * the frame.
 */

export const MARK_BYTE = 0x1e;

/** A random 128-bit nonce as 32 hex digits. */
export function newNonce(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export interface FrameScannerOptions {
  /** Receives the code's own output, as views into the chunks pushed: valid during the call only. */
  onOutput: (bytes: Uint8Array) => void;
  /** Receives each frame's parsed JSON. */
  onFrame: (message: unknown) => void;
  /** Called once when a frame grows past `maxFrameBytes`. */
  onOversize: () => void;
  /** Largest frame body kept. */
  maxFrameBytes: number;
}

const enum State {
  Output,
  Nonce,
  Body,
  Dead,
}

export class FrameScanner {
  #nonce: Uint8Array;
  /** The mark and the nonce: a false start is passed on as a view of it, not a copy. */
  #marked: Uint8Array;
  #opts: FrameScannerOptions;
  #state = State.Output;
  #matched = 0;
  /** The frame body so far, decoded as it arrives (the chunks' buffers are reused). */
  #body = "";
  #bodyLength = 0;
  #decoder = new TextDecoder();

  constructor(nonce: string, options: FrameScannerOptions) {
    this.#nonce = new TextEncoder().encode(nonce);
    this.#marked = new Uint8Array([MARK_BYTE, ...this.#nonce]);
    this.#opts = options;
  }

  push(chunk: Uint8Array): void {
    let i = 0;
    while (i < chunk.length && this.#state !== State.Dead) {
      if (this.#state === State.Output) {
        const at = chunk.indexOf(MARK_BYTE, i);
        const end = at === -1 ? chunk.length : at;
        if (end > i) this.#opts.onOutput(chunk.subarray(i, end));
        if (at === -1) return;
        this.#state = State.Nonce;
        this.#matched = 0;
        i = at + 1;
      } else if (this.#state === State.Nonce) {
        while (i < chunk.length && this.#matched < this.#nonce.length) {
          if (chunk[i] !== this.#nonce[this.#matched]) break;
          this.#matched++;
          i++;
        }
        if (this.#matched === this.#nonce.length) {
          this.#state = State.Body;
          this.#body = "";
          this.#bodyLength = 0;
        } else if (i < chunk.length) {
          // Not our frame: what looked like one is output; re-examine the current byte.
          this.#flushFalseStart();
        }
      } else {
        const at = chunk.indexOf(MARK_BYTE, i);
        const end = at === -1 ? chunk.length : at;
        this.#bodyLength += end - i;
        if (this.#bodyLength > this.#opts.maxFrameBytes) {
          this.#state = State.Dead;
          this.#body = "";
          this.#opts.onOversize();
          return;
        }
        this.#body += this.#decoder.decode(chunk.subarray(i, end), { stream: true });
        if (at === -1) return;
        this.#emitFrame();
        this.#state = State.Output;
        i = at + 1;
      }
    }
  }

  /** Ends the stream: a started but unfinished frame is dropped. */
  end(): void {
    if (this.#state === State.Nonce) this.#flushFalseStart();
    this.#state = State.Dead;
    this.#body = "";
  }

  #flushFalseStart(): void {
    this.#opts.onOutput(this.#marked.subarray(0, 1 + this.#matched));
    this.#state = State.Output;
  }

  #emitFrame(): void {
    const text = this.#body + this.#decoder.decode();
    this.#body = "";
    let message: unknown;
    try {
      message = JSON.parse(text);
    } catch {
      message = { t: "corrupt" };
    }
    this.#opts.onFrame(message);
  }
}
