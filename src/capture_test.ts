import assert from "node:assert/strict";
import { CappedBuffer, drain } from "./capture.ts";

const enc = (s: string) => new TextEncoder().encode(s);

Deno.test("CappedBuffer keeps the first cap bytes and flags the rest", () => {
  const b = new CappedBuffer(5);
  assert.equal(b.add(enc("abc")), true);
  assert.equal(b.add(enc("defg")), false);
  assert.equal(b.text(), "abcde");
  assert.equal(b.truncated, true);
  assert.equal(b.add(enc("h")), false);
  assert.equal(b.text(), "abcde");
});

Deno.test("CappedBuffer decodes UTF-8 split across chunks and replaces invalid bytes", () => {
  const b = new CappedBuffer(100);
  const euro = enc("€");
  b.add(euro.subarray(0, 1));
  b.add(euro.subarray(1));
  b.add(new Uint8Array([0xff, 0x41]));
  assert.equal(b.text(), "€\uFFFDA");
});

Deno.test("CappedBuffer.text() ends the text: later bytes are counted, not kept", () => {
  const b = new CappedBuffer(10);
  b.add(enc("ab"));
  assert.equal(b.text(), "ab");
  assert.equal(b.add(enc("cd")), true);
  assert.equal(b.text(), "ab");
  assert.equal(b.add(enc("0123456789")), false);
  assert.equal(b.truncated, true);
});

Deno.test("drain() delivers every byte of a long stream while reusing its read buffer", async () => {
  // 300 KB: several reads of one pipe, so that the buffer is reused between them.
  const child = new Deno.Command("sh", {
    args: ["-c", "seq 1 60000"],
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const kept = new CappedBuffer(10_000_000);
  let chunks = 0;
  const pump = drain(child.stdout, { push: (c) => void (chunks++, kept.add(c)), end() {} });
  await Promise.all([pump.done, child.status]);
  const expected = Array.from({ length: 60000 }, (_, i) => `${i + 1}\n`).join("");
  assert.equal(kept.text(), expected);
  assert.ok(chunks > 1, `expected several reads, got ${chunks}`);
});

Deno.test("drain() stops on stop() while the writer keeps the pipe open", async () => {
  const child = new Deno.Command("sh", {
    args: ["-c", "echo started; exec sleep 30"],
    stdout: "piped",
    stderr: "null",
  }).spawn();
  let seen = "";
  let ended = false;
  const pump = drain(child.stdout, {
    push: (c) => void (seen += new TextDecoder().decode(c)),
    end: () => ended = true,
  });
  while (!seen.includes("started")) await new Promise((r) => setTimeout(r, 10));
  pump.stop();
  await pump.done;
  assert.equal(ended, true);
  child.kill("SIGKILL");
  await child.status;
});
