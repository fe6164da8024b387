/**
 * Files in and out of a workspace's `files/` folder, on behalf of the caller (MCP tools,
 * CLI). The conductor is privileged, so every path is checked here: inside `files/`, and
 * no symlink on the way.
 */
import { dirname, isAbsolute, join, relative, resolve } from "node:path";
import { isInside } from "./paths.ts";
import { quotaUsage, UnmeasurableError, type Workspace } from "./workspace.ts";

/** A file request that cannot be served; the message says why. */
export class WorkspaceFileError extends Error {
  override name = "WorkspaceFileError";
}

export type FileEncoding = "utf8" | "base64";

export interface FileEntry {
  /** Path relative to `files/`, with `/` separators. */
  path: string;
  type: "file" | "directory" | "symlink";
  sizeBytes: number;
}

/**
 * Resolves a caller's path inside `files/`. Security: refuses NUL, absolute paths outside,
 * `..` that leaves the folder, and any symlink among the existing components (a symlink
 * would lead the privileged conductor anywhere).
 * @throws {WorkspaceFileError}
 */
export async function resolveFilePath(ws: Workspace, path: unknown): Promise<string> {
  if (typeof path !== "string" || path === "" || path.length > 1024 || path.includes("\0")) {
    throw new WorkspaceFileError(
      `Invalid path ${
        JSON.stringify(String(path).slice(0, 100))
      }: expected a relative path inside the workspace`,
    );
  }
  const abs = isAbsolute(path) ? resolve(path) : join(ws.filesDir, path);
  if (!isInside(abs, ws.filesDir) || abs === ws.filesDir && path !== ".") {
    throw new WorkspaceFileError(`Invalid path "${path}": outside the workspace's files folder`);
  }
  let current = ws.filesDir;
  for (const part of relative(ws.filesDir, abs).split("/").filter(Boolean)) {
    current = join(current, part);
    let info: Deno.FileInfo;
    try {
      info = await Deno.lstat(current);
    } catch {
      break; // does not exist yet: nothing further can be a symlink
    }
    if (info.isSymlink) {
      throw new WorkspaceFileError(
        `Refusing path "${path}": "${relative(ws.filesDir, current)}" is a symlink`,
      );
    }
  }
  return abs;
}

export interface WriteFileOptions {
  /** @default "utf8" */
  encoding?: FileEncoding;
  /** The workspace quota in bytes. */
  quotaBytes: number;
}

/**
 * Writes a file (parents created), refusing what would take `files/` over its quota.
 * @returns the bytes written
 */
export async function writeWorkspaceFile(
  ws: Workspace,
  path: unknown,
  content: unknown,
  options: WriteFileOptions,
): Promise<number> {
  const abs = await resolveFilePath(ws, path);
  if (typeof content !== "string") {
    throw new WorkspaceFileError("Invalid content: expected a string");
  }
  let bytes: Uint8Array;
  if (options.encoding === "base64") {
    try {
      bytes = Uint8Array.fromBase64(content);
    } catch {
      throw new WorkspaceFileError(`Invalid content for "${path}": not valid base64`);
    }
  } else bytes = new TextEncoder().encode(content);
  const existing = await Deno.lstat(abs).then((i) => i.isFile ? i.size : 0, () => 0);
  const used = await quotaUsage(ws.filesDir).catch((error) => {
    if (!(error instanceof UnmeasurableError)) throw error;
    throw new WorkspaceFileError(`Cannot write "${path}": ${error.message}`);
  });
  if (used - existing + bytes.length > options.quotaBytes) {
    throw new WorkspaceFileError(
      `Cannot write "${path}": the workspace would hold ${
        used - existing + bytes.length
      } bytes, over its quota of ${options.quotaBytes}`,
    );
  }
  try {
    await Deno.mkdir(dirname(abs), { recursive: true });
    // Re-check: the folders just made must not have been swapped for symlinks.
    await resolveFilePath(ws, path);
    await Deno.writeFile(abs, bytes);
  } catch (error) {
    if (error instanceof WorkspaceFileError) throw error;
    // The caller's mistake (a folder's name, a path through a file, a name too long), said
    // without the host's absolute path, which Deno's message ends with.
    const reason = String((error as Error).message).split(": ")[0];
    throw new WorkspaceFileError(`Cannot write "${path}": ${reason}`);
  }
  return bytes.length;
}

export interface ReadFileResult {
  content: string;
  encoding: FileEncoding;
  sizeBytes: number;
}

/**
 * Reads a file up to `maxBytes`. Text comes back as UTF-8 unless it is not valid UTF-8
 * or base64 is asked for.
 */
export async function readWorkspaceFile(
  ws: Workspace,
  path: unknown,
  options: { maxBytes: number; encoding?: FileEncoding | undefined },
): Promise<ReadFileResult> {
  const abs = await resolveFilePath(ws, path);
  let info: Deno.FileInfo;
  try {
    info = await Deno.lstat(abs);
  } catch {
    throw new WorkspaceFileError(`Cannot read "${path}": no such file in the workspace`);
  }
  if (!info.isFile) throw new WorkspaceFileError(`Cannot read "${path}": not a regular file`);
  if (info.size > options.maxBytes) {
    throw new WorkspaceFileError(
      `Cannot read "${path}": it is ${info.size} bytes, over the limit of ${options.maxBytes}; read a slice of it with code instead`,
    );
  }
  // Read at most the limit: the file may have grown since the lstat (a run is writing it).
  const bytes = await readAtMost(abs, options.maxBytes);
  if (bytes === undefined) {
    throw new WorkspaceFileError(
      `Cannot read "${path}": it grew over the limit of ${options.maxBytes} bytes`,
    );
  }
  if (options.encoding !== "base64") {
    try {
      const content = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
      return { content, encoding: "utf8", sizeBytes: bytes.length };
    } catch {
      if (options.encoding === "utf8") {
        throw new WorkspaceFileError(`Cannot read "${path}" as utf8: it is binary; ask for base64`);
      }
    }
  }
  return { content: bytes.toBase64(), encoding: "base64", sizeBytes: bytes.length };
}

/** The file's bytes, or `undefined` when it holds more than `max`. */
async function readAtMost(path: string, max: number): Promise<Uint8Array | undefined> {
  using file = await Deno.open(path, { read: true });
  const buffer = new Uint8Array(max + 1);
  let size = 0;
  while (size < buffer.length) {
    const n = await file.read(buffer.subarray(size));
    if (n === null) break;
    size += n;
  }
  return size > max ? undefined : buffer.slice(0, size);
}

/** Lists `files/` recursively (symlinks are listed, not followed), at most `limit` entries. */
export async function listWorkspaceFiles(
  ws: Workspace,
  limit = 1000,
): Promise<{ entries: FileEntry[]; truncated: boolean }> {
  const entries: FileEntry[] = [];
  const stack = [ws.filesDir];
  // Code may be changing the folder meanwhile, or have made a folder unreadable (chmod 000;
  // as a non-root user the conductor is refused too) or nested past the length limit for
  // paths: what cannot be read is left out (an error would name a host path).
  while (stack.length) {
    const dir = stack.pop()!;
    const children: Deno.DirEntry[] = [];
    // No more of a folder is read than the listing can show: code can fill one with tens
    // of thousands of names, and sorting them all (on the conductor's only thread) took
    // up to a second per call.
    const room = limit - entries.length;
    try {
      for await (const e of Deno.readDir(dir)) if (children.push(e) > room) break;
    } catch {
      // left out, with whatever it holds
    }
    children.sort((a, b) => byCodeUnits(a.name, b.name));
    for (const e of children) {
      if (entries.length >= limit) return { entries, truncated: true };
      const abs = join(dir, e.name);
      let info: Deno.FileInfo;
      try {
        info = await Deno.lstat(abs);
      } catch {
        continue;
      }
      const type = info.isSymlink ? "symlink" : info.isDirectory ? "directory" : "file";
      entries.push({
        path: relative(ws.filesDir, abs),
        type,
        sizeBytes: info.isFile ? info.size : 0,
      });
      if (info.isDirectory) stack.push(abs);
    }
  }
  entries.sort((a, b) => byCodeUnits(a.path, b.path));
  return { entries, truncated: false };
}

/** Plain string order: `localeCompare` is many times slower on names that are not ASCII. */
function byCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * A file name as a line of text may show it: code names files, and a name with a newline
 * or a terminal escape would fake lines of a listing (or drive the operator's terminal).
 * Such a name is shown quoted, as JSON, with its control characters escaped.
 */
export function printablePath(path: string): string {
  // deno-lint-ignore no-control-regex
  return /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/.test(path)
    ? JSON.stringify(path).replace(
      /[\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g,
      (c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0"),
    )
    : path;
}
