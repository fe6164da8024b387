/**
 * `conductor.jsonc`: what the operator writes (`ConductorConfig`, every field optional)
 * resolved once into `ResolvedConfig` (every field set). The core only sees the latter.
 */
import { dirname, isAbsolute, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { parse, type ParseError, printParseErrorCode } from "jsonc-parser";
import { DEFAULT_DEPENDENCY_POLICY, type DependencyPolicy } from "./dependencies.ts";
import { type Ceiling, DEFAULT_CEILING, SYS_NAMES } from "./permissions.ts";
import { DEFAULT_NPM_REGISTRY, publicRegistryUrl } from "./npm_registry.ts";
import type { PrewarmOptions } from "./prewarm_pool.ts";
import type { ToolLimits } from "./tool_bridge.ts";
import type { UpstreamConfig } from "./upstreams.ts";
import { isInside } from "./paths.ts";
import { isConversationId } from "./workspace.ts";
import { parseCidr } from "./private_net.ts";

/** Per-execution limits. */
export interface Limits {
  /** Wall-clock time before the process group is killed. @default 30000 */
  timeoutMs: number;
  /** Resident memory of the whole process group, in MB. @default 256 */
  memoryMb: number;
  /** Bytes of stdout kept before the run is killed. @default 1048576 */
  stdoutBytes: number;
  /** Bytes of stderr kept before the run is killed. @default 1048576 */
  stderrBytes: number;
}

/** Config as the operator writes it: every field optional. */
export interface ConductorConfig {
  workspacesDir?: string;
  denoDir?: string;
  ceiling?: Partial<Ceiling>;
  limits?: Partial<Limits>;
  maxLimits?: Partial<Limits>;
  dependencies?: Partial<DependencyPolicy>;
  workspaceQuotaMb?: number;
  workspaceTtlHours?: number;
  readFileMaxBytes?: number;
  installTimeoutMs?: number;
  maxConcurrent?: number;
  maxQueue?: number;
  auditFile?: string | null;
  redactPatterns?: string[];
  npmRegistry?: string;
  prewarm?: Partial<PrewarmOptions>;
  mcpServers?: Record<string, UpstreamConfig>;
  toolPolicy?: Partial<ToolPolicy>;
}

/** Which upstream tools sandboxed code may call, and how much. */
export interface ToolPolicy extends ToolLimits {
  /** Anchored globs over `server.tool` (`github.*`). @default ["*"]: every configured upstream */
  allow: string[];
}

export interface ResolvedConfig {
  /** Where the config came from, or `undefined` for the built-in defaults. */
  source: string | undefined;
  workspacesDir: string;
  /** The DENO_DIR of children: owned by the conductor, never the user's own cache. */
  denoDir: string;
  ceiling: Ceiling;
  limits: Limits;
  maxLimits: Limits;
  /** Which packages may be installed, and whether versions must be exact. */
  dependencies: DependencyPolicy;
  /** Size quota of a workspace's files folder. @default 256 MB */
  workspaceQuotaBytes: number;
  /** Idle time after which GC deletes a workspace. @default 24 hours */
  workspaceTtlMs: number;
  /** Largest file `read_file` returns. @default 1 MiB */
  readFileMaxBytes: number;
  /** Time allowed to one dependency install. @default 120000 */
  installTimeoutMs: number;
  /** Executions running at once. @default the number of cores */
  maxConcurrent: number;
  /** Executions waiting for a slot before new ones get "busy". @default 64 */
  maxQueue: number;
  /** JSON-lines audit log, or null for none. @default <workspacesDir>/audit.jsonl */
  auditFile: string | null;
  /** Regexes (source text) of secrets to redact from the audit log and logs. */
  redactPatterns: string[];
  /** The npm registry installs fetch from. @default $NPM_CONFIG_REGISTRY, else npmjs */
  npmRegistry: string;
  /** Children started ahead of their code (`serve` only). */
  prewarm: PrewarmOptions;
  /** Upstream MCP servers sandboxed code may call (code mode). */
  mcpServers: Record<string, UpstreamConfig>;
  toolPolicy: ToolPolicy;
}

/** A config that cannot be used; the message names the file and the key. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

export const DEFAULT_LIMITS: Limits = {
  timeoutMs: 30_000,
  memoryMb: 256,
  stdoutBytes: 1024 * 1024,
  stderrBytes: 1024 * 1024,
};

export const DEFAULT_MAX_LIMITS: Limits = {
  timeoutMs: 5 * 60_000,
  memoryMb: 4096,
  stdoutBytes: 16 * 1024 * 1024,
  stderrBytes: 16 * 1024 * 1024,
};

/** The smallest value of each limit that still lets a Deno child start and report. */
export const MIN_LIMITS: Limits = {
  timeoutMs: 1,
  memoryMb: 64,
  stdoutBytes: 0,
  stderrBytes: 0,
};

/** Hard bounds on what a config may set as a maximum. */
const ABSOLUTE_MAX: Limits = {
  timeoutMs: 24 * 3600_000,
  memoryMb: 1024 * 1024,
  stdoutBytes: 1024 * 1024 * 1024,
  stderrBytes: 1024 * 1024 * 1024,
};

const PROJECT_ROOT = fileURLToPath(new URL("..", import.meta.url));
export const CONFIG_FILE_NAME = "conductor.jsonc";

type Check = (value: unknown, key: string) => unknown;

function fail(key: string, expected: string, value: unknown): never {
  throw new ConfigError(
    `"${key}" must be ${expected}, got ${JSON.stringify(value) ?? "undefined"}`,
  );
}

function stringList(value: unknown, key: string, each?: (s: string) => boolean): string[] {
  if (!Array.isArray(value)) fail(key, "an array of strings", value);
  return value.map((v, i) => {
    // deno-lint-ignore no-control-regex
    if (typeof v !== "string" || v === "" || /[,\u0000-\u001f]/.test(v) || (each && !each(v))) {
      fail(`${key}[${i}]`, "a valid non-empty entry without commas", v);
    }
    return v;
  });
}

function listOrTrue(value: unknown, key: string, each?: (s: string) => boolean): true | string[] {
  if (value === true) return true;
  if (!Array.isArray(value)) fail(key, "true or an array of strings", value);
  return stringList(value, key, each);
}

function absoluteList(value: unknown, key: string, base: string): string[] {
  return stringList(value, key).map((p) => isAbsolute(p) ? resolve(p) : resolve(base, p));
}

function boolean(value: unknown, key: string): boolean {
  if (typeof value !== "boolean") fail(key, "true or false", value);
  return value;
}

/** `what`: the kind of object, when its keys depend on it (`a stdio server`). */
function checkObject(
  value: unknown,
  key: string,
  allowed: readonly string[],
  what?: string,
): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    fail(key, "an object", value);
  }
  for (const k of Object.keys(value)) {
    if (!allowed.includes(k)) {
      const path = key ? `${key}.${k}` : k;
      throw new ConfigError(
        `Unknown key "${path}"${what ? ` for ${what}` : ""}: expected one of ${allowed.join(", ")}`,
      );
    }
  }
  return value as Record<string, unknown>;
}

function resolveCeiling(raw: unknown, base: string): Ceiling {
  const obj = checkObject(raw, "ceiling", Object.keys(DEFAULT_CEILING));
  const c: Ceiling = structuredClone(DEFAULT_CEILING);
  const checks: Record<keyof Ceiling, Check> = {
    net: (v, k) => listOrTrue(v, k),
    privateNet: (v, k) =>
      stringList(v, k, (s) => parseCidr(s) !== undefined || /^\[[0-9a-fA-F:.]+\]$/.test(s)),
    read: (v, k) => absoluteList(v, k, base),
    write: (v, k) => absoluteList(v, k, base),
    env: (v, k) => stringList(v, k, (s) => /^[A-Za-z_][A-Za-z0-9_]*\*?$|^\*$/.test(s)),
    import: (v, k) => stringList(v, k),
    sys: (v, k) => listOrTrue(v, k, (s) => SYS_NAMES.includes(s)),
    run: (v, k) => stringList(v, k),
    ffi: boolean,
    all: boolean,
  };
  for (const [key, value] of Object.entries(obj)) {
    const k = key as keyof Ceiling;
    (c as unknown as Record<string, unknown>)[k] = checks[k](value, `ceiling.${k}`);
  }
  return c;
}

function resolveLimits(raw: unknown, key: string, defaults: Limits, max: Limits): Limits {
  const obj = checkObject(raw, key, Object.keys(DEFAULT_LIMITS));
  const out = { ...defaults };
  for (const [k, v] of Object.entries(obj)) {
    const name = k as keyof Limits;
    if (!Number.isInteger(v) || (v as number) < MIN_LIMITS[name] || (v as number) > max[name]) {
      fail(`${key}.${name}`, `an integer from ${MIN_LIMITS[name]} to ${max[name]}`, v);
    }
    out[name] = v as number;
  }
  return out;
}

/**
 * Resolves a parsed config object. Relative paths are taken from `baseDir`.
 * @throws {ConfigError} naming the key
 */
export function resolveConfig(
  raw: unknown,
  baseDir: string = PROJECT_ROOT,
  source?: string,
): ResolvedConfig {
  // No value at all (`null`, or a file of comments only): the defaults.
  raw ??= {};
  if (typeof raw !== "object" || Array.isArray(raw)) {
    throw new ConfigError(`The config must be a JSON object, got ${JSON.stringify(raw)}`);
  }
  const obj = checkObject(raw, "", [
    "$schema",
    "workspacesDir",
    "denoDir",
    "ceiling",
    "limits",
    "maxLimits",
    "dependencies",
    "workspaceQuotaMb",
    "workspaceTtlHours",
    "readFileMaxBytes",
    "installTimeoutMs",
    "maxConcurrent",
    "maxQueue",
    "auditFile",
    "redactPatterns",
    "npmRegistry",
    "prewarm",
    "mcpServers",
    "toolPolicy",
  ]);
  const integer = (key: string, fallback: number, min: number, max: number) => {
    const v = obj[key];
    if (v === undefined) return fallback;
    if (!Number.isInteger(v) || (v as number) < min || (v as number) > max) {
      fail(key, `an integer from ${min} to ${max}`, v);
    }
    return v as number;
  };
  const path = (key: string, fallback: string) => {
    const v = obj[key];
    if (v === undefined) return fallback;
    if (typeof v !== "string" || v === "") fail(key, "a non-empty path", v);
    return resolve(baseDir, v);
  };
  const workspacesDir = path("workspacesDir", resolve(baseDir, "workspaces"));
  const denoDir = path("denoDir", resolve(workspacesDir, ".deno"));
  const ceiling = obj.ceiling === undefined
    ? structuredClone(DEFAULT_CEILING)
    : resolveCeiling(obj.ceiling, baseDir);
  const maxLimits = obj.maxLimits === undefined
    ? { ...DEFAULT_MAX_LIMITS }
    : resolveLimits(obj.maxLimits, "maxLimits", DEFAULT_MAX_LIMITS, ABSOLUTE_MAX);
  const defaults = Object.fromEntries(
    Object.entries(DEFAULT_LIMITS).map(([k, v]) => [k, Math.min(v, maxLimits[k as keyof Limits])]),
  ) as unknown as Limits;
  const limits = obj.limits === undefined
    ? defaults
    : resolveLimits(obj.limits, "limits", defaults, maxLimits);
  const auditFile = obj.auditFile === null
    ? null
    : path("auditFile", resolve(workspacesDir, "audit.jsonl"));
  // Security: a conversation named like a folder of the conductor's own data would run in
  // it, and deleting that conversation would delete it.
  for (const [key, value] of [["denoDir", denoDir], ["auditFile", auditFile]] as const) {
    const inside = value === null ? undefined : relative(workspacesDir, value);
    if (inside !== undefined && !inside.startsWith("..") && !isAbsolute(inside)) {
      if (inside === "" || isConversationId(inside.split(sep)[0]!)) {
        fail(
          key,
          "a path outside workspacesDir, or in it under a name no conversation can have (like .deno)",
          obj[key],
        );
      }
    }
  }
  return {
    source,
    workspacesDir,
    denoDir,
    ceiling,
    limits,
    maxLimits,
    dependencies: resolveDependencyPolicy(obj.dependencies),
    workspaceQuotaBytes: integer("workspaceQuotaMb", 256, 1, 1024 * 1024) * 1024 * 1024,
    workspaceTtlMs: integer("workspaceTtlHours", 24, 0, 24 * 365) * 3600_000,
    readFileMaxBytes: integer("readFileMaxBytes", 1024 * 1024, 1, 1024 * 1024 * 1024),
    installTimeoutMs: integer("installTimeoutMs", 120_000, 1000, 3600_000),
    maxConcurrent: integer("maxConcurrent", navigator.hardwareConcurrency || 2, 1, 1024),
    maxQueue: integer("maxQueue", 64, 0, 100_000),
    auditFile,
    npmRegistry: resolveRegistry(obj.npmRegistry),
    prewarm: resolvePrewarm(obj.prewarm),
    mcpServers: resolveMcpServers(obj.mcpServers, baseDir),
    toolPolicy: resolveToolPolicy(obj.toolPolicy),
    redactPatterns: resolveRedactPatterns(obj.redactPatterns),
  };
}

/** Regex sources, compiled as `makeRedactor` does (flag `g`); commas are fine here. */
function resolveRedactPatterns(raw: unknown): string[] {
  if (raw === undefined) return [];
  if (!Array.isArray(raw)) fail("redactPatterns", "an array of strings", raw);
  return raw.map((p, i) => {
    const key = `redactPatterns[${i}]`;
    if (typeof p !== "string" || p === "") fail(key, "a non-empty string", p);
    let regex: RegExp;
    try {
      regex = new RegExp(p, "g");
    } catch (error) {
      throw new ConfigError(
        `"${key}" must be a valid regex, got ${JSON.stringify(p)}: ${(error as Error).message}`,
        { cause: error },
      );
    }
    // It would put a mark between every two characters of every line.
    if (regex.test("")) fail(key, "a regex that does not match the empty string", p);
    return p;
  });
}

function stringRecord(value: unknown, key: string): Record<string, string> {
  const obj = checkObject(value, key, Object.keys(value ?? {}));
  for (const [k, v] of Object.entries(obj)) {
    if (typeof v !== "string") fail(`${key}.${k}`, "a string", v);
  }
  return obj as Record<string, string>;
}

const STDIO_KEYS = ["type", "command", "args", "env", "cwd"];
const HTTP_KEYS = ["type", "url", "headers"];

function resolveMcpServers(raw: unknown, base: string): Record<string, UpstreamConfig> {
  if (raw === undefined) return {};
  const servers = checkObject(raw, "mcpServers", Object.keys(raw ?? {}));
  const out: Record<string, UpstreamConfig> = {};
  for (const [name, value] of Object.entries(servers)) {
    const key = `mcpServers.${name}`;
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(name)) fail(key, "named with letters, digits, _ or -", name);
    const given = checkObject(value, key, [...STDIO_KEYS, ...HTTP_KEYS]);
    if (given.type !== undefined && given.type !== "stdio" && given.type !== "http") {
      fail(`${key}.type`, '"stdio" or "http"', given.type);
    }
    const type = given.type ??
      ("url" in given && !("command" in given)
        ? "http"
        : "command" in given && !("url" in given)
        ? "stdio"
        : fail(key, 'an object with either "command" (stdio) or "url" (Streamable HTTP)', value));
    // Keys of the other transport are refused: they would be silently ignored.
    if (type === "http") {
      const obj = checkObject(value, key, HTTP_KEYS, "a Streamable HTTP server");
      if (typeof obj.url !== "string" || !/^https?:\/\//.test(obj.url) || !URL.canParse(obj.url)) {
        fail(`${key}.url`, "an http(s) URL", obj.url);
      }
      out[name] = {
        url: obj.url,
        ...(obj.headers !== undefined
          ? { headers: stringRecord(obj.headers, `${key}.headers`) }
          : {}),
      };
    } else {
      const obj = checkObject(value, key, STDIO_KEYS, "a stdio server");
      if (typeof obj.command !== "string" || obj.command === "") {
        fail(`${key}.command`, "a non-empty string", obj.command);
      }
      if (obj.cwd !== undefined && (typeof obj.cwd !== "string" || obj.cwd === "")) {
        fail(`${key}.cwd`, "a non-empty path", obj.cwd);
      }
      out[name] = {
        command: obj.command,
        ...(obj.args !== undefined ? { args: argList(obj.args, `${key}.args`) } : {}),
        ...(obj.env !== undefined ? { env: stringRecord(obj.env, `${key}.env`) } : {}),
        ...(obj.cwd !== undefined ? { cwd: resolve(base, obj.cwd) } : {}),
      };
    }
  }
  return out;
}

/** Arguments of an upstream's command: any strings (commas are no Deno flag's here). */
function argList(value: unknown, key: string): string[] {
  if (!Array.isArray(value)) fail(key, "an array of strings", value);
  for (const [i, v] of value.entries()) {
    if (typeof v !== "string") fail(`${key}[${i}]`, "a string", v);
  }
  return value;
}

export const DEFAULT_TOOL_POLICY: ToolPolicy = {
  allow: ["*"],
  maxCallsPerExecution: 100,
  maxBytesPerExecution: 10 * 1024 * 1024,
};

function resolveToolPolicy(raw: unknown): ToolPolicy {
  if (raw === undefined) return structuredClone(DEFAULT_TOOL_POLICY);
  const obj = checkObject(raw, "toolPolicy", Object.keys(DEFAULT_TOOL_POLICY));
  const out = structuredClone(DEFAULT_TOOL_POLICY);
  if (obj.allow !== undefined) {
    out.allow = stringList(
      obj.allow,
      "toolPolicy.allow",
      (p) => /^[A-Za-z0-9_*][A-Za-z0-9_.*/:-]*$/.test(p),
    );
  }
  for (const k of ["maxCallsPerExecution", "maxBytesPerExecution"] as const) {
    const v = obj[k];
    if (v === undefined) continue;
    if (!Number.isInteger(v) || (v as number) < 0 || (v as number) > 1024 * 1024 * 1024) {
      fail(`toolPolicy.${k}`, "a whole number", v);
    }
    out[k] = v as number;
  }
  return out;
}

export const DEFAULT_PREWARM: PrewarmOptions = {
  generic: 1,
  maxChildren: 3,
  idleMs: 60_000,
  memoryMb: 128,
};

function resolvePrewarm(raw: unknown): PrewarmOptions {
  if (raw === undefined) return { ...DEFAULT_PREWARM };
  const obj = checkObject(raw, "prewarm", Object.keys(DEFAULT_PREWARM));
  const out = { ...DEFAULT_PREWARM };
  const max = { generic: 16, maxChildren: 64, idleMs: 3600_000, memoryMb: 65_536 };
  for (const [k, v] of Object.entries(obj)) {
    const key = k as keyof PrewarmOptions;
    if (!Number.isInteger(v) || (v as number) < 0 || (v as number) > max[key]) {
      fail(`prewarm.${key}`, `an integer from 0 to ${max[key]}`, v);
    }
    out[key] = v as number;
  }
  return out;
}

function resolveRegistry(raw: unknown): string {
  const value = raw ?? Deno.env.get("NPM_CONFIG_REGISTRY") ?? Deno.env.get("npm_config_registry") ??
    DEFAULT_NPM_REGISTRY;
  if (typeof value !== "string" || !/^https?:\/\//.test(value) || !URL.canParse(value)) {
    // Security: a registry URL may carry a token; show it without credentials.
    const shown = typeof value === "string" && URL.canParse(value)
      ? publicRegistryUrl(value)
      : typeof value;
    fail("npmRegistry", "an http(s) URL", shown);
  }
  return value.endsWith("/") ? value : value + "/";
}

function resolveDependencyPolicy(raw: unknown): DependencyPolicy {
  if (raw === undefined) return structuredClone(DEFAULT_DEPENDENCY_POLICY);
  const obj = checkObject(raw, "dependencies", ["allow", "requirePinned"]);
  return {
    allow: obj.allow === undefined
      ? [...DEFAULT_DEPENDENCY_POLICY.allow]
      : stringList(obj.allow, "dependencies.allow", (s) => /^[@a-z0-9*][a-z0-9._~*/-]*$/.test(s)),
    requirePinned: obj.requirePinned === undefined
      ? DEFAULT_DEPENDENCY_POLICY.requirePinned
      : boolean(obj.requirePinned, "dependencies.requirePinned"),
  };
}

/** Parses JSONC text, with line and column in the error. */
export function parseJsonc(text: string, name: string): unknown {
  const errors: ParseError[] = [];
  const value = parse(text, errors, { allowTrailingComma: true, disallowComments: false });
  const first = errors[0];
  // Nothing but whitespace and comments: no value, the defaults (like `{}` or `null`).
  if (
    errors.length === 1 && first && printParseErrorCode(first.error) === "ValueExpected" &&
    first.offset === text.length
  ) {
    return undefined;
  }
  if (first) {
    const before = text.slice(0, first.offset);
    const line = before.split("\n").length;
    const column = first.offset - before.lastIndexOf("\n");
    throw new ConfigError(
      `Cannot parse config "${name}": ${
        printParseErrorCode(first.error)
      } at line ${line}, column ${column}`,
    );
  }
  return value;
}

/** Where to look for the config: `--config`, then `CONDUCTOR_CONFIG`, then `./conductor.jsonc`. */
export interface LoadConfigOptions {
  /** Path given with `--config`. */
  path?: string | undefined;
  /** Value of `CONDUCTOR_CONFIG`. */
  envPath?: string | undefined;
  /** Folder searched for `conductor.jsonc` when no path is given. @default Deno.cwd() */
  cwd?: string;
}

/**
 * Finds, reads and resolves the config. No file found: the secure defaults.
 * @throws {ConfigError} for an unreadable, malformed or invalid file
 */
export async function loadConfig(options: LoadConfigOptions = {}): Promise<ResolvedConfig> {
  const cwd = options.cwd ?? Deno.cwd();
  const explicit = options.path ?? options.envPath;
  // Security: sandboxed code writes into workspaces; a conductor started inside one must not
  // pick up a config that code left there.
  if (!explicit && isInside(cwd, resolve(PROJECT_ROOT, "workspaces"))) {
    return resolveConfig({}, PROJECT_ROOT);
  }
  const file = explicit ? resolve(cwd, explicit) : resolve(cwd, CONFIG_FILE_NAME);
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (error) {
    if (!explicit && error instanceof Deno.errors.NotFound) return resolveConfig({}, PROJECT_ROOT);
    throw new ConfigError(`Cannot read config "${file}": ${(error as Error).message}`, {
      cause: error,
    });
  }
  const raw = parseJsonc(text, file);
  try {
    return resolveConfig(raw, dirname(file), file);
  } catch (error) {
    if (error instanceof ConfigError) {
      throw new ConfigError(`Invalid config "${file}": ${error.message}`, { cause: error });
    }
    throw error;
  }
}
