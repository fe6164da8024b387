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

Deno.test("StdioTransport answers an over-long line by its own id only, and keeps reading whatever the line holds", async () => {
  const h = harness(200);
  await h.transport.start();
  const pad = "a".repeat(500);
  // Not valid JSON where the id should be: answered with null, and the next line still read.
  await h.send(`{"jsonrpc":"2.0","id":"\\x","method":"x","params":{"p":"${pad}"}}\n`);
  await h.send(`{"id":01,"method":"x","params":{"p":"${pad}"}}\n`);
  // The SDK client writes the id last; an "id" inside the params is not the request's.
  await h.send(
    `{"method":"x","params":{"arguments":{"id":3,"p":"${pad}"}},"jsonrpc":"2.0","id":9}\n`,
  );
  await h.send(`{"jsonrpc":"2.0","method":"x","params":{"p":"${pad}","id":4}}\n`);
  await h.send('{"jsonrpc":"2.0","id":2,"method":"ping"}\n');
  await h.settle();
  assert.deepEqual(h.written.map((l) => JSON.parse(l).id), [null, null, 9, null]);
  assert.deepEqual(h.messages, [{ jsonrpc: "2.0", id: 2, method: "ping" }]);
  assert.equal(h.isClosed(), false);
});

Deno.test("StdioTransport reads a last line that has no newline, and answers one too long", async () => {
  const h = harness(200);
  await h.transport.start();
  await h.send('{"jsonrpc":"2.0","id":1,"method":"ping"}');
  await h.end();
  await h.settle();
  assert.deepEqual(h.messages, [{ jsonrpc: "2.0", id: 1, method: "ping" }]);
  const long = harness(200);
  await long.transport.start();
  await long.send(`{"jsonrpc":"2.0","id":5,"method":"x","params":{"p":"${"a".repeat(500)}"}}`);
  await long.end();
  await long.settle();
  assert.deepEqual(long.written.map((l) => JSON.parse(l).id), [5]);
});

Deno.test("StdioTransport answers a response it cannot serialize with an error for its id", async () => {
  const h = harness();
  await h.transport.start();
  // Stands in for a result past V8's string limit: JSON.stringify throws either way.
  await h.transport.send({ jsonrpc: "2.0", id: 3, result: { big: 1n } as unknown as object });
  const [line] = h.written.map((l) => JSON.parse(l));
  assert.equal(line.id, 3);
  assert.equal(line.error.code, -32603);
  assert.match(line.error.message, /could not be written: .*BigInt/);
});
