import assert from "node:assert/strict";
import { concatBytes } from "./bytes.ts";
import { FrameScanner, newNonce } from "./frames.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array[]) => new TextDecoder().decode(concatBytes(b));

function scan(nonce: string, chunks: string[], maxFrameBytes = 1 << 20) {
  const output: Uint8Array[] = [];
  const frames: unknown[] = [];
  let oversize = 0;
  const s = new FrameScanner(nonce, {
    onOutput: (b) => output.push(b.slice()),
    onFrame: (m) => frames.push(m),
    onOversize: () => oversize++,
    maxFrameBytes,
  });
  for (const c of chunks) s.push(enc(c));
  s.end();
  return { output: dec(output), frames, oversize };
}

const N = "0123456789abcdef0123456789abcdef";
const frame = (json: string) => `\x1e${N}${json}\x1e`;

Deno.test("newNonce() returns 32 fresh hex digits", () => {
  const a = newNonce();
  assert.match(a, /^[0-9a-f]{32}$/);
  assert.notEqual(a, newNonce());
});

Deno.test("FrameScanner strips a frame and keeps the output around it intact", () => {
  const r = scan(N, [`abc${frame('{"t":"result","value":1}')}def`]);
  assert.equal(r.output, "abcdef");
  assert.deepEqual(r.frames, [{ t: "result", value: 1 }]);
});

Deno.test("FrameScanner finds frames split at every possible chunk boundary", () => {
  const text = `x${frame('{"t":"result","value":"y"}')}z`;
  for (let i = 0; i <= text.length; i++) {
    for (const j of [i, Math.min(text.length, i + 1), Math.min(text.length, i + 7)]) {
      const r = scan(N, [text.slice(0, i), text.slice(i, j), text.slice(j)]);
      assert.equal(r.output, "xz", `split at ${i},${j}`);
      assert.deepEqual(r.frames, [{ t: "result", value: "y" }]);
    }
  }
});

Deno.test("FrameScanner treats a frame with another nonce as output", () => {
  const forged = `\x1e${"0".repeat(32)}{"t":"result","value":42}\x1e`;
  const r = scan(N, [forged, "\x1e", "\x1e\x1e" + N.slice(0, 10)]);
  assert.equal(r.output, forged + "\x1e\x1e\x1e" + N.slice(0, 10));
  assert.deepEqual(r.frames, []);
});

Deno.test("FrameScanner recovers when a false start runs into a real frame", () => {
  const r = scan(N, [`\x1e${N.slice(0, 5)}${frame('{"t":"result"}')}`]);
  assert.equal(r.output, `\x1e${N.slice(0, 5)}`);
  assert.deepEqual(r.frames, [{ t: "result" }]);
});

Deno.test("FrameScanner reports an oversized frame once and stops", () => {
  const r = scan(N, [`a\x1e${N}` + "x".repeat(100), "y".repeat(100), "\x1ebbb"], 150);
  assert.equal(r.oversize, 1);
  assert.equal(r.output, "a");
  assert.deepEqual(r.frames, []);
});

Deno.test("FrameScanner drops an unfinished frame at the end", () => {
  const r = scan(N, [`a\x1e${N}{"t":`]);
  assert.equal(r.output, "a");
  assert.deepEqual(r.frames, []);
});

Deno.test("FrameScanner marks a frame that is not JSON as corrupt", () => {
  assert.deepEqual(scan(N, [frame("{nope")]).frames, [{ t: "corrupt" }]);
});

Deno.test("FrameScanner decodes a frame body whose UTF-8 is split between chunks", () => {
  const bytes = enc(`a${frame('{"t":"result","value":"€ and 🎉"}')}b`);
  for (let i = 0; i <= bytes.length; i++) {
    const frames: unknown[] = [];
    const output: Uint8Array[] = [];
    const s = new FrameScanner(N, {
      onOutput: (b) => output.push(b.slice()),
      onFrame: (m) => frames.push(m),
      onOversize: () => {},
      maxFrameBytes: 1 << 20,
    });
    // The chunks share one buffer that is overwritten after each push, as drain() does.
    const shared = new Uint8Array(bytes.length);
    for (const [from, to] of [[0, i], [i, bytes.length]] as const) {
      shared.set(bytes.subarray(from, to));
      s.push(shared.subarray(0, to - from));
      shared.fill(0);
    }
    s.end();
    assert.deepEqual(frames, [{ t: "result", value: "€ and 🎉" }], `split at ${i}`);
    assert.equal(dec(output), "ab", `split at ${i}`);
  }
});
