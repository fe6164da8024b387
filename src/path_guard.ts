/**
 * File-system checks on granted paths, after `permissions.ts` has checked them lexically.
 *
 * Security: Deno's read/write grants are lexical. A symlink that already exists inside a
 * granted folder is followed anywhere, for read AND write, and a hard link shares the
 * inode of a file elsewhere. So before a folder is granted, the real path of each grant
 * must lie inside an allowed root, and no symlink or hard link inside it may lead out.
 */
import { dirname, join, relative } from "node:path";
import type { Denial, Permissions } from "./permissions.ts";
import { isInside } from "./paths.ts";

/**
 * At most this many entries are examined below the granted folders of one request, all
 * grants together (planning runs before a request waits for a slot: it must stay cheap).
 */
export const MAX_SCAN_ENTRIES = 20_000;

/** The real path of `path`, or of its nearest existing ancestor joined with the rest. */
export async function realPathOrAncestor(path: string): Promise<string> {
  let rest = "";
  let current = path;
  while (true) {
    try {
      const real = await Deno.realPath(current);
      return rest ? join(real, rest) : real;
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
      const parent = dirname(current);
      if (parent === current) return path;
      rest = rest ? join(current.slice(parent.length + 1), rest) : current.slice(parent.length + 1);
      current = parent;
    }
  }
}

interface ScanState {
  /** Entries examined so far for the whole request. */
  budget: { entries: number };
  /** inode key -> [links seen, link count, first path] */
  inodes: Map<string, [number, number, string]>;
}

/**
 * The deepest folder a scan enters: each level holds a descriptor open until it is done,
 * and code can nest folders past any path length (by renames).
 */
const MAX_SCAN_DEPTH = 256;

async function scan(
  dir: string,
  roots: string[],
  ownFiles: (real: string) => string | undefined,
  state: ScanState,
  problems: string[],
  depth = 0,
): Promise<void> {
  if (depth > MAX_SCAN_DEPTH) {
    problems.push(
      `holds folders nested more than ${MAX_SCAN_DEPTH} deep, too deep to check for links`,
    );
    return;
  }
  try {
    await scanEntries(dir, roots, ownFiles, state, problems, depth);
  } catch (error) {
    // Security: what cannot be read cannot be checked: the grant is refused, not made.
    if (!problems.length) {
      problems.push(`holds a folder that cannot be checked for links (${(error as Error).name})`);
    }
  }
}

async function scanEntries(
  dir: string,
  roots: string[],
  ownFiles: (real: string) => string | undefined,
  state: ScanState,
  problems: string[],
  depth: number,
): Promise<void> {
  for await (const entry of Deno.readDir(dir)) {
    if (++state.budget.entries > MAX_SCAN_ENTRIES) {
      problems.push(
        `is one of folders holding more than ${MAX_SCAN_ENTRIES} entries in all, too many to check for links`,
      );
      return;
    }
    const path = join(dir, entry.name);
    if (entry.isSymlink) {
      let target: string;
      try {
        target = await Deno.realPath(path);
      } catch {
        // A write through a link to nothing creates its target, wherever that is.
        problems.push(`holds a symlink "${path}" that leads nowhere`);
        return;
      }
      if (!roots.some((root) => isInside(target, root))) {
        problems.push(`holds a symlink "${path}" that leads outside, to "${target}"`);
      } else if (ownFiles(target)) {
        problems.push(`holds a symlink "${path}" that leads to the conductor's own files`);
      }
    } else if (entry.isDirectory) {
      await scan(path, roots, ownFiles, state, problems, depth + 1);
    } else if (entry.isFile) {
      const info = await Deno.lstat(path);
      if ((info.nlink ?? 1) > 1 && info.ino !== null) {
        const key = `${info.dev}:${info.ino}`;
        const seen = state.inodes.get(key);
        state.inodes.set(key, [(seen?.[0] ?? 0) + 1, info.nlink ?? 1, seen?.[2] ?? path]);
      }
    }
    if (problems.length) return;
  }
}

export interface GuardOptions {
  /**
   * Folders that are never granted, nor any folder holding them: the workspaces folder,
   * the children's DENO_DIR, the audit log. An operator's ceiling folder may contain them.
   */
  forbidden: string[];
  /** The one folder inside `forbidden` that may be granted (the conversation's files). */
  allowed?: string;
}

/** Allowed folders: the same for both kinds, or each kind's own (the ceiling's). */
export type GuardRoots = readonly string[] | { read: readonly string[]; write: readonly string[] };

/**
 * Checks granted read/write paths on disk. Each must really lie inside one of the roots of
 * its kind (real paths), and a granted folder may hold no symlink or hard link leading
 * outside them, nor a symlink to nothing or to the conductor's own files.
 * @returns one denial per refused grant
 */
export async function checkGrantedPaths(
  granted: Permissions,
  roots: GuardRoots,
  options: GuardOptions = { forbidden: [] },
): Promise<Denial[]> {
  if (!granted.read?.length && !granted.write?.length) return [];
  const byKind = "read" in roots ? roots : { read: roots, write: roots };
  const realOf = (list: readonly string[]) =>
    Promise.all(list.map((r) => realPathOrAncestor(r).catch(() => r)));
  const realRootsOf = { read: await realOf(byKind.read), write: await realOf(byKind.write) };
  // Security: grants are compared as real paths, so the conductor's own folders must be too
  // (a DENO_DIR configured through a symlink was grantable by its target): both spellings.
  const forbidden = [...new Set([...options.forbidden, ...await realOf(options.forbidden)])];
  const allowed = options.allowed === undefined
    ? []
    : [options.allowed, ...await realOf([options.allowed])];
  const ownFiles = (real: string) =>
    forbidden.find((f) =>
      !allowed.some((a) => isInside(real, a)) && (isInside(real, f) || isInside(f, real))
    );
  const denied: Denial[] = [];
  const budget = { entries: 0 };
  // Folders scanned and found clean: what is inside one needs no scan against the same roots.
  const sortedRoots = (kind: "read" | "write") => JSON.stringify([...realRootsOf[kind]].sort());
  const cleanRead: string[] = [];
  const cleanWrite = sortedRoots("read") === sortedRoots("write") ? cleanRead : [];
  for (const kind of ["read", "write"] as const) {
    const realRoots = realRootsOf[kind];
    const clean = kind === "read" ? cleanRead : cleanWrite;
    for (const path of granted[kind] ?? []) {
      let real: string;
      try {
        real = await realPathOrAncestor(path);
      } catch (error) {
        denied.push({
          kind,
          value: path,
          reason: `cannot be checked: ${(error as Error).message}`,
        });
        continue;
      }
      const ownData = ownFiles(real);
      if (ownData) {
        denied.push({
          kind,
          value: path,
          reason:
            `reaches the conductor's own files ("${ownData}": workspaces, cache, audit log, config, code or deno binary), never granted`,
        });
        continue;
      }
      if (!realRoots.some((root) => isInside(real, root))) {
        denied.push({
          kind,
          value: path,
          reason: `resolves through a symlink to "${real}", outside the allowed folders`,
        });
        continue;
      }
      let info: Deno.FileInfo;
      try {
        info = await Deno.stat(real);
      } catch {
        continue; // does not exist yet: nothing inside it to check
      }
      if (clean.some((folder) => isInside(real, folder))) continue;
      const problems: string[] = [];
      if (info.isDirectory) {
        const state: ScanState = { budget, inodes: new Map() };
        await scan(real, realRoots, ownFiles, state, problems);
        for (const [seen, links, first] of state.inodes.values()) {
          if (links > seen) {
            problems.push(
              `holds a hard link "${relative(real, first)}" whose other names are outside`,
            );
            break;
          }
        }
      } else if ((info.nlink ?? 1) > 1) {
        problems.push("is a file with hard links elsewhere");
      }
      if (problems.length) denied.push({ kind, value: path, reason: problems[0]! });
      else if (info.isDirectory) clean.push(real);
    }
  }
  return denied;
}
