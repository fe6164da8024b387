/**
 * Everything decided about an execution before anything runs: policy (permissions,
 * limits, dependencies), the workspace, the child's argv and environment. This is what
 * `conductor exec --explain` prints.
 */
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import { isInside } from "./paths.ts";
import type { Limits, ResolvedConfig } from "./config.ts";
import type { ExecutionError } from "./execution_result.ts";
import { checkDependencies } from "./installer.ts";
import { hostAddresses } from "./host_addresses.ts";
import { heapMbFor, type LimitsRequest, resolveLimits } from "./limits.ts";
import { checkGrantedPaths } from "./path_guard.ts";
import {
  buildRunArgs,
  type Denial,
  grantedEnvNames,
  isReservedEnv,
  parsePermissions,
  PermissionRequestError,
  type Permissions,
  resolvePermissions,
} from "./permissions.ts";
import { publicRegistryUrl } from "./npm_registry.ts";
import { OWNER_ENV } from "./process_group.ts";
import {
  parseToolPatterns,
  resolveToolAccess,
  serversNamedBy,
  type ToolBindings,
  toolBindings,
  ToolPatternError,
} from "./tool_policy.ts";
import type { Upstreams, UpstreamTool } from "./upstreams.ts";
import { isPreparedDenoDir } from "./deno_dir.ts";
import {
  findWorkspace,
  newConversationId,
  openWorkspace,
  packageCacheDir,
  readState,
  validateConversationId,
  type Workspace,
  WorkspaceIdError,
  workspacePaths,
  type WorkspaceState,
} from "./workspace.ts";

/** Absolute path of the trusted bootstrap every child runs. */
export const BOOTSTRAP_PATH = fileURLToPath(new URL("./bootstrap.js", import.meta.url));

/** The conductor's own code (the bootstrap every child starts with included). */
const CONDUCTOR_ROOT = fileURLToPath(new URL("..", import.meta.url));

/** The deno binary, which every child runs: resolved once (each call canonicalizes it). */
const DENO_PATH = Deno.execPath();

/** Largest code accepted, in bytes of UTF-8. */
export const MAX_CODE_BYTES = 4 * 1024 * 1024;

/** One request to run code; every field but `code` is untrusted and optional. */
export interface ExecutionRequest {
  code: string;
  conversationId?: string | undefined;
  permissions?: unknown;
  limits?: LimitsRequest | undefined;
  /** Specifiers to install first (`npm:zod@3.23.8`); added to the workspace's. */
  dependencies?: unknown;
  /** The lockfile must already pin the dependencies: nothing new is resolved. */
  frozen?: boolean | undefined;
  /** Upstream tools the code may call (`["github.*"]`), within the operator's allowlist. */
  allowedTools?: unknown;
}

/** Everything decided before anything runs. */
export interface ExecutionPlan {
  conversationId: string;
  workspace: Workspace;
  /** What the child gets, installed packages' folders (read-only) included. */
  granted: Permissions;
  denied: Denial[];
  limits: Limits;
  /** Dependency specifiers the request asks to install. */
  dependencies: string[];
  /** The full child command line, starting with the deno executable. */
  argv: string[];
  /** The child's environment; shown by name only, values may be secret. */
  env: Record<string, string>;
  /** The session launcher that starts the child as its own group's leader (else `setsid`). */
  launcher?: string;
  /** Upstream tools this execution may call (code mode), and their sandbox bindings. */
  tools?: { allowed: UpstreamTool[]; bindings: ToolBindings };
  /** Set when the request is refused before running. */
  rejection?: ExecutionError;
}

export interface MakePlanOptions {
  /** This conductor's OWNER_ENV token. */
  owner: string;
  /** Only compute: create and touch no workspace. @default false */
  dryRun?: boolean;
  /** The configured upstream MCP servers, for `allowedTools`. */
  upstreams?: Upstreams | undefined;
  /** The installed session launcher (`session_launcher.ts`), if it works here. */
  launcher?: string | undefined;
}

/** Decides everything about a request. Never throws for a bad request: sets `rejection`. */
export async function makePlan(
  config: ResolvedConfig,
  request: ExecutionRequest,
  options: MakePlanOptions,
): Promise<ExecutionPlan> {
  let conversationId = request.conversationId ?? newConversationId();
  const rejectWith = (type: string, message: string): ExecutionPlan => ({
    conversationId: typeof conversationId === "string" ? conversationId.slice(0, 200) : "",
    workspace: { id: "", root: "", filesDir: "", metaDir: "" },
    granted: {},
    denied: [],
    limits: config.limits,
    dependencies: [],
    argv: [],
    env: {},
    rejection: { type, message },
  });
  try {
    conversationId = validateConversationId(conversationId);
  } catch (error) {
    if (error instanceof WorkspaceIdError) return rejectWith(error.name, error.message);
    throw error;
  }
  if (typeof request.code !== "string") {
    return rejectWith("InvalidRequest", "Invalid code: expected a string");
  }
  const codeBytes = new TextEncoder().encode(request.code).length;
  if (codeBytes > MAX_CODE_BYTES) {
    return rejectWith(
      "InvalidRequest",
      `Code is ${codeBytes} bytes; the limit is ${MAX_CODE_BYTES}`,
    );
  }
  let requested: Permissions;
  try {
    requested = parsePermissions(request.permissions);
  } catch (error) {
    if (error instanceof PermissionRequestError) return rejectWith(error.name, error.message);
    throw error;
  }
  let toolPatterns: string[] | undefined;
  if (request.allowedTools !== undefined) {
    try {
      toolPatterns = parseToolPatterns(request.allowedTools);
    } catch (error) {
      if (error instanceof ToolPatternError) return rejectWith(error.name, error.message);
      throw error;
    }
  }
  const deps = request.dependencies === undefined
    ? { deps: [], denied: [] }
    : checkDependencies(request.dependencies, config);

  // Paths first: a request that policy refuses creates no workspace.
  const workspace = workspacePaths(config.workspacesDir, conversationId);
  const { granted, denied } = resolvePermissions(requested, config.ceiling, {
    filesDir: workspace.filesDir,
  });
  // Each kind's links may lead only where the ceiling allows that kind.
  const roots = {
    read: [workspace.filesDir, ...config.ceiling.read],
    write: [workspace.filesDir, ...config.ceiling.write],
  };
  // Security: never granted, nor any folder holding them: the conductor's data, its config
  // (upstream credentials), its code and the deno binary (run by every child and by it).
  const conductorPaths = [
    dirname(workspace.root), // the real workspaces folder, resolved once by workspacePaths
    config.denoDir,
    ...(config.auditFile ? [config.auditFile] : []),
    ...(config.source ? [config.source] : []),
    CONDUCTOR_ROOT,
    DENO_PATH,
  ];
  const pathDenials = denied.length ? [] : [
    ...await checkGrantedPaths(granted, roots, {
      allowed: workspace.filesDir,
      forbidden: conductorPaths,
    }),
  ];
  for (const d of pathDenials) {
    const kind = d.kind as "read" | "write";
    const kept = (granted[kind] ?? []).filter((p) => p !== d.value);
    if (kept.length) granted[kind] = kept;
    else delete granted[kind];
  }
  const limitResult = resolveLimits(request.limits ?? {}, config.limits, config.maxLimits);
  let tools: ExecutionPlan["tools"];
  const toolDenials: Denial[] = [];
  if (toolPatterns?.length) {
    if (!options.upstreams?.names.length) {
      toolDenials.push({
        kind: "tool",
        value: toolPatterns.join(","),
        reason: "no upstream MCP servers are configured",
      });
    } else {
      const listed = await options.upstreams.allTools(
        serversNamedBy(toolPatterns, options.upstreams.names),
      );
      const access = resolveToolAccess(toolPatterns, config.toolPolicy.allow, listed);
      toolDenials.push(...access.denied);
      tools = {
        allowed: access.allowed,
        bindings: toolBindings(access.allowed, listed, options.upstreams.names),
      };
    }
  }
  const allDenied = [
    ...denied,
    ...pathDenials,
    ...limitResult.denied,
    ...deps.denied,
    ...toolDenials,
  ];
  const plan: ExecutionPlan = {
    conversationId,
    workspace,
    granted,
    denied: allDenied,
    limits: limitResult.limits,
    dependencies: deps.deps.map((d) => d.specifier),
    argv: [],
    env: childEnv(config, granted, workspace, options.owner),
    ...(options.launcher ? { launcher: options.launcher } : {}),
    ...(tools ? { tools } : {}),
  };
  let state: WorkspaceState;
  if (allDenied.length || options.dryRun) {
    const existing = findWorkspace(config.workspacesDir, conversationId);
    state = existing ? readState(existing) : readState(workspace);
  } else {
    const fresh = request.conversationId === undefined;
    state = (await openWorkspace(config.workspacesDir, conversationId, fresh)).state;
  }
  applyWorkspaceState(config, plan, state);
  if (allDenied.length) {
    plan.rejection = {
      type: "PermissionDenied",
      message: "Refused by policy: " +
        allDenied.map((d) => `${d.kind} ${JSON.stringify(d.value)}: ${d.reason}`).join("; "),
    };
  }
  return plan;
}

/**
 * Sets the argv from the workspace's installed dependencies: with none, `--no-config`;
 * with some, the generated config and lockfile, frozen, and read access to the installed
 * packages' own folders only (a package may read its files; the cache stays closed).
 */
export function applyWorkspaceState(
  config: ResolvedConfig,
  plan: ExecutionPlan,
  state: WorkspaceState,
): void {
  const cacheDir = packageCacheDir(plan.workspace);
  // Its own cache once an install made it; until then (a workspace installed into the
  // shared cache by an earlier version) its packages are not found, and the error says
  // to install them.
  const hasDeps = state.dependencies.length > 0 && isPreparedDenoDir(cacheDir);
  const packageDirs = hasDeps
    ? (state.packageDirs ?? []).filter((dir) => isInside(dir, cacheDir))
    : [];
  const read = plan.granted.read?.filter((p) => !isInside(p, join(cacheDir, "npm"))) ?? [];
  plan.env.DENO_DIR = hasDeps ? cacheDir : config.denoDir;
  const granted: Permissions = { ...plan.granted };
  if (read.length || packageDirs.length) granted.read = [...read, ...packageDirs];
  else delete granted.read;
  plan.granted = granted;
  const args = buildRunArgs(granted, {
    bootstrap: BOOTSTRAP_PATH,
    privateNet: config.ceiling.privateNet,
    hostAddresses: plan.granted.net || plan.granted.all ? hostAddresses() : [],
    heapMb: heapMbFor(plan.limits.memoryMb),
    ...(hasDeps
      ? {
        config: {
          configPath: join(plan.workspace.metaDir, "deno.json"),
          lockPath: join(plan.workspace.metaDir, "deno.lock"),
        },
      }
      : {}),
  });
  plan.argv = [DENO_PATH, ...args];
}

/** The child's environment: fixed, minimal, plus the env vars granted. */
function childEnv(
  config: ResolvedConfig,
  granted: Permissions,
  workspace: Workspace,
  owner: string,
): Record<string, string> {
  const env: Record<string, string> = {};
  if (granted.env?.length) {
    const host = Deno.env.toObject();
    for (const name of grantedEnvNames(granted, Object.keys(host))) {
      if (!isReservedEnv(name)) env[name] = host[name]!;
    }
  }
  // Security: a fixed, minimal environment. Without PATH, Deno writes a shim into DENO_DIR.
  env.PATH = Deno.env.get("PATH") ?? "/usr/local/bin:/usr/bin:/bin";
  env.HOME = workspace.filesDir;
  env.DENO_DIR = config.denoDir;
  // Deno finds cached packages by registry; --cached-only still forbids any download.
  env.NPM_CONFIG_REGISTRY = publicRegistryUrl(config.npmRegistry);
  env.NO_COLOR = "1";
  env.DENO_NO_UPDATE_CHECK = "1";
  // Security: no transpiled copy of each piece of code left in the shared DENO_DIR.
  env.DENO_EMIT_CACHE_MODE = "disable";
  env[OWNER_ENV] = owner;
  return env;
}
