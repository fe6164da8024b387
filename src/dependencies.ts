/**
 * Dependency specifiers (`npm:name@version`, `jsr:@scope/name@version`): parsing, the
 * operator's package policy, and the import map they become. Pure.
 */
import type { Denial } from "./permissions.ts";

export interface Dependency {
  registry: "npm" | "jsr";
  /** Package name, `@scope/name` or `name`. */
  name: string;
  /** Version or range as written; `undefined` for "latest". */
  version: string | undefined;
  /** The normalized specifier: `npm:name@version` (or without `@version`). */
  specifier: string;
}

/** Operator policy for packages. */
export interface DependencyPolicy {
  /** Package name globs (`*` matches anything, `/` included): `zod`, `@scope/*`, `lodash*`. */
  allow: string[];
  /** Require an exact version (`1.2.3`), never a range or a tag. */
  requirePinned: boolean;
}

export const DEFAULT_DEPENDENCY_POLICY: DependencyPolicy = { allow: ["*"], requirePinned: false };

/** A dependency specifier that cannot be parsed. */
export class DependencyError extends TypeError {
  override name = "DependencyError";
}

const NPM_NAME = /^(?:@[a-z0-9][a-z0-9._~-]*\/)?[a-z0-9][a-z0-9._~-]*$/;
const JSR_NAME = /^@[a-z0-9][a-z0-9-]*\/[a-z0-9][a-z0-9-]*$/;
const VERSION = /^[0-9A-Za-z.+^~<>=*|-]{1,64}$/;
const PINNED = /^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$/;

/** True for a valid npm package name (`name` or `@scope/name`). */
export function isNpmName(name: string): boolean {
  return NPM_NAME.test(name) && name.length <= 214;
}

/**
 * Parses `npm:name[@version]` or `jsr:@scope/name[@version]`.
 * @throws {DependencyError} naming the specifier and what is wrong
 */
export function parseDependency(spec: unknown): Dependency {
  if (typeof spec !== "string") {
    throw new DependencyError(
      `Invalid dependency: expected a string like "npm:zod@3.23.8", got ${typeof spec}`,
    );
  }
  const m = /^(npm|jsr):(@?[^@]+)(?:@(.*))?$/.exec(spec);
  if (!m) {
    throw new DependencyError(
      `Invalid dependency "${
        spec.slice(0, 100)
      }": expected npm:NAME@VERSION or jsr:@SCOPE/NAME@VERSION`,
    );
  }
  const registry = m[1] as "npm" | "jsr";
  const name = m[2]!;
  const version = m[3];
  if (!(registry === "npm" ? NPM_NAME : JSR_NAME).test(name) || name.length > 214) {
    throw new DependencyError(
      `Invalid dependency "${spec}": "${name}" is not a valid ${registry} package name`,
    );
  }
  if (version !== undefined && !VERSION.test(version)) {
    throw new DependencyError(
      `Invalid dependency "${spec}": "${version}" is not a version or range`,
    );
  }
  const specifier = `${registry}:${name}${version === undefined ? "" : "@" + version}`;
  return { registry, name, version, specifier };
}

/** True when an anchored glob (`*` = any characters) matches the whole name. */
export function matchesPackagePattern(name: string, pattern: string): boolean {
  const re = new RegExp(
    "^" + pattern.split("*").map((p) => p.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")).join(".*") + "$",
  );
  return re.test(name);
}

/** The policy's refusals for a list of dependencies. */
export function checkDependencyPolicy(deps: Dependency[], policy: DependencyPolicy): Denial[] {
  const denied: Denial[] = [];
  for (const dep of deps) {
    if (!policy.allow.some((p) => matchesPackagePattern(dep.name, p))) {
      denied.push({
        kind: "dependency",
        value: dep.specifier,
        reason: `package "${dep.name}" is not in the allowlist (${
          policy.allow.join(", ") || "none"
        })`,
      });
    } else if (policy.requirePinned && !PINNED.test(dep.version ?? "")) {
      denied.push({
        kind: "dependency",
        value: dep.specifier,
        reason: "an exact version is required, e.g. " + `${dep.registry}:${dep.name}@1.2.3`,
      });
    }
  }
  return denied;
}

/** Adds `next` to `current`, replacing entries for the same package. Sorted by name. */
export function mergeDependencies(current: Dependency[], next: Dependency[]): Dependency[] {
  const byKey = new Map(current.map((d) => [`${d.registry}:${d.name}`, d]));
  for (const d of next) byKey.set(`${d.registry}:${d.name}`, d);
  return [...byKey.values()].sort((a, b) => a.specifier.localeCompare(b.specifier));
}

/**
 * The import map of a workspace: bare names (`zod`, `zod/sub`) and unversioned
 * specifiers (`npm:zod`) both lead to the installed specifier.
 */
export function importMap(deps: Dependency[]): Record<string, string> {
  const imports: Record<string, string> = {};
  for (const d of deps) {
    imports[d.name] = d.specifier;
    imports[`${d.name}/`] = `${d.registry}:/${d.name}${d.version ? "@" + d.version : ""}/`;
    if (d.version !== undefined) imports[`${d.registry}:${d.name}`] = d.specifier;
  }
  return imports;
}
