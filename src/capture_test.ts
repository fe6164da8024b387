import assert from "node:assert/strict";
import { CappedBuffer } from "./capture.ts";

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
