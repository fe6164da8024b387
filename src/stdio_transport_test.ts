import assert from "node:assert/strict";
import { StdioTransport } from "./stdio_transport.ts";

/** A transport over in-memory streams: feed lines in, read lines out. */
function harness(maxLineBytes = 1024) {
  const input = new TransformStream<Uint8Array, Uint8Array>();
  const writer = input.writable.getWriter();
  const written: string[] = [];
  const output = new WritableStream<Uint8Array>({
    write(chunk) {
      written.push(...new TextDecoder().decode(chunk).split("\n").filter(Boolean));
    },
  });
  const transport = new StdioTransport({ input: input.readable, output, maxLineBytes });
  const messages: unknown[] = [];
  transport.onmessage = (m) => messages.push(m);
  let closed = false;
  transport.onclose = () => closed = true;
  const send = (text: string) => writer.write(new TextEncoder().encode(text));
  const settle = () => new Promise((r) => setTimeout(r, 10));
  return {
    transport,
    send,
    written,
    messages,
    settle,
    end: () => writer.close(),
    isClosed: () => closed,
  };
}

Deno.test("StdioTransport delivers JSON-RPC lines split across chunks", async () => {
  const h = harness();
  await h.transport.start();
  await h.send('{"jsonrpc":"2.0","id":1,"me');
  await h.send('thod":"ping"}\n{"jsonrpc":"2.0","method":"notifications/initialized"}\n');
  await h.settle();
  assert.deepEqual(h.messages, [
    { jsonrpc: "2.0", id: 1, method: "ping" },
    { jsonrpc: "2.0", method: "notifications/initialized" },
  ]);
});

Deno.test("StdioTransport answers bad lines with JSON-RPC errors and keeps reading", async () => {
  const h = harness(200);
  await h.transport.start();
  await h.send("{not json\n");
  await h.send('{"hello":"world","id":7}\n');
  await h.send(`{"jsonrpc":"2.0","id":"big","method":"x","params":{"p":"${"a".repeat(500)}"}}\n`);
  await h.send('{"jsonrpc":"2.0","id":2,"method":"ping"}\n');
  await h.settle();
  assert.deepEqual(h.written.map((l) => JSON.parse(l)), [
    {
      jsonrpc: "2.0",
      id: null,
      error: { code: -32700, message: "Parse error: the line is not valid JSON" },
    },
    {
      jsonrpc: "2.0",
      id: 7,
      error: { code: -32600, message: "Invalid Request: not a JSON-RPC 2.0 message" },
    },
    {
      jsonrpc: "2.0",
      id: "big",
      error: { code: -32600, message: "Request too large: over 200 bytes" },
    },
  ]);
  assert.deepEqual(h.messages, [{ jsonrpc: "2.0", id: 2, method: "ping" }]);
  assert.equal(h.isClosed(), false);
});

Deno.test("StdioTransport closes at end of input, or tells its owner first", async () => {
  const h = harness();
  await h.transport.start();
  await h.end();
  await h.settle();
  assert.equal(h.isClosed(), true);
  const owned = harness();
  let ended = false;
  owned.transport.onend = () => ended = true;
  await owned.transport.start();
  await owned.end();
  await owned.settle();
  assert.deepEqual([ended, owned.isClosed()], [true, false]);
  await owned.transport.close();
  assert.equal(owned.isClosed(), true);
});

Deno.test("StdioTransport writes each message as one line", async () => {
  const h = harness();
  await h.transport.start();
  await Promise.all([
    h.transport.send({ jsonrpc: "2.0", id: 1, result: {} }),
    h.transport.send({ jsonrpc: "2.0", id: 2, result: { text: "a\nb" } }),
  ]);
  assert.deepEqual(h.written.map((l) => JSON.parse(l).id), [1, 2]);
});
