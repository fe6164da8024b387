import assert from "node:assert/strict";
import { StdioTransport, type StdioTransportOptions } from "./stdio_transport.ts";

/**
 * A transport over in-memory streams: feed lines in, read lines out. `stuck`: the client
 * reads nothing until `unstick()`.
 */
function harness(
  maxLineBytes = 1024,
  options: StdioTransportOptions & { stuck?: boolean } = {},
) {
  const input = new TransformStream<Uint8Array, Uint8Array>();
  const writer = input.writable.getWriter();
  const written: string[] = [];
  const reading = Promise.withResolvers<void>();
  if (!options.stuck) reading.resolve();
  const output = new WritableStream<Uint8Array>({
    async write(chunk) {
      await reading.promise;
      written.push(...new TextDecoder().decode(chunk).split("\n").filter(Boolean));
    },
  });
  const transport = new StdioTransport({ ...options, input: input.readable, output, maxLineBytes });
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
    unstick: () => reading.resolve(),
  };
}

const request = (id: number | string) =>
  JSON.stringify({ jsonrpc: "2.0", id, method: "tools/call", params: { name: "x" } }) + "\n";
const cancel = (id: number | string) =>
  JSON.stringify({ jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: id } }) +
  "\n";
const idsOf = (messages: unknown[]) =>
  messages.map((m) =>
    (m as { id?: unknown; method: string }).id ?? (m as { method: string }).method
  );

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
      error: { code: -32600, message: 'Invalid Request: "jsonrpc" must be "2.0"' },
    },
    {
      jsonrpc: "2.0",
      id: "big",
      error: { code: -32600, message: "Request too large: over 200 bytes" },
    },
  ]);
  // Under the SDK's own id: the first request read.
  assert.deepEqual(h.messages, [{ jsonrpc: "2.0", id: 1, method: "ping" }]);
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
  await h.send(request("a") + request("b"));
  await h.settle();
  await Promise.all([
    h.transport.send({ jsonrpc: "2.0", id: 1, result: {} }),
    h.transport.send({ jsonrpc: "2.0", id: 2, result: { text: "a\nb" } }),
  ]);
  assert.deepEqual(h.written.map((l) => JSON.parse(l).id), ["a", "b"]);
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
  // Under the SDK's own id: the first request read.
  assert.deepEqual(h.messages, [{ jsonrpc: "2.0", id: 1, method: "ping" }]);
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
  await h.send(request(3));
  await h.settle();
  // Stands in for a result past V8's string limit: JSON.stringify throws either way.
  await h.transport.send({ jsonrpc: "2.0", id: 1, result: { big: 1n } as unknown as object });
  const [line] = h.written.map((l) => JSON.parse(l));
  assert.equal(line.id, 3);
  assert.equal(line.error.code, -32603);
  assert.match(line.error.message, /could not be written: .*BigInt/);
});

Deno.test("StdioTransport reads no requests while the client leaves its answers unread, and loses none", async () => {
  const h = harness(1024, { stuck: true, maxPendingOutputBytes: 100 });
  // Each request is answered at once with about 60 bytes.
  h.transport.onmessage = (m) => {
    h.messages.push(m);
    const id = (m as { id: number }).id;
    h.transport.send({ jsonrpc: "2.0", id, result: { pad: "x".repeat(20) } });
  };
  await h.transport.start();
  await h.send([1, 2, 3, 4, 5, 6].map(request).join(""));
  await h.settle();
  // Two answers (120 bytes) wait: the third request stays unread.
  assert.deepEqual(idsOf(h.messages), [1, 2]);
  h.unstick();
  await h.settle();
  assert.deepEqual(idsOf(h.messages), [1, 2, 3, 4, 5, 6]);
  assert.deepEqual(h.written.map((l) => JSON.parse(l).id), [1, 2, 3, 4, 5, 6]);
});

Deno.test("StdioTransport reads no more unanswered requests than its maximum; an answer or a cancel frees one", async () => {
  const h = harness(1024, { maxRequestsInFlight: 2 });
  await h.transport.start();
  // The client's "a" to "e" are the SDK's 1 to 5: requests are numbered as read.
  await h.send(
    request("a") + request("b") + cancel("a") + request("c") + request("d") + request("e"),
  );
  await h.settle();
  assert.deepEqual(idsOf(h.messages), [1, 2]);
  await h.transport.send({ jsonrpc: "2.0", id: 2, result: {} });
  await h.settle();
  // The cancel freed "a" (the SDK is told 1): both "c" and "d" are in flight now, "e" waits.
  assert.deepEqual(idsOf(h.messages), [1, 2, "notifications/cancelled", 3, 4]);
  assert.deepEqual((h.messages[2] as { params: unknown }).params, { requestId: 1 });
  await h.transport.send({ jsonrpc: "2.0", id: 3, error: { code: -1, message: "no" } });
  await h.settle();
  assert.deepEqual(idsOf(h.messages).slice(5), [5]);
  assert.deepEqual(h.written.map((l) => JSON.parse(l).id), ["b", "c"]);
});

Deno.test("StdioTransport drops a cancel that comes after its answer: it never reaches another request", async () => {
  const h = harness();
  await h.transport.start();
  // The SDK numbers these 1, 2 and 3: a raw 2 would name the slow request.
  await h.send(request("init") + request(1) + request(2));
  await h.settle();
  await h.transport.send({ jsonrpc: "2.0", id: 3, result: {} }); // the answer to 2
  await h.send(cancel(2) + cancel("never-sent"));
  await h.settle();
  assert.deepEqual(idsOf(h.messages), [1, 2, 3]);
  // The slow request is still in flight, and its own cancel still reaches it.
  await h.send(cancel(1));
  await h.settle();
  assert.deepEqual(h.messages[3], {
    jsonrpc: "2.0",
    method: "notifications/cancelled",
    params: { requestId: 2 },
  });
});

Deno.test("StdioTransport hands nothing on once closed, even lines it had read and held back", async () => {
  const h = harness(1024, { maxRequestsInFlight: 1 });
  let ended = false;
  h.transport.onend = () => ended = true;
  await h.transport.start();
  await h.send(request(1) + request(2) + request(3));
  await h.settle();
  assert.deepEqual(idsOf(h.messages), [1]);
  await h.transport.close();
  await h.settle();
  assert.deepEqual([idsOf(h.messages), ended], [[1], false]);
});

Deno.test("StdioTransport refuses a request whose id is in flight, and takes the id again once answered", async () => {
  const h = harness();
  await h.transport.start();
  await h.send(request(7) + request("7") + request(7));
  await h.settle();
  // 7 and "7" are different ids (the SDK sees 1 and 2); the second 7 is refused, the first
  // one untouched.
  assert.deepEqual(idsOf(h.messages), [1, 2]);
  assert.deepEqual(h.written.map((l) => JSON.parse(l)), [{
    jsonrpc: "2.0",
    id: 7,
    error: { code: -32600, message: "Invalid Request: id 7 is in use by a request in flight" },
  }]);
  await h.transport.send({ jsonrpc: "2.0", id: 1, result: {} });
  await h.send(request(7));
  await h.settle();
  assert.deepEqual(idsOf(h.messages), [1, 2, 3]);
  assert.deepEqual(h.written.map((l) => JSON.parse(l).id), [7, 7]);
});

Deno.test('StdioTransport gives the SDK ids of its own: a request 0 or "" can be cancelled', async () => {
  const h = harness();
  await h.transport.start();
  await h.send(request(0) + request("") + cancel(0));
  await h.settle();
  // The SDK (1.32.2) ignores a cancel whose requestId is falsy: it sees 1 and 2 instead.
  assert.deepEqual(h.messages.slice(0, 2).map((m) => (m as { id: unknown }).id), [1, 2]);
  assert.deepEqual(h.messages[2], {
    jsonrpc: "2.0",
    method: "notifications/cancelled",
    params: { requestId: 1 },
  });
  // The cancelled request's answer, if the SDK sent one anyway, is not the client's to get.
  await h.transport.send({ jsonrpc: "2.0", id: 1, result: {} });
  await h.transport.send({ jsonrpc: "2.0", id: 2, result: {} });
  assert.deepEqual(h.written.map((l) => JSON.parse(l)), [{ jsonrpc: "2.0", id: "", result: {} }]);
});

Deno.test("StdioTransport names why a request is invalid, and echoes its id when it has one", async (t) => {
  const cases: [string, unknown, string | number | null, string][] = [
    ["a batch", [{ jsonrpc: "2.0", id: 1, method: "ping" }], null, "batches are not supported"],
    ["a number", 42, null, "a message must be a JSON object"],
    ["null", null, null, "a message must be a JSON object"],
    ["no jsonrpc", { id: 1, method: "ping" }, 1, '"jsonrpc" must be "2.0"'],
    ["jsonrpc 1.0", { jsonrpc: "1.0", id: "a", method: "ping" }, "a", '"jsonrpc" must be "2.0"'],
    [
      "id null",
      { jsonrpc: "2.0", id: null, method: "ping" },
      null,
      '"id" must be a string or an integer',
    ],
    [
      "id a fraction",
      { jsonrpc: "2.0", id: 1.5, method: "ping" },
      1.5,
      '"id" must be a string or an integer',
    ],
    [
      "id an object",
      { jsonrpc: "2.0", id: { a: 1 }, method: "ping" },
      null,
      '"id" must be a string or an integer',
    ],
    [
      "params null",
      { jsonrpc: "2.0", id: 2, method: "x", params: null },
      2,
      '"params" must be an object',
    ],
    [
      "params an array",
      { jsonrpc: "2.0", id: 3, method: "x", params: [1] },
      3,
      '"params" must be an object',
    ],
    ["method not a string", { jsonrpc: "2.0", id: 4, method: 1 }, 4, '"method" must be a string'],
    [
      "no method",
      { jsonrpc: "2.0", id: 5 },
      5,
      'a message must have one of "method", "result" or "error"',
    ],
    [
      "method and result",
      { jsonrpc: "2.0", id: 6, method: "x", result: {} },
      6,
      'a message must have one of "method", "result" or "error"',
    ],
    [
      "unknown member",
      { jsonrpc: "2.0", id: 7, method: "x", extra: 1 },
      7,
      'unknown member "extra"',
    ],
    ["result without id", { jsonrpc: "2.0", result: {} }, null, 'a result must have an "id"'],
    ["result not an object", { jsonrpc: "2.0", id: 8, result: 1 }, 8, '"result" must be an object'],
    [
      "error without a code",
      { jsonrpc: "2.0", id: 9, error: { message: "no" } },
      9,
      '"error" must be an object with an integer "code" and a string "message"',
    ],
    [
      "bad _meta",
      { jsonrpc: "2.0", id: 10, method: "x", params: { _meta: 1 } },
      10,
      '"params._meta" is not valid',
    ],
  ];
  for (const [name, raw, id, why] of cases) {
    await t.step(name, async () => {
      const h = harness();
      await h.transport.start();
      await h.send(JSON.stringify(raw) + "\n" + '{"jsonrpc":"2.0","id":"next","method":"ping"}\n');
      await h.settle();
      assert.deepEqual(h.written.map((l) => JSON.parse(l)), [
        { jsonrpc: "2.0", id, error: { code: -32600, message: `Invalid Request: ${why}` } },
      ]);
      // The next line is still read, and valid.
      assert.deepEqual(h.messages, [{ jsonrpc: "2.0", id: 1, method: "ping" }]);
      await h.transport.close();
    });
  }
});
