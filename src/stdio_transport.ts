/**
 * MCP over stdio, hardened: newline-delimited JSON-RPC on Deno's own stdin/stdout.
 *
 * Unlike the SDK's StdioServerTransport, a bad line never closes the transport: a line
 * that is not JSON gets a JSON-RPC parse error, an over-long line is skipped and answered
 * with an error when its request id can be found, and end of input closes cleanly.
 */
import { concatBytes } from "./bytes.ts";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import { type JSONRPCMessage, JSONRPCMessageSchema } from "@modelcontextprotocol/sdk/types.js";

/** Largest JSON-RPC line accepted (code is capped far lower by the sandbox). */
export const MAX_LINE_BYTES = 32 * 1024 * 1024;

const NEWLINE = 10;

export interface StdioTransportOptions {
  /** @default Deno.stdin.readable */
  input?: ReadableStream<Uint8Array>;
  /** @default Deno.stdout.writable */
  output?: WritableStream<Uint8Array>;
  /** @default MAX_LINE_BYTES */
  maxLineBytes?: number;
}

export class StdioTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;
  /**
   * End of input (the client is gone or done). When set, the owner decides when to
   * close (e.g. after answering what is in flight); otherwise the transport closes.
   */
  onend?: () => void;

  #input: ReadableStream<Uint8Array>;
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #maxLine: number;
  #reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  #closed = false;
  #writes: Promise<void> = Promise.resolve();
  #encoder = new TextEncoder();

  constructor(options: StdioTransportOptions = {}) {
    this.#input = options.input ?? Deno.stdin.readable;
    this.#writer = (options.output ?? Deno.stdout.writable).getWriter();
    this.#maxLine = options.maxLineBytes ?? MAX_LINE_BYTES;
  }

  start(): Promise<void> {
    this.#reader = this.#input.getReader();
    this.#readLoop().catch((error) => this.onerror?.(error));
    return Promise.resolve();
  }

  async #readLoop(): Promise<void> {
    const reader = this.#reader!;
    let parts: Uint8Array[] = [];
    let length = 0;
    let discarding = false;
    let head: Uint8Array = new Uint8Array(0);
    while (true) {
      const { done, value } = await reader.read();
      if (done) break;
      let start = 0;
      while (start < value.length) {
        const nl = value.indexOf(NEWLINE, start);
        const end = nl === -1 ? value.length : nl;
        if (!discarding) {
          parts.push(value.subarray(start, end));
          length += end - start;
          if (length > this.#maxLine) {
            // Security: never buffer without bound; keep the head to find the request id.
            head = concatBytes(parts).subarray(0, 256);
            parts = [];
            length = 0;
            discarding = true;
          }
        }
        if (nl === -1) break;
        if (discarding) this.#tooLarge(head);
        else this.#handleLine(concatBytes(parts));
        parts = [];
        length = 0;
        discarding = false;
        start = nl + 1;
      }
    }
    if (this.onend) this.onend();
    else await this.close();
  }

  #handleLine(bytes: Uint8Array): void {
    const text = new TextDecoder().decode(bytes).replace(/\r$/, "");
    if (!text.trim()) return;
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      this.#sendError(null, -32700, "Parse error: the line is not valid JSON");
      return;
    }
    const parsed = JSONRPCMessageSchema.safeParse(raw);
    if (!parsed.success) {
      const id = (raw as { id?: unknown })?.id;
      this.#sendError(
        typeof id === "string" || typeof id === "number" ? id : null,
        -32600,
        "Invalid Request: not a JSON-RPC 2.0 message",
      );
      return;
    }
    try {
      this.onmessage?.(parsed.data);
    } catch (error) {
      this.onerror?.(error as Error);
    }
  }

  #tooLarge(head: Uint8Array): void {
    const m = /"id"\s*:\s*("(?:[^"\\]|\\.){0,100}"|-?\d{1,16})/.exec(
      new TextDecoder().decode(head),
    );
    const id = m ? JSON.parse(m[1]!) : null;
    this.#sendError(id, -32600, `Request too large: over ${this.#maxLine} bytes`);
  }

  #sendError(id: string | number | null, code: number, message: string): void {
    const response = { jsonrpc: "2.0", id, error: { code, message } };
    this.#write(JSON.stringify(response) + "\n").catch((error) => this.onerror?.(error));
  }

  #write(text: string): Promise<void> {
    const bytes = this.#encoder.encode(text);
    // One write at a time, so that messages never interleave.
    this.#writes = this.#writes.then(() => this.#writer.write(bytes));
    return this.#writes;
  }

  send(message: JSONRPCMessage): Promise<void> {
    if (this.#closed) return Promise.resolve();
    return this.#write(JSON.stringify(message) + "\n");
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#reader?.cancel().catch(() => {});
    await this.#writes.catch(() => {});
    this.onclose?.();
  }
}
