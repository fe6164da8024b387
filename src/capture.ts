/**
 * Capturing a child's output: a byte-capped buffer, and a pump from a stream.
 */

/** Keeps at most `cap` bytes; reports when more arrived. */
export class CappedBuffer {
  #chunks: Uint8Array[] = [];
  #size = 0;
  truncated = false;

  constructor(readonly cap: number) {}

  /** Adds bytes; returns false once the cap is exceeded (the excess is dropped). */
  add(bytes: Uint8Array): boolean {
    const room = this.cap - this.#size;
    if (bytes.length > room) {
      if (room > 0) this.#chunks.push(bytes.slice(0, room));
      this.#size = this.cap;
      this.truncated = true;
      return false;
    }
    this.#chunks.push(bytes);
    this.#size += bytes.length;
    return true;
  }

  /** The bytes kept, decoded as UTF-8 (invalid sequences become U+FFFD). */
  text(): string {
    const decoder = new TextDecoder();
    let out = "";
    for (const chunk of this.#chunks) out += decoder.decode(chunk, { stream: true });
    return out + decoder.decode();
  }
}

/** Something that takes a stream's chunks, and is told when the stream ends. */
export interface ChunkSink {
  push(chunk: Uint8Array): void;
  end(): void;
}

/**
 * Reads a child's stream into a sink until it ends or `stop` is aborted (a process that
 * left the group may hold the pipe open forever). Never `.output()` an untrusted child.
 */
export async function drain(
  stream: ReadableStream<Uint8Array>,
  sink: ChunkSink,
  stop: AbortSignal,
): Promise<void> {
  const reader = stream.getReader();
  const cancel = () => reader.cancel().catch(() => {});
  stop.addEventListener("abort", cancel, { once: true });
  try {
    while (true) {
      const { done, value } = await reader.read();
      if (done) break;
      sink.push(value);
    }
  } catch {
    // stream cancelled or errored: what was read is kept
  } finally {
    stop.removeEventListener("abort", cancel);
    sink.end();
  }
}
