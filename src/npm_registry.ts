/**
 * The npm registry the conductor installs from, and where Deno caches its packages.
 */
import { join } from "node:path";

export const DEFAULT_NPM_REGISTRY = "https://registry.npmjs.org/";

/** The registry URL without credentials, safe to show and to pass to children. */
export function publicRegistryUrl(url: string): string {
  const u = new URL(url);
  u.username = "";
  u.password = "";
  return u.href;
}

/**
 * The folder below `DENO_DIR/npm` where Deno caches this registry's packages: the domain
 * (none for an IP address), `_port` (or just the port), then one folder per path segment,
 * with characters that cannot be in a file name replaced by `_`.
 */
export function registryCacheDir(denoDir: string, registry: string): string {
  const url = new URL(registry);
  // deno-lint-ignore no-control-regex
  const sanitize = (s: string) => s.replace(/[/\\<>:"|?*\u0000-\u001f]/g, "_");
  const isIp = /^\[.*\]$|^\d+\.\d+\.\d+\.\d+$/.test(url.hostname);
  let head = isIp ? "" : sanitize(url.hostname);
  if (url.port) head = head ? `${head}_${url.port}` : url.port;
  const segments = url.pathname.split("/").filter(Boolean).map((s) =>
    sanitize(decodeURIComponent(s))
  );
  return join(denoDir, "npm", head, ...segments);
}
