/**
 * The host's own network addresses, for the children's `--deny-net` list.
 *
 * Security: the private ranges (`private_net.ts`) stop loopback and private IPv4, but a
 * host also answers on its interfaces' other addresses: a unique-local or global IPv6
 * address, or a public IPv4 address. A server bound to all interfaces is reachable there
 * from a child with `net`, unless each address is denied one by one (Deno takes no IPv6
 * ranges). Read from the interfaces at most every few seconds, so that an address the host
 * gains is denied soon, without a system call per execution.
 */
import { isPrivateIpv4, parseCidr } from "./private_net.ts";

/** How long one reading of the interfaces is used. */
const TTL_MS = 5_000;

let cached: { at: number; addresses: string[] } | undefined;

/** `--deny-net` entries for the host's addresses that the private ranges do not cover. */
export function hostAddresses(now = performance.now()): string[] {
  if (cached && now - cached.at < TTL_MS) return cached.addresses;
  const addresses = new Set<string>();
  for (const { family, address } of Deno.networkInterfaces()) {
    if (family === "IPv6") addresses.add(`[${address.split("%")[0]}]`);
    else {
      const cidr = parseCidr(address);
      if (cidr && !isPrivateIpv4(cidr, [])) addresses.add(address);
    }
  }
  cached = { at: now, addresses: [...addresses].sort() };
  return cached.addresses;
}
