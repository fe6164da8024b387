/**
 * Capturing a child's output: a byte-capped text buffer, and a pump from a stream.
 *
 * Output is copied out of each chunk as it arrives, so that no chunk is kept: the read
 * buffers are reused from one read to the next and between children (a fresh 64 KiB buffer
 * per read was most of the conductor's garbage per execution).
 */

/**
 * Keeps at most `cap` bytes of output; reports when more arrived. Bytes are copied into one
 * growing buffer and decoded once, at `text()`: output cut into many tiny pieces (every
 * `\x1e` is one) then costs no more than plain output.
 */
export class CappedBuffer {
  #bytes = new Uint8Array(0);
  #kept = 0;
  #text: string | undefined;
  truncated = false;

  constructor(readonly cap: number) {}

  /**
   * Adds bytes (copied now: the caller may reuse them); returns false once the cap is
   * exceeded (the excess is dropped).
   */
  add(bytes: Uint8Array): boolean {
    const take = Math.min(bytes.length, this.cap - this.#kept);
    if (take > 0 && this.#text === undefined) {
      if (this.#kept + take > this.#bytes.length) {
        const grown = new Uint8Array(
          Math.min(this.cap, Math.max(4096, 2 * this.#bytes.length, this.#kept + take)),
        );
        grown.set(this.#bytes.subarray(0, this.#kept));
        this.#bytes = grown;
      }
      this.#bytes.set(bytes.subarray(0, take), this.#kept);
    }
    if (take > 0) this.#kept += take;
    if (take < bytes.length) {
      this.truncated = true;
      return false;
    }
    return true;
  }

  /**
   * The text kept (invalid UTF-8 sequences, and one cut at the end, become U+FFFD). The
   * first call ends the text: bytes added later are counted, not kept.
   */
  text(): string {
    this.#text ??= new TextDecoder().decode(this.#bytes.subarray(0, this.#kept));
    this.#bytes = new Uint8Array(0);
    return this.#text;
  }
}

/** Something that takes a stream's chunks, and is told when the stream ends. */
export interface ChunkSink {
  /** A chunk, valid only during the call: its buffer is reused for the next read. */
  push(chunk: Uint8Array): void;
  end(): void;
}

/** A stream being read into a sink. */
export interface Drain {
  /** Settles when the stream has ended or was stopped; the sink has been told. */
  done: Promise<void>;
  /** Stops reading now (what was read is kept). */
  stop(): void;
}

/** Bytes asked for per read: a pipe's default capacity on Linux. */
const READ_BYTES = 64 * 1024;
/** Read buffers kept for the next streams (two per child in flight is plenty). */
const spareBuffers: ArrayBuffer[] = [];
const MAX_SPARE_BUFFERS = 32;

/**
 * Reads a child's stream into a sink until it ends or `stop()` is called (a process that
 * left the group may hold the pipe open forever). Never `.output()` an untrusted child.
 */
export function drain(stream: ReadableStream<Uint8Array>, sink: ChunkSink): Drain {
  const reader = stream.getReader({ mode: "byob" });
  const done = (async () => {
    let buffer = spareBuffers.pop() ?? new ArrayBuffer(READ_BYTES);
    try {
      while (true) {
        const { done, value } = await reader.read(new Uint8Array(buffer));
        // A read transfers the buffer: the next read uses the one it came back in.
        if (value) buffer = value.buffer as ArrayBuffer;
        if (done) break;
        sink.push(value);
      }
    } catch {
      // stream cancelled or errored: what was read is kept
    } finally {
      sink.end();
      // A failed read keeps the buffer (detached here: length 0); only whole ones go back.
      if (buffer.byteLength === READ_BYTES && spareBuffers.length < MAX_SPARE_BUFFERS) {
        spareBuffers.push(buffer);
      }
    }
  })();
  return { done, stop: () => void reader.cancel().catch(() => {}) };
}
