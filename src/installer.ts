/**
 * Step 1 of an execution: dependencies into the workspace's generated import map and
 * lockfile, fetched into the cache by `deno install` without executing any package code.
 *
 * Security: the install child writes only the cache and the staging files in `meta/`;
 * `--node-modules-dir=none` means no lifecycle scripts, whatever a package declares, and
 * no node_modules folder hard-linked to the shared cache. Run children later get the
 * lockfile `--frozen` and `--cached-only`, and no write path into the cache or `meta/`.
 */
import { join } from "node:path";
import { CappedBuffer, drain } from "./capture.ts";
import type { ResolvedConfig } from "./config.ts";
import {
  checkDependencyPolicy,
  type Dependency,
  DependencyError,
  importMap,
  isNpmName,
  mergeDependencies,
  parseDependency,
} from "./dependencies.ts";
import type { Denial } from "./permissions.ts";
import { sha256Hex } from "./hash.ts";
import { registryCacheDir } from "./npm_registry.ts";
import { isInside } from "./paths.ts";
import { killGroup, spawnGroupLeader } from "./process_group.ts";
import { sessionLauncher } from "./session_launcher.ts";
import {
  packageCacheDir,
  readState,
  withWorkspaceLock,
  type Workspace,
  writeState,
} from "./workspace.ts";
import { prepareDenoDir } from "./deno_dir.ts";
import { removeTree } from "./remove_tree.ts";

export type InstallStatus = "installed" | "skipped" | "rejected" | "install_error";

export interface InstallResult {
  status: InstallStatus;
  /** Every dependency of the workspace after this call. */
  dependencies: string[];
  /** Refused specifiers (status `rejected`). */
  denied: Denial[];
  /** What went wrong (status `rejected` or `install_error`), in the registry's words. */
  message?: string;
  durationMs: number;
}

export interface InstallOptions {
  /** The lockfile must already pin exactly these dependencies; nothing new is resolved. */
  frozen?: boolean;
  /** Human progress lines (the CLI prints them on stderr). */
  onProgress?: ((line: string) => void) | undefined;
  signal?: AbortSignal | undefined;
}

/** Env vars an install child needs to reach the registry (CA, proxy, auth). */
const INSTALL_ENV_PASSTHROUGH = [
  "NODE_EXTRA_CA_CERTS",
  "DENO_CERT",
  "DENO_TLS_CA_STORE",
  "DENO_AUTH_TOKENS",
  "HTTPS_PROXY",
  "https_proxy",
  "HTTP_PROXY",
  "http_proxy",
  "NO_PROXY",
  "no_proxy",
];

/** Parses and checks specifiers against the operator's policy. */
export function checkDependencies(
  specs: unknown,
  config: ResolvedConfig,
): { deps: Dependency[]; denied: Denial[] } {
  const list = Array.isArray(specs) ? specs : [specs];
  const deps: Dependency[] = [];
  const denied: Denial[] = [];
  if (list.length > 64) {
    return {
      deps,
      denied: [{
        kind: "dependency",
        value: `${list.length} entries`,
        reason: "at most 64 dependencies",
      }],
    };
  }
  for (const spec of list) {
    try {
      deps.push(parseDependency(spec));
    } catch (error) {
      if (!(error instanceof DependencyError)) throw error;
      denied.push({ kind: "dependency", value: String(spec).slice(0, 200), reason: error.message });
    }
  }
  denied.push(...checkDependencyPolicy(deps, config.dependencies));
  return { deps, denied };
}

async function readOr(path: string, fallback: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch {
    return fallback;
  }
}

/**
 * The npm packages a lockfile pins, with their hashes. Security: a lockfile is input (CI
 * copies one in), so only valid names and exact versions are returned.
 */
function lockedNpmPackages(
  lockText: string,
): { name: string; version: string; integrity: string }[] {
  const packages = [];
  for (const [key, integrity] of lockIntegrities(lockText)) {
    const m = /^(@?[^@]+)@([^_]+)/.exec(key);
    if (m && isNpmName(m[1]!) && EXACT_VERSION.test(m[2]!)) {
      packages.push({ name: m[1]!, version: m[2]!, integrity });
    }
  }
  return packages;
}

/** Folders in DENO_DIR of the npm packages a lockfile pins (those that exist). */
export async function lockedPackageDirs(
  lockText: string,
  denoDir: string,
  registry: string,
): Promise<string[]> {
  const base = registryCacheDir(denoDir, registry);
  const realBase = await Deno.realPath(base).catch(() => base);
  const dirs: string[] = [];
  for (const { name, version } of lockedNpmPackages(lockText)) {
    // Security: these folders become read grants: the real folder must be in the cache.
    const dir = join(base, name, version);
    const real = await Deno.realPath(dir).catch(() => undefined);
    if (real && isInside(real, realBase) && (await Deno.stat(real)).isDirectory) dirs.push(dir);
  }
  return dirs.sort();
}

const EXACT_VERSION = /^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$/;

/** `name@version` -> integrity, for every npm package a lockfile pins. */
function lockIntegrities(lockText: string): Map<string, string> {
  try {
    const npm = JSON.parse(lockText).npm ?? {};
    return new Map(
      Object.entries(npm).map(([k, v]) => [k, String((v as { integrity?: unknown }).integrity)]),
    );
  } catch {
    return new Map();
  }
}

/**
 * Packages whose lockfile hash differs from the one the conductor's cache recorded for
 * them (the registry's, checked when Deno downloaded them). Deno hashes a package only at
 * download: a lockfile copied in (CI) with other hashes would pass for cached packages.
 */
async function cachedIntegrityMismatches(
  lockText: string,
  denoDir: string,
  registry: string,
): Promise<string[]> {
  const base = registryCacheDir(denoDir, registry);
  const mismatches: string[] = [];
  for (const { name, version, integrity } of lockedNpmPackages(lockText)) {
    const cached = await Deno.readTextFile(join(base, name, "registry.json"))
      .then((text) => JSON.parse(text)?.versions?.[version]?.dist?.integrity)
      .catch(() => undefined);
    if (typeof cached === "string" && cached !== integrity) mismatches.push(`${name}@${version}`);
  }
  return mismatches.sort();
}

/** The specifiers a lockfile was made for (`workspace.dependencies`). */
function lockedSpecifiers(lockText: string): string[] | undefined {
  try {
    const deps = JSON.parse(lockText).workspace?.dependencies;
    return Array.isArray(deps) ? deps.filter((d) => typeof d === "string").sort() : undefined;
  } catch {
    return undefined;
  }
}

/** Deno's install output made readable: no download lines, no backtrace. */
export function cleanInstallOutput(text: string): string {
  const lines: string[] = [];
  // deno-lint-ignore no-control-regex
  for (const line of text.replace(/\x1b\[[0-9;]*m/g, "").split("\n")) {
    if (/^Stack backtrace:/.test(line)) break;
    // Security: no host paths (the staging entrypoint) in what goes back to the caller.
    if (/^\s+at file:\/\//.test(line)) continue;
    if (
      /^(Download|Initialize|Warning Packages contained npm lifecycle scripts)/.test(line) ||
      !line.trim()
    ) continue;
    // Security: a registry's credentials (user:token@ in its URL) never go back to the caller.
    lines.push(line.replace(/^error: /, "").replace(/\b([a-z][a-z0-9+.-]*:\/\/)[^\s/@]*@/gi, "$1"));
  }
  return lines.join("\n").trim();
}

/**
 * Installs dependencies into a workspace (adding to what it has), unless the generated
 * config and lockfile already match: then nothing is spawned.
 */
export async function installDependencies(
  config: ResolvedConfig,
  ws: Workspace,
  specs: unknown,
  options: InstallOptions = {},
): Promise<InstallResult> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  const { deps, denied } = checkDependencies(specs, config);
  if (denied.length) {
    const state = readState(ws);
    return {
      status: "rejected",
      dependencies: state.dependencies,
      denied,
      message: "Refused by policy: " +
        denied.map((d) => `${JSON.stringify(d.value)}: ${d.reason}`).join("; "),
      durationMs: elapsed(),
    };
  }
  // Security: one install at a time per workspace, across conductor processes too.
  // The workspace's own package cache (see prepareDenoDir).
  const cacheDir = packageCacheDir(ws);
  return await withWorkspaceLock(ws, async () => {
    const state = readState(ws);
    const current = state.dependencies.flatMap((s) => {
      try {
        return [parseDependency(s)];
      } catch {
        return [];
      }
    });
    const merged = mergeDependencies(current, deps);
    const specifiers = merged.map((d) => d.specifier);
    const configText =
      JSON.stringify({ imports: importMap(merged), nodeModulesDir: "none" }, null, 2) + "\n";
    const configPath = join(ws.metaDir, "deno.json");
    const lockPath = join(ws.metaDir, "deno.lock");
    const lockText = await readOr(lockPath, "");
    const unchanged = JSON.stringify(specifiers) === JSON.stringify(state.dependencies) &&
      state.installHash !== undefined &&
      state.installHash === sha256Hex(configText + "\0" + lockText) &&
      (await lockedPackageDirs(lockText, cacheDir, config.npmRegistry)).length ===
        (state.packageDirs ?? []).length;
    if (unchanged) {
      return { status: "skipped", dependencies: specifiers, denied: [], durationMs: elapsed() };
    }
    if (options.frozen) {
      const locked = lockedSpecifiers(lockText);
      const wanted = [...specifiers].sort();
      if (!locked || JSON.stringify(locked) !== JSON.stringify(wanted)) {
        const missing = locked ? wanted.filter((w) => !locked.includes(w)) : wanted;
        const extra = locked ? locked.filter((l) => !wanted.includes(l)) : [];
        return {
          status: "install_error",
          dependencies: state.dependencies,
          denied: [],
          message: `--frozen: the lockfile does not match the dependencies (` +
            (locked
              ? `not locked: ${missing.join(", ") || "none"}; locked but not requested: ${
                extra.join(", ") || "none"
              }`
              : "no lockfile") +
            `); nothing was fetched. Install without --frozen to update the lockfile`,
          durationMs: elapsed(),
        };
      }
    }

    options.onProgress?.(`Installing ${specifiers.join(", ")}`);
    // Security: when the set changes, Deno re-resolves, and a package already pinned could
    // be fetched again and re-pinned to different bytes. First make sure the cache holds
    // exactly what the current lockfile pins (a frozen install verifies the hashes).
    const lockedBefore = lockIntegrities(lockText);
    if (lockText && state.dependencies.length && (await readOr(configPath, ""))) {
      const verifyEntry = join(ws.metaDir, "verify.ts");
      await Deno.writeTextFile(
        verifyEntry,
        state.dependencies.map((s) => `import "${s}";`).join("\n") + "\n",
      );
      const failure = await runInstallChild(config, ws, {
        config: configPath,
        lock: lockPath,
        entry: verifyEntry,
      }, {
        ...options,
        frozen: true,
      });
      await Deno.remove(verifyEntry).catch(() => {});
      if (failure) {
        return {
          status: "install_error",
          dependencies: state.dependencies,
          denied: [],
          message: `The workspace's locked packages failed verification: ${failure}`,
          durationMs: elapsed(),
        };
      }
    }
    // Stage the new config and lockfile; the workspace keeps the old ones on failure.
    const stage = {
      config: join(ws.metaDir, "next.json"),
      lock: join(ws.metaDir, "next.lock"),
      entry: join(ws.metaDir, "deps.ts"),
    };
    await Deno.writeTextFile(stage.config, configText);
    if (lockText) await Deno.writeTextFile(stage.lock, lockText);
    else await Deno.remove(stage.lock).catch(() => {});
    await Deno.writeTextFile(
      stage.entry,
      specifiers.map((s) => `import "${s}";`).join("\n") + "\n",
    );
    /** Drops the staged files: the workspace keeps its config and lockfile. */
    const abandon = async (message: string): Promise<InstallResult> => {
      await Deno.remove(stage.config).catch(() => {});
      await Deno.remove(stage.lock).catch(() => {});
      return {
        status: "install_error",
        dependencies: state.dependencies,
        denied: [],
        message,
        durationMs: elapsed(),
      };
    };
    const failure = await runInstallChild(config, ws, stage, options);
    if (failure) {
      // Deno's words when it cannot fetch a jsr package's manifest at all (not a 404).
      const jsr = merged.some((d) => d.registry === "jsr") &&
        /JSR package manifest .* failed to load|jsr\.io.*(error sending request|dns error|connect)/i
          .test(failure) &&
        !/\b404\b|not found/i.test(failure);
      return await abandon((jsr ? "The jsr registry could not be reached: " : "") + failure);
    }
    const newLock = await Deno.readTextFile(stage.lock);
    const stale = await cachedIntegrityMismatches(newLock, cacheDir, config.npmRegistry);
    if (stale.length) {
      return await abandon(
        `The lockfile's hash differs from the one the cache recorded for ${
          stale.join(", ")
        } (the registry's, checked at download); nothing was changed`,
      );
    }
    const lockedAfter = lockIntegrities(newLock);
    const repinned = [...lockedBefore].filter(([pkg, hash]) =>
      lockedAfter.has(pkg) && lockedAfter.get(pkg) !== hash
    );
    if (repinned.length) {
      return await abandon(
        `The registry served different bytes for already pinned packages: ${
          repinned.map(([p]) => p).join(", ")
        }; the lockfile was kept`,
      );
    }
    await Deno.rename(stage.config, configPath);
    await Deno.rename(stage.lock, lockPath);
    state.dependencies = specifiers;
    state.installHash = sha256Hex(configText + "\0" + newLock);
    state.packageDirs = await lockedPackageDirs(newLock, cacheDir, config.npmRegistry);
    writeState(ws, state);
    const count = specifiers.length === 1 ? "1 dependency" : `${specifiers.length} dependencies`;
    options.onProgress?.(`Installed ${count} in ${elapsed()} ms`);
    return { status: "installed", dependencies: specifiers, denied: [], durationMs: elapsed() };
  });
}

/** The error text of an install stopped before its end. */
const stopped = (why: string) => `The install was stopped: ${why}`;

/** Runs `deno install` for the staged files; returns the error text, or undefined. */
async function runInstallChild(
  config: ResolvedConfig,
  ws: Workspace,
  stage: { config: string; lock: string; entry: string },
  options: InstallOptions,
): Promise<string | undefined> {
  // Cancelled while it waited for the workspace's lock: an abort listener added now would
  // never fire, and the child would run until its timeout.
  if (options.signal?.aborted) return stopped("cancelled");
  // Into the workspace's own cache, made before its first install.
  const cacheDir = packageCacheDir(ws);
  await prepareDenoDir(cacheDir, { packages: true });
  const env: Record<string, string> = {
    PATH: Deno.env.get("PATH") ?? "/usr/local/bin:/usr/bin:/bin",
    HOME: Deno.env.get("HOME") ?? ws.metaDir,
    DENO_DIR: cacheDir,
    NO_COLOR: "1",
    DENO_NO_UPDATE_CHECK: "1",
  };
  for (const name of INSTALL_ENV_PASSTHROUGH) {
    const value = Deno.env.get(name);
    if (value !== undefined) env[name] = value;
  }
  // The configured registry, credentials included (they never reach a run child).
  env.NPM_CONFIG_REGISTRY = config.npmRegistry;
  const args = [
    "install",
    "--node-modules-dir=none",
    "--config",
    stage.config,
    `--lock=${stage.lock}`,
    ...(options.frozen ? ["--frozen"] : []),
    "--entrypoint",
    stage.entry,
  ];
  // Through the session launcher, like a run: its own group, killed with a conductor that
  // dies, at a lower CPU priority.
  const child = spawnGroupLeader(Deno.execPath(), {
    args,
    cwd: ws.metaDir,
    env,
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }, await sessionLauncher(config.denoDir));
  let killedFor: string | undefined;
  let exited = false;
  child.status.finally(() => exited = true);
  const kill = (why: string) => {
    killedFor ??= why;
    killGroup(child.pid, !exited);
  };
  const timer = setTimeout(
    () => kill(`timed out after ${config.installTimeoutMs} ms`),
    config.installTimeoutMs,
  );
  const onAbort = () => kill("cancelled");
  options.signal?.addEventListener("abort", onAbort, { once: true });
  const output = new CappedBuffer(256 * 1024);
  const sink = {
    push: (b: Uint8Array) => void (output.add(b) || kill("printed too much")),
    end() {},
  };
  const pumps = [drain(child.stdout, sink), drain(child.stderr, sink)];
  const status = await child.status;
  clearTimeout(timer);
  options.signal?.removeEventListener("abort", onAbort);
  killGroup(child.pid);
  const grace = setTimeout(() => pumps.forEach((p) => p.stop()), 500);
  await Promise.all(pumps.map((p) => p.done));
  clearTimeout(grace);
  if (!killedFor && status.success) return undefined;
  // The workspace's lock is held: no other install of this cache is under way.
  await removeExtractionLeftovers(registryCacheDir(cacheDir, config.npmRegistry));
  if (killedFor) return stopped(killedFor);
  return cleanInstallOutput(output.text()) || `deno install exited with code ${status.code}`;
}

/**
 * Deno extracts a package into `VERSION.RANDOM.tmp` and renames it when done: an install
 * that failed or was killed midway leaves it, whatever it had unpacked (a small tarball of
 * zeros unpacks to gigabytes), and each retry leaves another.
 */
async function removeExtractionLeftovers(registryDir: string): Promise<void> {
  const children = async (dir: string) => {
    try {
      return await Array.fromAsync(Deno.readDir(dir));
    } catch {
      return [];
    }
  };
  for (const entry of await children(registryDir)) {
    if (!entry.isDirectory) continue;
    // `name/` or `@scope/name/`
    const names = entry.name.startsWith("@")
      ? (await children(join(registryDir, entry.name))).map((e) => join(entry.name, e.name))
      : [entry.name];
    for (const name of names) {
      for (const version of await children(join(registryDir, name))) {
        if (version.isDirectory && version.name.endsWith(".tmp")) {
          await removeTree(join(registryDir, name, version.name));
        }
      }
    }
  }
}
