import assert from "node:assert/strict";
import {
  cidrContains,
  denyNetList,
  formatCidr,
  isNonGlobalIpv6,
  isPrivateIpv4,
  parseCidr,
  parseIpv4,
  PRIVATE_IPV4_RANGES,
  subtractCidr,
} from "./private_net.ts";

Deno.test("parseIpv4() accepts only canonical dotted quads", () => {
  assert.equal(parseIpv4("127.0.0.1"), 0x7f000001);
  assert.equal(parseIpv4("255.255.255.255"), 0xffffffff);
  for (const bad of ["127.1", "0x7f000001", "2130706433", "01.2.3.4", "1.2.3.256", "1.2.3", ""]) {
    assert.equal(parseIpv4(bad), undefined, bad);
  }
});

Deno.test("parseCidr() normalizes the base address and checks the prefix", () => {
  assert.equal(formatCidr(parseCidr("10.1.2.3/8")!), "10.0.0.0/8");
  assert.equal(formatCidr(parseCidr("8.8.8.8")!), "8.8.8.8");
  assert.equal(parseCidr("10.0.0.0/33"), undefined);
  assert.equal(parseCidr("10.0.0.0/x"), undefined);
  assert.equal(parseCidr("10.0.0.0/8/8"), undefined);
});

Deno.test("subtractCidr() leaves exactly the rest of the range", () => {
  const rest = subtractCidr(parseCidr("127.0.0.0/8")!, parseCidr("127.0.0.1")!);
  assert.equal(rest.length, 24);
  assert.deepEqual(rest.slice(0, 3).map(formatCidr), ["127.0.0.0", "127.0.0.2/31", "127.0.0.4/30"]);
  const covered = rest.reduce((n, c) => n + 2 ** (32 - c.bits), 0);
  assert.equal(covered, 2 ** 24 - 1);
  assert.ok(!rest.some((c) => cidrContains(c, parseCidr("127.0.0.1")!)));
  assert.deepEqual(
    subtractCidr(parseCidr("10.0.0.0/8")!, parseCidr("11.0.0.0/8")!).map(formatCidr),
    [
      "10.0.0.0/8",
    ],
  );
  assert.deepEqual(subtractCidr(parseCidr("10.0.0.0/8")!, parseCidr("0.0.0.0/0")!), []);
});

Deno.test("denyNetList() covers every private range and IPv6 loopback by default", () => {
  const list = denyNetList([]);
  assert.deepEqual(list.slice(0, PRIVATE_IPV4_RANGES.length), [...PRIVATE_IPV4_RANGES]);
  assert.ok(list.includes("[::1]"));
  assert.ok(list.includes("169.254.0.0/16"));
});

Deno.test("denyNetList() makes holes for the operator's exceptions only", () => {
  const list = denyNetList(["127.0.0.1", "[::1]", "10.0.0.0/8"]);
  assert.ok(!list.includes("127.0.0.0/8"));
  assert.ok(!list.includes("127.0.0.1"));
  assert.ok(list.includes("127.0.0.2/31"));
  assert.ok(!list.some((e) => e.startsWith("10.")));
  assert.ok(!list.includes("[::1]"));
  assert.ok(list.includes("192.168.0.0/16"));
});

Deno.test("isPrivateIpv4() flags any overlap with a private range", () => {
  assert.ok(isPrivateIpv4(parseCidr("0.0.0.0/0")!, []));
  assert.ok(isPrivateIpv4(parseCidr("169.254.169.254")!, []));
  assert.ok(!isPrivateIpv4(parseCidr("8.8.8.8")!, []));
  assert.ok(!isPrivateIpv4(parseCidr("127.0.0.1")!, ["127.0.0.0/8"]));
  assert.ok(isPrivateIpv4(parseCidr("127.0.0.0/8")!, ["127.0.0.1"]));
});

Deno.test("isNonGlobalIpv6() allows global unicast only", () => {
  for (
    const a of [
      "::1",
      "::",
      "fe80::1",
      "fd00::1",
      "fc00::1",
      "ff02::1",
      "::ffff:127.0.0.1",
      "64:ff9b::1",
    ]
  ) {
    assert.ok(isNonGlobalIpv6(a), a);
  }
  for (const a of ["2001:db8::1", "2606:4700::1111", "3fff::1"]) assert.ok(!isNonGlobalIpv6(a), a);
});
