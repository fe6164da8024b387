/**
 * Non-public address ranges, and the `--deny-net` list built from them.
 *
 * Security: Deno checks `--deny-net` against the RESOLVED address at connect time
 * (after normalizing forms such as `127.1` or `0x7f000001`), so a deny list of ranges
 * also stops a public-looking hostname that resolves to loopback. `--allow-net` is
 * matched on the name as written, so the allow list alone cannot do this.
 * Deno does not accept IPv6 CIDR, so IPv6 is denied by single addresses only.
 *
 * Pure: no I/O.
 */

/** IPv4 ranges that sandboxed code may never reach unless the operator makes a hole. */
export const PRIVATE_IPV4_RANGES: readonly string[] = [
  "0.0.0.0/8", // "this" network
  "10.0.0.0/8", // private
  "100.64.0.0/10", // carrier-grade NAT
  "127.0.0.0/8", // loopback
  "169.254.0.0/16", // link-local, cloud metadata (169.254.169.254)
  "172.16.0.0/12", // private
  "192.0.0.0/24", // IETF protocol assignments
  "192.0.2.0/24", // documentation
  "192.168.0.0/16", // private
  "198.18.0.0/15", // benchmarking
  "198.51.100.0/24", // documentation
  "203.0.113.0/24", // documentation
  "224.0.0.0/4", // multicast
  "240.0.0.0/4", // reserved, broadcast
];

/** IPv6 addresses denied one by one (Deno rejects IPv6 CIDR). */
export const PRIVATE_IPV6_ADDRESSES: readonly string[] = [
  "[::1]", // loopback
  "[::]", // unspecified
  "[fd00:ec2::254]", // AWS metadata over IPv6
];

export interface Cidr {
  /** Network address as an unsigned 32-bit number. */
  base: number;
  /** Prefix length, 0 to 32. */
  bits: number;
}

const IPV4_RE = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** Parses a canonical dotted-quad IPv4 address; `undefined` for anything else. */
export function parseIpv4(text: string): number | undefined {
  if (!IPV4_RE.test(text)) return undefined;
  return text.split(".").reduce((acc, part) => acc * 256 + Number(part), 0);
}

/** Parses `a.b.c.d` or `a.b.c.d/n`; `undefined` when it is neither. */
export function parseCidr(text: string): Cidr | undefined {
  const [addr, bitsText, extra] = text.split("/");
  if (extra !== undefined || addr === undefined) return undefined;
  const ip = parseIpv4(addr);
  if (ip === undefined) return undefined;
  const bits = bitsText === undefined ? 32 : /^\d{1,2}$/.test(bitsText) ? Number(bitsText) : NaN;
  if (!(bits >= 0 && bits <= 32)) return undefined;
  return { base: ip - (ip % 2 ** (32 - bits)), bits };
}

export function formatCidr(cidr: Cidr): string {
  const b = cidr.base;
  const ip = [b >>> 24, (b >>> 16) & 255, (b >>> 8) & 255, b & 255].join(".");
  return cidr.bits === 32 ? ip : `${ip}/${cidr.bits}`;
}

function size(c: Cidr): number {
  return 2 ** (32 - c.bits);
}

/** True when `inner` lies entirely inside `outer`. */
export function cidrContains(outer: Cidr, inner: Cidr): boolean {
  return inner.bits >= outer.bits && inner.base >= outer.base &&
    inner.base + size(inner) <= outer.base + size(outer);
}

export function cidrOverlaps(a: Cidr, b: Cidr): boolean {
  return a.base < b.base + size(b) && b.base < a.base + size(a);
}

/** `range` minus `hole`, as the smallest list of CIDRs that covers exactly the rest. */
export function subtractCidr(range: Cidr, hole: Cidr): Cidr[] {
  if (!cidrOverlaps(range, hole)) return [range];
  if (cidrContains(hole, range)) return [];
  // Split the range in two halves and keep subtracting from each.
  const half = { bits: range.bits + 1 };
  const low: Cidr = { base: range.base, ...half };
  const high: Cidr = { base: range.base + size(low), ...half };
  return [...subtractCidr(low, hole), ...subtractCidr(high, hole)];
}

/**
 * The `--deny-net` entries: every private range minus the operator's exceptions
 * (`privateNet` in the ceiling: IPv4 addresses or CIDRs, or the IPv6 addresses above),
 * then single addresses (the IPv6 ones above, and `hostAddresses`) not excepted.
 */
export function denyNetList(
  exceptions: readonly string[],
  hostAddresses: readonly string[] = [],
): string[] {
  const holes = exceptions.map(parseCidr).filter((c): c is Cidr => c !== undefined);
  let ranges = PRIVATE_IPV4_RANGES.map((r) => parseCidr(r)!);
  for (const hole of holes) ranges = ranges.flatMap((r) => subtractCidr(r, hole));
  const single = new Set([...PRIVATE_IPV6_ADDRESSES, ...hostAddresses]);
  return [...ranges.map(formatCidr), ...[...single].filter((a) => !exceptions.includes(a))];
}

/** True when an IPv4 address or CIDR touches a private range not opened by an exception. */
export function isPrivateIpv4(cidr: Cidr, exceptions: readonly string[]): boolean {
  const open = exceptions.map(parseCidr).filter((c): c is Cidr => c !== undefined);
  if (open.some((hole) => cidrContains(hole, cidr))) return false;
  return PRIVATE_IPV4_RANGES.some((r) => cidrOverlaps(parseCidr(r)!, cidr));
}

/**
 * True for an IPv6 literal (without brackets) outside global unicast (2000::/3), which
 * covers loopback, unspecified, unique-local, link-local, multicast and IPv4-mapped forms.
 */
export function isNonGlobalIpv6(address: string): boolean {
  const first = address.toLowerCase().startsWith("::") ? "0" : address.split(":")[0] ?? "0";
  const hextet = parseInt(first || "0", 16);
  return !(hextet >= 0x2000 && hextet <= 0x3fff);
}
