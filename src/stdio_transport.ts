/**
 * MCP over stdio, hardened: newline-delimited JSON-RPC on Deno's own stdin/stdout.
 *
 * Unlike the SDK's StdioServerTransport, a bad line never closes the transport: a line
 * that is not JSON gets a JSON-RPC parse error, an over-long line is skipped and answered
 * with an error when its request id can be found, and end of input closes cleanly.
 *
 * Backpressure: answers the client has not read yet are held in memory, so a client that
 * sends requests without reading stops being read (its requests wait in the pipe) while too
 * many answers wait to be written or too many requests are unanswered. A request whose id
 * is already in flight is refused: its answer could not be told from the first one's.
 *
 * The SDK sees ids of its own: each request read gets a fresh number, mapped back on its
 * answer and in the client's `notifications/cancelled`. The SDK (1.32.2) takes the ids `0`
 * and `""` for missing when it cancels; it never sees them.
 */
import { concatBytes } from "./bytes.ts";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import { type JSONRPCMessage, JSONRPCMessageSchema } from "@modelcontextprotocol/sdk/types.js";

/** Largest JSON-RPC line accepted (code is capped far lower by the sandbox). */
export const MAX_LINE_BYTES = 32 * 1024 * 1024;

/** Answer bytes waiting to be written past which no request is read (until half are). */
export const MAX_PENDING_OUTPUT_BYTES = 16 * 1024 * 1024;

/** Requests read and not yet answered (nor cancelled) past which no request is read. */
export const MAX_REQUESTS_IN_FLIGHT = 64;

const NEWLINE = 10;

/** Bytes kept from each end of a line too large to read, to find its id. */
const ID_SEARCH_BYTES = 256;
const STRING_MEMBER = String.raw`"(?:[^"\\]|\\.){0,64}"\s*:\s*"(?:[^"\\]|\\.){0,128}"`;
const ID_VALUE = String.raw`"id"\s*:\s*("(?:[^"\\]|\\.){0,100}"|-?\d{1,16})`;
/** The id among the first members: `{"jsonrpc":"2.0","id":7,...`. */
const ID_FIRST = new RegExp(String.raw`^\s*\{(?:\s*${STRING_MEMBER}\s*,)*\s*${ID_VALUE}\s*[,}]`);
/** The id among the last members: `...,"jsonrpc":"2.0","id":7}` (the SDK client's order). */
const ID_LAST = new RegExp(String.raw`[{,]\s*${ID_VALUE}(?:\s*,\s*${STRING_MEMBER})*\s*\}\s*$`);

const isObject = (v: unknown) => typeof v === "object" && v !== null && !Array.isArray(v);

/** The members each kind of message may have (the SDK's schemas are strict). */
const MEMBERS = {
  method: ["jsonrpc", "id", "method", "params"],
  result: ["jsonrpc", "id", "result"],
  error: ["jsonrpc", "id", "error"],
};

/**
 * Why JSON that `JSONRPCMessageSchema` refused is no message the SDK takes. Only on that
 * error path: a valid line never pays for it.
 */
function whyInvalid(raw: unknown): string {
  if (Array.isArray(raw)) return "batches are not supported";
  if (!isObject(raw)) return "a message must be a JSON object";
  const m = raw as Record<string, unknown>;
  if (m.jsonrpc !== "2.0") return '"jsonrpc" must be "2.0"';
  if ("id" in m && typeof m.id !== "string" && !Number.isInteger(m.id)) {
    return '"id" must be a string or an integer';
  }
  const kinds = (["method", "result", "error"] as const).filter((k) => k in m);
  if (kinds.length !== 1) return 'a message must have one of "method", "result" or "error"';
  const unknown = Object.keys(m).find((k) => !MEMBERS[kinds[0]!].includes(k));
  if (unknown) return `unknown member ${JSON.stringify(unknown).slice(0, 100)}`;
  if ("method" in m && typeof m.method !== "string") return '"method" must be a string';
  if ("params" in m && !isObject(m.params)) return '"params" must be an object';
  if ("result" in m && !("id" in m)) return 'a result must have an "id"';
  if ("result" in m && !isObject(m.result)) return '"result" must be an object';
  const error = m.error as { code?: unknown; message?: unknown } | undefined;
  if (
    "error" in m &&
    !(isObject(error) && Number.isInteger(error?.code) && typeof error?.message === "string")
  ) {
    return '"error" must be an object with an integer "code" and a string "message"';
  }
  const where = "params" in m ? "params" : "result";
  if (isObject(m[where]) && "_meta" in (m[where] as object)) return `"${where}._meta" is not valid`;
  return "not a JSON-RPC 2.0 message";
}

export interface StdioTransportOptions {
  /** @default Deno.stdin.readable */
  input?: ReadableStream<Uint8Array>;
  /** @default Deno.stdout.writable */
  output?: WritableStream<Uint8Array>;
  /** @default MAX_LINE_BYTES */
  maxLineBytes?: number;
  /** @default MAX_PENDING_OUTPUT_BYTES */
  maxPendingOutputBytes?: number;
  /** @default MAX_REQUESTS_IN_FLIGHT */
  maxRequestsInFlight?: number;
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
  /** Bytes given to `#write` and not yet written (nor failed). */
  #pending = 0;
  #maxPending: number;
  /** The client's ids of the requests read and not yet answered nor cancelled, to the SDK's. */
  #inFlight = new Map<string | number, number>();
  /** The SDK's ids of the requests in flight, to the client's. */
  #clientIds = new Map<number, string | number>();
  #lastId = 0;
  #maxInFlight: number;
  /** Resolved when there is room again to read requests (see `#waitForRoom`). */
  #room: PromiseWithResolvers<void> | undefined;

  constructor(options: StdioTransportOptions = {}) {
    this.#input = options.input ?? Deno.stdin.readable;
    this.#writer = (options.output ?? Deno.stdout.writable).getWriter();
    this.#maxLine = options.maxLineBytes ?? MAX_LINE_BYTES;
    this.#maxPending = options.maxPendingOutputBytes ?? MAX_PENDING_OUTPUT_BYTES;
    this.#maxInFlight = options.maxRequestsInFlight ?? MAX_REQUESTS_IN_FLIGHT;
  }

  #full(): boolean {
    return this.#pending > this.#maxPending || this.#inFlight.size >= this.#maxInFlight;
  }

  /** Waits until half the waiting answer bytes are written and a request may be in flight. */
  async #waitForRoom(): Promise<void> {
    while (this.#full() && !this.#closed) {
      this.#room ??= Promise.withResolvers();
      await this.#room.promise;
    }
  }

  #checkRoom(): void {
    if (
      this.#room && this.#pending <= this.#maxPending / 2 &&
      this.#inFlight.size < this.#maxInFlight
    ) {
      this.#room.resolve();
      this.#room = undefined;
    }
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
    let tail: Uint8Array = new Uint8Array(0);
    // One line ends. Never throws: a line that breaks its handler must not end this loop
    // (nothing would be read again, and the end of input never seen).
    const endLine = () => {
      try {
        if (discarding) this.#tooLarge(head, tail);
        else this.#handleLine(concatBytes(parts));
      } catch (error) {
        this.onerror?.(error as Error);
      }
      parts = [];
      length = 0;
      discarding = false;
    };
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
            // Security: never buffer without bound; keep both ends to find the request id.
            const line = concatBytes(parts);
            head = line.slice(0, ID_SEARCH_BYTES);
            tail = line.slice(-ID_SEARCH_BYTES);
            parts = [];
            length = 0;
            discarding = true;
          }
        } else {
          tail = concatBytes([tail, value.subarray(start, end)]).slice(-ID_SEARCH_BYTES);
        }
        if (nl === -1) break;
        // Security: each request may bring another answer to hold until the client reads it.
        if (this.#full()) await this.#waitForRoom();
        // Closed meanwhile: what is left of the input is not handed on (no run may start).
        if (this.#closed) return;
        endLine();
        start = nl + 1;
      }
    }
    if (this.#closed) return;
    // A last line without its newline is a line too.
    if (length || discarding) endLine();
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
        `Invalid Request: ${whyInvalid(raw)}`,
      );
      return;
    }
    let message = parsed.data;
    if ("method" in message && "id" in message) {
      if (this.#inFlight.has(message.id)) {
        this.#sendError(
          message.id,
          -32600,
          `Invalid Request: id ${
            JSON.stringify(message.id).slice(0, 100)
          } is in use by a request in flight`,
        );
        return;
      }
      const id = ++this.#lastId;
      this.#inFlight.set(message.id, id);
      this.#clientIds.set(id, message.id);
      message = { ...message, id };
    } else if (message.method === "notifications/cancelled") {
      // The client gave up on it: no answer will come (MCP), and its id is free. A cancel
      // for a request no longer in flight (answered meanwhile, as MCP allows) goes nowhere:
      // its id, as a number, could name another request among the SDK's own.
      const params = message.params as { requestId?: string | number } | undefined;
      const id = params?.requestId === undefined ? undefined : this.#inFlight.get(params.requestId);
      if (id === undefined) return;
      this.#answered(id);
      message = { ...message, params: { ...params, requestId: id } };
    }
    try {
      this.onmessage?.(message);
    } catch (error) {
      this.onerror?.(error as Error);
    }
  }

  /**
   * Answers a line too large to read. Its id is taken only where it is certainly the
   * request's own: among the object's first members or its last ones, beside string-valued
   * members only (an `"id"` inside the params is not the request's). Otherwise `null`.
   */
  #tooLarge(head: Uint8Array, tail: Uint8Array): void {
    const decoder = new TextDecoder();
    const m = ID_FIRST.exec(decoder.decode(head)) ?? ID_LAST.exec(decoder.decode(tail));
    let id: string | number | null = null;
    try {
      if (m) id = JSON.parse(m[1]!);
    } catch {
      // not a valid JSON id (`"\x"`, `01`): answered with null
    }
    this.#sendError(id, -32600, `Request too large: over ${this.#maxLine} bytes`);
  }

  #sendError(id: string | number | null, code: number, message: string): void {
    const response = { jsonrpc: "2.0", id, error: { code, message } };
    this.#write(JSON.stringify(response) + "\n").catch((error) => this.onerror?.(error));
  }

  /** Forgets a request in flight by the SDK's id; returns the client's. */
  #answered(id: number): string | number | undefined {
    const clientId = this.#clientIds.get(id);
    this.#clientIds.delete(id);
    if (clientId !== undefined) this.#inFlight.delete(clientId);
    this.#checkRoom();
    return clientId;
  }

  #write(text: string): Promise<void> {
    const bytes = this.#encoder.encode(text);
    this.#pending += bytes.length;
    // One write at a time, so that messages never interleave.
    this.#writes = this.#writes.then(() => this.#writer.write(bytes)).finally(() => {
      this.#pending -= bytes.length;
      this.#checkRoom();
    });
    return this.#writes;
  }

  send(message: JSONRPCMessage): Promise<void> {
    if (this.#closed) return Promise.resolve();
    if (!("method" in message) && "id" in message) {
      // An answer: under the client's id. None is left for a request the client cancelled.
      const clientId = this.#answered(message.id as number);
      if (clientId === undefined) return Promise.resolve();
      message = { ...message, id: clientId };
    }
    let text: string;
    try {
      text = JSON.stringify(message);
    } catch (error) {
      // A response that cannot become one JSON string (V8 caps strings near 512 MB): the
      // request still gets its answer, an error saying why.
      const id = (message as { id?: unknown }).id;
      if (typeof id !== "string" && typeof id !== "number") return Promise.reject(error);
      const why = `The response could not be written: ${(error as Error).message}`;
      text = JSON.stringify({ jsonrpc: "2.0", id, error: { code: -32603, message: why } });
    }
    return this.#write(text + "\n");
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#room?.resolve();
    await this.#reader?.cancel().catch(() => {});
    await this.#writes.catch(() => {});
    this.onclose?.();
  }
}
