/**
 * Lexical path containment. Pure: symlinks are the business of `path_guard.ts`.
 */
import { isAbsolute, relative, resolve, sep } from "node:path";

/** True when `path` is `root` or lies below it, after normalizing both (no I/O). */
export function isInside(path: string, root: string): boolean {
  const rel = relative(resolve(root), resolve(path));
  return rel === "" || (rel !== ".." && !rel.startsWith(".." + sep) && !isAbsolute(rel));
}
