import assert from "node:assert/strict";
import { BusyError, Limiter } from "./concurrency.ts";

const later = () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => release = r);
  return { gate, release };
};

Deno.test("Limiter runs at most max at once, then queues in order, then refuses", async () => {
  const limiter = new Limiter(2, 1);
  const order: string[] = [];
  const a = later(), b = later(), c = later();
  const pa = limiter.run(async () => (order.push("a"), await a.gate));
  assert.equal(limiter.spare, true, "one slot left");
  const pb = limiter.run(async () => (order.push("b"), await b.gate));
  assert.equal(limiter.spare, false, "full");
  const pc = limiter.run(async () => (order.push("c"), await c.gate));
  await Promise.resolve();
  assert.deepEqual([limiter.running, limiter.queued], [2, 1]);
  await assert.rejects(() => limiter.run(() => Promise.resolve()), BusyError);
  assert.deepEqual(order, ["a", "b"]);
  a.release();
  await pa;
  await new Promise((r) => setTimeout(r, 0));
  assert.deepEqual(order, ["a", "b", "c"]);
  b.release();
  c.release();
  await Promise.all([pb, pc]);
  assert.deepEqual([limiter.running, limiter.queued], [0, 0]);
  assert.equal(limiter.spare, true);
});

Deno.test("Limiter lets a queued call leave when its signal aborts", async () => {
  const limiter = new Limiter(1, 5);
  const a = later();
  const pa = limiter.run(() => a.gate);
  const controller = new AbortController();
  const pb = limiter.run(() => Promise.resolve("never"), controller.signal);
  assert.equal(limiter.queued, 1);
  controller.abort(new Error("gone"));
  await assert.rejects(pb, /gone/);
  assert.equal(limiter.queued, 0);
  a.release();
  await pa;
  assert.equal(await limiter.run(() => Promise.resolve("next")), "next");
});

Deno.test("Limiter frees the slot when the work throws", async () => {
  const limiter = new Limiter(1, 0);
  await assert.rejects(limiter.run(() => Promise.reject(new Error("boom"))), /boom/);
  assert.equal(await limiter.run(() => Promise.resolve(1)), 1);
});

Deno.test("Limiter tickets hold a place from arrival: later arrivals are refused, a ticket left is given back", async () => {
  const limiter = new Limiter(1, 1);
  const first = limiter.admit();
  const second = limiter.admit();
  // Both places are taken before either runs: a third arrival is refused, ticket or not.
  assert.throws(() => limiter.admit(), BusyError);
  await assert.rejects(limiter.run(() => Promise.resolve(0)), BusyError);
  const gate = later();
  const one = limiter.run(() => gate.gate.then(() => 1), undefined, first);
  // A ticket's run is never refused, even when the line looks full to others.
  const two = limiter.run(() => Promise.resolve(2), undefined, second);
  assert.equal(limiter.queued, 1);
  gate.release();
  assert.deepEqual(await Promise.all([one, two]), [1, 2]);
  // A ticket whose run never happens is given back once, however often it is left.
  const unused = limiter.admit();
  limiter.admit();
  assert.throws(() => limiter.admit(), BusyError);
  limiter.leave(unused);
  limiter.leave(unused);
  const third = limiter.admit();
  assert.throws(() => limiter.admit(), BusyError);
  limiter.leave(third);
});
