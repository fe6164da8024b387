/**
 * Permission requests: validation, intersection with the operator's ceiling, and the
 * Deno flags that carry the result to a child.
 *
 * Pure: no I/O. Symlink and hard-link checks, which need the file system, live in
 * `path_guard.ts` and run on what this module grants.
 */
import { isAbsolute, resolve } from "node:path";
import {
  cidrContains,
  denyNetList,
  isNonGlobalIpv6,
  isPrivateIpv4,
  parseCidr,
} from "./private_net.ts";
import { isInside } from "./paths.ts";

/** What a caller asks for (the request shape of DESIGN.md). */
export interface Permissions {
  net?: string[] | true;
  read?: string[];
  write?: string[];
  env?: string[];
  import?: string[];
  sys?: string[] | true;
  run?: string[];
  ffi?: true;
  all?: true;
}

export type PermissionKind = keyof Permissions;

export const PERMISSION_KINDS: readonly PermissionKind[] = [
  "net",
  "read",
  "write",
  "env",
  "import",
  "sys",
  "run",
  "ffi",
  "all",
];

/** One refused entry: which kind, which value, and why. */
export interface Denial {
  kind: string;
  value: string;
  reason: string;
}

/** The most an operator lets any execution have (resolved: every field set). */
export interface Ceiling {
  /** `true`: any public host; a list: these hosts (`*.example.com` matches subdomains). */
  net: true | string[];
  /** Non-public IPv4 addresses/CIDRs and IPv6 addresses the operator opens anyway. */
  privateNet: string[];
  /** Absolute folders readable besides the conversation's files folder. */
  read: string[];
  /** Absolute folders writable besides the conversation's files folder. */
  write: string[];
  /** Env var names; a trailing `*` matches a prefix. */
  env: string[];
  /** Hosts remote modules may be imported from (cached modules only). */
  import: string[];
  /** `true`: every sys API that only reads (not `setPriority`); a list: these names. */
  sys: true | string[];
  /** Programs; any entry is a full sandbox escape (Deno can spawn `deno eval`). */
  run: string[];
  ffi: boolean;
  all: boolean;
}

/** The ceiling with no config: public net only, files folder only, nothing else. */
export const DEFAULT_CEILING: Ceiling = {
  net: true,
  privateNet: [],
  read: [],
  write: [],
  env: [],
  import: [],
  sys: [],
  run: [],
  ffi: false,
  all: false,
};

/** Every sys API Deno knows by name. */
export const SYS_NAMES: readonly string[] = [
  "hostname",
  "osRelease",
  "osUptime",
  "loadavg",
  "networkInterfaces",
  "systemMemoryInfo",
  "uid",
  "gid",
  "cpus",
  "homedir",
  "getegid",
  "username",
  "statfs",
  "getPriority",
  "setPriority",
  "userInfo",
];

/**
 * Security: sys APIs that change something outside the child. `setPriority` renices any
 * process of the conductor's user, the conductor itself too (and, run as root, raises the
 * child above it). Never part of `sys: true`: granted only when the ceiling's list names it.
 */
const SYS_CHANGING: readonly string[] = ["setPriority"];

/** What `sys: true` grants: the sys APIs that only read. */
export const SYS_READ_NAMES: readonly string[] = SYS_NAMES.filter((name) =>
  !SYS_CHANGING.includes(name)
);

const MAX_ENTRIES = 256;
const MAX_ENTRY_LENGTH = 4096;
const NOT_A_HOST = "not a host, host:port, [IPv6] or IPv4 CIDR";

/** Raised for a request that is malformed (not for one the ceiling refuses). */
export class PermissionRequestError extends TypeError {
  override name = "PermissionRequestError";
}

function describe(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (Array.isArray(value)) return "an array";
  return value === null ? "null" : typeof value;
}

/**
 * Checks one entry: a non-empty string without commas, `=`, NUL or control characters,
 * and not starting with `-` (it would be read as a flag).
 */
function checkEntry(kind: string, index: number, entry: unknown): string {
  const where = `permissions.${kind}[${index}]`;
  if (typeof entry !== "string") {
    throw new PermissionRequestError(`Invalid ${where}: expected a string, got ${describe(entry)}`);
  }
  const problem = entry === ""
    ? "empty string"
    : entry.length > MAX_ENTRY_LENGTH
    ? `longer than ${MAX_ENTRY_LENGTH} characters`
    : entry.includes(",")
    ? "contains a comma"
    : entry.includes("=")
    ? 'contains "="'
    : entry.startsWith("-")
    ? 'starts with "-"'
    // deno-lint-ignore no-control-regex
    : /[\u0000-\u001f\u007f]/.test(entry)
    ? "contains a NUL or control character"
    : kind === "net" && !parseNetEntry(entry)
    ? NOT_A_HOST
    : kind === "sys" && !SYS_NAMES.includes(entry)
    ? `unknown sys API; expected one of ${SYS_NAMES.join(", ")}`
    : undefined;
  if (problem) {
    throw new PermissionRequestError(`Invalid ${where} ${JSON.stringify(entry)}: ${problem}`);
  }
  return entry;
}

function checkList(kind: string, value: unknown, allowTrue: boolean): string[] | true {
  if (value === true && allowTrue) return true;
  if (!Array.isArray(value)) {
    const expected = allowTrue ? "an array of strings or true" : "an array of strings";
    throw new PermissionRequestError(
      `Invalid permissions.${kind}: expected ${expected}, got ${describe(value)}`,
    );
  }
  if (value.length > MAX_ENTRIES) {
    throw new PermissionRequestError(
      `Invalid permissions.${kind}: more than ${MAX_ENTRIES} entries`,
    );
  }
  return value.map((entry, i) => checkEntry(kind, i, entry));
}

/**
 * Validates an untrusted request (parsed JSON) into `Permissions`.
 * `undefined`/`null` means nothing requested. `false` for a boolean kind means not requested.
 * @throws {PermissionRequestError} naming the first bad entry
 */
export function parsePermissions(raw: unknown): Permissions {
  if (raw === undefined || raw === null) return {};
  if (typeof raw !== "object" || Array.isArray(raw)) {
    throw new PermissionRequestError(
      `Invalid permissions: expected an object, got ${describe(raw)}`,
    );
  }
  const out: Permissions = {};
  for (const key of Object.keys(raw)) {
    // Security: own keys only; "__proto__" from JSON.parse is an own key and is refused here.
    if (!(PERMISSION_KINDS as readonly string[]).includes(key)) {
      throw new PermissionRequestError(
        `Unknown permission kind ${JSON.stringify(key)}: expected one of ${
          PERMISSION_KINDS.join(", ")
        }`,
      );
    }
    const value = (raw as Record<string, unknown>)[key];
    const kind = key as PermissionKind;
    if (kind === "ffi" || kind === "all") {
      if (value === true) out[kind] = true;
      else if (value !== false && value !== undefined) {
        throw new PermissionRequestError(
          `Invalid permissions.${kind}: expected true or false, got ${describe(value)}`,
        );
      }
    } else if (value !== undefined) {
      const list = checkList(kind, value, kind === "net" || kind === "sys");
      (out as Record<string, unknown>)[kind] = list;
    }
  }
  return out;
}

/** The folders an execution's paths are resolved against. */
export interface PathContext {
  /** Absolute path of the conversation's files folder: the cwd, always grantable. */
  filesDir: string;
}

/** What the ceiling lets through, and what it refuses. */
export interface Resolution {
  /** Granted permissions, paths made absolute and normalized. */
  granted: Permissions;
  denied: Denial[];
}

const HOST_RE =
  /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

interface NetEntry {
  host: string;
  port?: string;
}

/** Splits `host[:port]`, `[v6][:port]` or `a.b.c.d/n`; `undefined` when malformed. */
export function parseNetEntry(entry: string): NetEntry | undefined {
  const m = /^(\[[0-9A-Fa-f:.]+\]|[^:\[\]]+)(?::(\d{1,5}))?$/.exec(entry);
  if (!m) return undefined;
  const host = m[1]!;
  const port = m[2];
  if (port !== undefined && (Number(port) < 1 || Number(port) > 65535)) return undefined;
  const valid = host.startsWith("[")
    ? host.length > 2
    : parseCidr(host) !== undefined || (HOST_RE.test(host) && !/^[\d.]+$/.test(host) &&
      !/^0x/i.test(host));
  if (!valid) return undefined;
  return port === undefined ? { host: host.toLowerCase() } : { host: host.toLowerCase(), port };
}

function matchesHostPattern(pattern: string, entry: NetEntry): boolean {
  const p = parseNetEntry(pattern.startsWith("*.") ? pattern.slice(2) : pattern);
  if (!p) return false;
  if (p.port !== undefined && p.port !== entry.port) return false;
  if (pattern.startsWith("*.")) return entry.host.endsWith("." + p.host);
  const cidr = parseCidr(p.host);
  const target = parseCidr(entry.host);
  if (cidr && target) return cidrContains(cidr, target);
  return p.host === entry.host;
}

const LOOPBACK = parseCidr("127.0.0.1")!;

function netDenial(entry: string, ceiling: Ceiling): string | undefined {
  const parsed = parseNetEntry(entry);
  if (!parsed) return NOT_A_HOST;
  const { host } = parsed;
  const cidr = parseCidr(host);
  if (cidr && isPrivateIpv4(cidr, ceiling.privateNet)) {
    return "private, loopback, link-local or other non-public address (denied unless the operator's privateNet lists it)";
  }
  if (
    host.startsWith("[") && isNonGlobalIpv6(host.slice(1, -1)) &&
    !ceiling.privateNet.includes(host)
  ) {
    return "non-public IPv6 address (denied unless the operator's privateNet lists it)";
  }
  if (host === "localhost" || host.endsWith(".localhost")) {
    if (isPrivateIpv4(LOOPBACK, ceiling.privateNet)) {
      return "resolves to loopback (denied unless the operator's privateNet lists it)";
    }
  }
  if (ceiling.net === true) return undefined;
  if (ceiling.net.some((p) => matchesHostPattern(p, parsed))) return undefined;
  return `not in the ceiling's net list (${listOrNone(ceiling.net)})`;
}

function listOrNone(list: readonly string[]): string {
  return list.length ? list.join(", ") : "none";
}

/**
 * Env vars whose value the conductor sets itself (PATH, HOME, NO_COLOR, DENO_DIR...) or
 * that change how Deno or the loader behave (any DENO_*, LD_*, NODE_OPTIONS, proxies): the host's
 * value never reaches a child, and asking for one by name is refused.
 */
export function isReservedEnv(name: string): boolean {
  return /^(PATH|HOME|NO_COLOR|DENO_.*|LD_.*|NODE_OPTIONS|CONDUCTOR_OWNER)$/.test(name) ||
    /^(HTTPS?|ALL|NO)_PROXY$/i.test(name);
}

/** Reserved names the conductor sets in every child's env that say something about it. */
const CONDUCTOR_SET_ENV = ["CONDUCTOR_OWNER", "DENO_DIR"];

/** Env names: letters, digits, `_`, optional trailing `*` wildcard. */
const ENV_RE = /^[A-Za-z_][A-Za-z0-9_]*\*?$|^\*$/;

function envCovered(name: string, ceiling: readonly string[]): boolean {
  return ceiling.some((pattern) => {
    if (!pattern.endsWith("*")) return pattern === name;
    const prefix = pattern.slice(0, -1);
    return name.startsWith(prefix);
  });
}

function resolvePaths(
  kind: "read" | "write",
  entries: string[],
  roots: string[],
  ctx: PathContext,
  denied: Denial[],
): string[] {
  const granted: string[] = [];
  for (const entry of entries) {
    const abs = resolve(ctx.filesDir, entry);
    if (roots.some((root) => isInside(abs, root))) {
      if (!granted.includes(abs)) granted.push(abs);
    } else {
      const where = isAbsolute(entry) ? "" : ` (resolves to "${abs}")`;
      denied.push({
        kind,
        value: entry,
        reason: `outside the conversation's files folder and the ceiling's ${kind} list${where}` +
          `; allowed: ${listOrNone(roots)}`,
      });
    }
  }
  return granted;
}

function simpleList(
  kind: "import" | "run",
  entries: string[],
  allowed: readonly string[],
  denied: Denial[],
  extra = "",
): string[] {
  const granted: string[] = [];
  for (const entry of entries) {
    if (allowed.includes(entry)) granted.push(entry);
    else {
      denied.push({
        kind,
        value: entry,
        reason: `not in the ceiling's ${kind} list (${listOrNone(allowed)})${extra}`,
      });
    }
  }
  return granted;
}

/**
 * For a kind that takes `true` (all) or a list: `true` needs a ceiling of `true`; each
 * listed entry is checked by `reasonToDeny`. Denials are pushed; the grant is returned.
 */
function grantEach(
  kind: "net" | "sys",
  requested: string[] | true | undefined,
  ceiling: true | string[],
  denied: Denial[],
  reasonToDeny: (entry: string) => string | undefined,
): string[] | true | undefined {
  if (requested === true) {
    if (ceiling === true) return true;
    const what = kind === "net" ? "these hosts: " : "";
    denied.push({
      kind,
      value: "true",
      reason: ceiling.length
        ? `the ceiling allows only ${what}${ceiling.join(", ")}`
        : `the ceiling allows no ${kind} access`,
    });
    return undefined;
  }
  const granted: string[] = [];
  for (const entry of requested ?? []) {
    const reason = reasonToDeny(entry);
    if (reason) denied.push({ kind, value: entry, reason });
    else granted.push(entry);
  }
  return granted.length ? granted : undefined;
}

/**
 * Intersects a validated request with the ceiling. Every entry beyond the ceiling comes
 * back in `denied`; the caller refuses the whole request when `denied` is not empty.
 */
export function resolvePermissions(
  request: Permissions,
  ceiling: Ceiling,
  ctx: PathContext,
): Resolution {
  const granted: Permissions = {};
  const denied: Denial[] = [];

  const net = grantEach(
    "net",
    request.net,
    ceiling.net,
    denied,
    (entry) => netDenial(entry, ceiling),
  );
  if (net) granted.net = net === true ? true : net.map((h) => h.toLowerCase());

  for (const kind of ["read", "write"] as const) {
    const entries = request[kind];
    if (!entries) continue;
    const roots = [ctx.filesDir, ...ceiling[kind]];
    const paths = resolvePaths(kind, entries, roots, ctx, denied);
    if (paths.length) granted[kind] = paths;
  }

  if (request.env) {
    const names: string[] = [];
    for (const name of request.env) {
      if (!ENV_RE.test(name)) {
        denied.push({ kind: "env", value: name, reason: "not an environment variable name" });
      } else if (isReservedEnv(name)) {
        denied.push({
          kind: "env",
          value: name,
          reason: "reserved: set by the conductor, or changes how Deno runs",
        });
      } else if (envCovered(name, ceiling.env)) names.push(name);
      else {
        denied.push({
          kind: "env",
          value: name,
          reason: `not in the ceiling's env list (${listOrNone(ceiling.env)})`,
        });
      }
    }
    if (names.length) granted.env = names;
  }

  const sys = grantEach(
    "sys",
    request.sys,
    ceiling.sys,
    denied,
    (name) =>
      !SYS_NAMES.includes(name)
        ? `unknown sys API; expected one of ${SYS_NAMES.join(", ")}`
        : SYS_CHANGING.includes(name) && !(ceiling.sys !== true && ceiling.sys.includes(name))
        ? `${name} changes other processes (the conductor's priority too): granted only when ` +
          "the ceiling's sys list names it"
        : ceiling.sys === true || ceiling.sys.includes(name)
        ? undefined
        : `not in the ceiling's sys list (${listOrNone(ceiling.sys)})`,
  );
  if (sys) granted.sys = sys;

  if (request.import) {
    const hosts = simpleList("import", request.import, ceiling.import, denied);
    if (hosts.length) granted.import = hosts;
  }
  if (request.run) {
    const extra = ceiling.run.length
      ? ""
      : "; run is never granted unless the operator's config allows it";
    const programs = simpleList("run", request.run, ceiling.run, denied, extra);
    if (programs.length) granted.run = programs;
  }
  for (const kind of ["ffi", "all"] as const) {
    if (!request[kind]) continue;
    if (ceiling[kind]) granted[kind] = true;
    else {
      denied.push({
        kind,
        value: "true",
        reason: `${kind} is never granted unless the operator's config allows it`,
      });
    }
  }
  return { granted, denied };
}

/** Names of the conductor's env vars that a grant lets through (exact or `PREFIX*`). */
export function grantedEnvNames(granted: Permissions, available: readonly string[]): string[] {
  const patterns = granted.env ?? [];
  return available.filter((name) => envCovered(name, patterns));
}

/** Everything the child's argv depends on besides the grant. */
export interface RunArgsOptions {
  /** Absolute path of the trusted bootstrap module. */
  bootstrap: string;
  /** The ceiling's private-network exceptions, for the `--deny-net` list. */
  privateNet: readonly string[];
  /** The host's own addresses outside the private ranges, denied too (`host_addresses.ts`). */
  hostAddresses?: readonly string[];
  /** V8 old-space cap in MB. */
  heapMb: number;
  /** Generated config (import map) and lockfile; without them, `--no-config`. */
  config?: { configPath: string; lockPath: string };
}

/** Builds the `deno` argv of a run child (step 2) from a granted set. */
export function buildRunArgs(granted: Permissions, options: RunArgsOptions): string[] {
  const args = ["run", "--no-prompt"];
  // Security: remote imports are allowed by default in Deno; only cached modules from
  // explicitly granted hosts may load, and nothing is downloaded at run time.
  if (!granted.import?.length && !granted.all) args.push("--no-remote");
  args.push("--cached-only");
  // Security: no V8 code cache entry per piece of code in the shared DENO_DIR (it would
  // grow with every new code, and be a channel between conversations).
  args.push("--no-code-cache");
  if (options.config) {
    args.push(
      "--config",
      options.config.configPath,
      `--lock=${options.config.lockPath}`,
      "--frozen",
      "--node-modules-dir=none",
    );
  } else {
    args.push("--no-config", "--no-lock", "--no-npm");
  }
  args.push(`--v8-flags=--max-old-space-size=${options.heapMb}`);
  if (granted.all) args.push("--allow-all");
  const listFlag = (name: string, value: string[] | true | undefined) => {
    if (value === true) args.push(`--allow-${name}`);
    else if (value?.length) args.push(`--allow-${name}=${value.join(",")}`);
  };
  listFlag("net", granted.net);
  listFlag("read", granted.read);
  listFlag("write", granted.write);
  // Deno reads "--allow-env=*" as a variable named "*": all variables is the bare flag.
  listFlag("env", granted.env?.includes("*") ? true : granted.env);
  // Security: a pattern (`C*`, `*`) also covers what the conductor itself puts in the
  // child's env; the conductor's identity and its cache's location stay unreadable.
  if (granted.env?.some((name) => name.endsWith("*"))) {
    args.push(`--deny-env=${CONDUCTOR_SET_ENV.join(",")}`);
  }
  listFlag("import", granted.import);
  // Security: the sys APIs by name, not the bare flag, which also opens `node:inspector`
  // (code could read the bootstrap's scope) and has no name Deno accepts to deny it.
  listFlag("sys", granted.sys === true ? [...SYS_READ_NAMES] : granted.sys);
  listFlag("run", granted.run);
  if (granted.ffi) args.push("--allow-ffi");
  if (granted.net || granted.all) {
    args.push(`--deny-net=${denyNetList(options.privateNet, options.hostAddresses).join(",")}`);
  }
  args.push(options.bootstrap);
  return args;
}
