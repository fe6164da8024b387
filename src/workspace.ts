/**
 * Conversation workspaces: `<workspacesDir>/<id>/files/` (the child's cwd, the only folder
 * ever granted by default) and `<workspacesDir>/<id>/meta/` (conductor-owned: import map,
 * lockfile, bookkeeping; never granted). Ids, layout, bookkeeping, size, listing, GC.
 */
import { join, relative, resolve } from "node:path";
import { removeTree } from "./remove_tree.ts";

export interface Workspace {
  id: string;
  /** `<workspacesDir>/<id>`, real path. */
  root: string;
  /** The child's cwd. */
  filesDir: string;
  /** Conductor-owned bookkeeping; never granted to a child. */
  metaDir: string;
}

/** What the conductor remembers about a workspace (`meta/state.json`). */
export interface WorkspaceState {
  createdAt: string;
  lastUsedAt: string;
  /** Installed dependency specifiers, sorted. */
  dependencies: string[];
  /** Hash of the generated config and lockfile after the last successful install. */
  installHash?: string;
  /** Folders of the installed packages in DENO_DIR (granted read-only to runs). */
  packageDirs?: string[];
}

export interface WorkspaceInfo {
  id: string;
  sizeBytes: number;
  createdAt: string;
  lastUsedAt: string;
  dependencies: string[];
}

const ID_RE = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;

/** Whether a folder name under the workspaces folder could be a conversation's workspace. */
export function isConversationId(name: string): boolean {
  return ID_RE.test(name);
}

/** A workspace id that cannot be used: traversal, bad characters, or too long. */
export class WorkspaceIdError extends TypeError {
  override name = "WorkspaceIdError";
}

/**
 * Checks a conversation id: 1 to 128 characters, letters, digits, `_` and `-`, starting
 * with a letter or digit. Security: this excludes `.`, `..`, separators and NUL.
 * @throws {WorkspaceIdError}
 */
export function validateConversationId(id: unknown): string {
  if (typeof id !== "string" || !isConversationId(id)) {
    const shown = typeof id === "string"
      ? JSON.stringify(id.length > 64 ? id.slice(0, 64) + "..." : id)
      : typeof id;
    throw new WorkspaceIdError(
      `Invalid conversation id ${shown}: use 1 to 128 letters, digits, "_" or "-", starting with a letter or digit`,
    );
  }
  return id;
}

/** A fresh random conversation id. */
export function newConversationId(): string {
  return crypto.randomUUID();
}

/*
 * The per-run bookkeeping below (paths, the three folder checks, the state file) uses
 * Deno's synchronous calls on purpose: each is a few microseconds on a local disk, while
 * the async form costs 30-70 us of thread hand-off, several times per execution.
 */

/**
 * The workspace's own Deno cache: its packages are installed there, and it is the
 * DENO_DIR of its runs with dependencies (see `prepareDenoDir`: one shared cache let every
 * conversation read every other's packages).
 */
export function packageCacheDir(ws: Workspace): string {
  return join(ws.metaDir, "deno-dir");
}

/** The paths of a workspace, created or not. */
export function workspacePaths(workspacesDir: string, id: string): Workspace {
  validateConversationId(id);
  let real: string;
  try {
    real = Deno.realPathSync(workspacesDir);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    real = resolve(workspacesDir); // not made yet, or deleted while serving: nothing is in it
  }
  const root = join(real, id);
  return { id, root, filesDir: join(root, "files"), metaDir: join(root, "meta") };
}

/**
 * Creates the workspace if needed, marks it used now (so that GC leaves it alone), and
 * returns its paths and state. `fresh`: the id was just made, so its folder most likely
 * does not exist yet (mkdir is tried before lstat; either way every check is made).
 */
export async function openWorkspace(
  workspacesDir: string,
  id: string,
  fresh = false,
): Promise<Workspace & { state: WorkspaceState }> {
  let ws = workspacePaths(workspacesDir, id);
  attempts: for (let attempt = 0;; attempt++) {
    let created = false;
    // Security: the id's folders must be real folders, not symlinks planted elsewhere;
    // each is checked before anything is created inside it, so nothing is made through a link.
    for (const dir of [ws.root, ws.filesDir, ws.metaDir]) {
      // Inside a root this call just made (or for a fresh id's root), mkdir alone says
      // whether anything is there, and spares the exception of lstat on a missing path
      // (~50 us each); if something is there, it is lstat-checked as usual.
      let info = created || (fresh && dir === ws.root) ? undefined : lstatOrUndefined(dir);
      if (!info) {
        try {
          // Security: private to the conductor's user. Code with write access can chmod what
          // it writes (setuid bits included: Deno cannot stop it); nobody else may reach it.
          Deno.mkdirSync(dir, { mode: 0o700 });
          if (dir === ws.root) created = true;
          continue; // a folder mkdir made is a plain folder
        } catch (error) {
          if (error instanceof Deno.errors.NotFound && dir === ws.root && attempt === 0) {
            // The workspaces folder itself is gone (deleted while serving): made again.
            Deno.mkdirSync(workspacesDir, { recursive: true, mode: 0o700 });
            ws = workspacePaths(workspacesDir, id);
            continue attempts;
          }
          if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
        }
        info = Deno.lstatSync(dir);
      }
      if (info.isSymlink) {
        throw new WorkspaceIdError(
          `Workspace "${id}" is not a plain folder: "${dir}" is a symlink`,
        );
      }
      // A workspace made before its folders were private (or opened up since) is closed
      // again: the root is enough, nothing below it can be reached without it.
      if (dir === ws.root && info.isDirectory && ((info.mode ?? 0) & 0o077) !== 0) {
        Deno.chmodSync(dir, 0o700);
      }
    }
    // A workspace this call made has no state yet and nobody holds its lock: the first
    // state file is created exclusively, without the lock. If another process got there
    // first, its state stands and the usual path below reads it.
    try {
      if (created) {
        const state = freshState();
        try {
          Deno.writeTextFileSync(statePath(ws), JSON.stringify(state, null, 2) + "\n", {
            createNew: true,
          });
          return { ...ws, state };
        } catch (error) {
          if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
        }
      }
      return { ...ws, state: await touchWorkspace(ws) };
    } catch (error) {
      // A GC or a delete removed it between mkdir and the state write: make it again, once.
      if (!(error instanceof Deno.errors.NotFound) || attempt > 0) throw error;
    }
  }
}

/** Opens an existing workspace; `undefined` when there is none with that id. */
export function findWorkspace(workspacesDir: string, id: string): Workspace | undefined {
  const ws = workspacePaths(workspacesDir, id);
  return lstatOrUndefined(ws.filesDir)?.isDirectory ? ws : undefined;
}

function lstatOrUndefined(path: string): Deno.FileInfo | undefined {
  try {
    return Deno.lstatSync(path);
  } catch {
    return undefined;
  }
}

/**
 * Runs `fn` in the named workspace, or in a new one that goes again when `fn` fails or
 * its value is not worth keeping: a refused call leaves no workspace behind (nor an id
 * nobody has).
 */
export async function inWorkspace<T>(
  workspacesDir: string,
  id: string | undefined,
  fn: (ws: Workspace) => Promise<T>,
  worthKeeping: (value: T) => boolean = () => true,
): Promise<{ ws: Workspace; value: T }> {
  const ws = await openWorkspace(workspacesDir, id ?? newConversationId());
  let keep = id !== undefined;
  try {
    const value = await fn(ws);
    keep ||= worthKeeping(value);
    return { ws, value };
  } finally {
    if (!keep) await removeWorkspace(workspacesDir, ws.id).catch(() => {});
  }
}

/** Deletes a workspace and everything in it; false when it did not exist. */
export async function removeWorkspace(workspacesDir: string, id: string): Promise<boolean> {
  const ws = workspacePaths(workspacesDir, id);
  // Only what has the shape of a workspace: an id-like folder that is something else
  // (an operator's cache under workspacesDir, say) is never deleted.
  const meta = lstatOrUndefined(ws.metaDir);
  if (!meta?.isDirectory) return false;
  // Security: through rm, for a tree of any depth (see remove_tree.ts).
  if (await removeTree(ws.root)) return true;
  // A folder a run made unreadable (as the owner, a non-root conductor is refused too).
  await restoreFolderAccess(ws.root);
  if (await removeTree(ws.root)) return true;
  throw new Error(`Workspace "${id}" could not be removed entirely`);
}

function statePath(ws: Workspace): string {
  return join(ws.metaDir, "state.json");
}

/** Reads `meta/state.json`; a missing or damaged file gives a fresh state. */
export function readState(ws: Workspace): WorkspaceState {
  return readStateFile(ws) ?? freshState();
}

function freshState(): WorkspaceState {
  const now = new Date().toISOString();
  return { createdAt: now, lastUsedAt: now, dependencies: [] };
}

/** `meta/state.json` as written, or `undefined` when missing or damaged. */
function readStateFile(ws: Workspace): WorkspaceState | undefined {
  try {
    const raw = JSON.parse(Deno.readTextFileSync(statePath(ws)));
    if (typeof raw === "object" && raw && Array.isArray(raw.dependencies)) return raw;
  } catch {
    // missing or damaged
  }
  return undefined;
}

/** Use is recorded at most this often: GC counts idleness in hours. */
const TOUCH_INTERVAL_MS = 30_000;

/** Writes `meta/state.json` atomically (a rename), so readers never see half a file. */
export function writeState(ws: Workspace, state: WorkspaceState): void {
  const tmp = `${statePath(ws)}.${crypto.randomUUID()}.tmp`;
  Deno.writeTextFileSync(tmp, JSON.stringify(state, null, 2) + "\n");
  Deno.renameSync(tmp, statePath(ws));
}

/** Records that the workspace was used now. */
export async function touchWorkspace(ws: Workspace): Promise<WorkspaceState> {
  // Off the hot path: a workspace used moments ago needs no new write (nor the lock).
  const recent = readStateFile(ws);
  if (recent && Date.now() - Date.parse(recent.lastUsedAt) < TOUCH_INTERVAL_MS) return recent;
  return await withWorkspaceLock(ws, () => {
    const state = readState(ws);
    state.lastUsedAt = new Date().toISOString();
    writeState(ws, state);
    return state;
  });
}

/**
 * Runs `fn` holding the workspace's exclusive lock (`meta/.lock`, an flock that also
 * serializes other conductor processes). Installs and bookkeeping go through it.
 */
export async function withWorkspaceLock<T>(
  ws: Workspace,
  fn: () => T | Promise<T>,
): Promise<T> {
  const file = await Deno.open(join(ws.metaDir, ".lock"), { create: true, write: true });
  try {
    await file.lock(true);
    return await fn();
  } finally {
    file.close();
  }
}

/**
 * What each entry below a files folder (file, folder, link) costs against the workspace
 * quota on top of its bytes: a disk block and an inode, so that empty files and folders
 * are not free (a run made 30,000 folders in a second, all counted as 0 bytes).
 */
export const QUOTA_ENTRY_BYTES = 4096;

/**
 * A folder below a files folder that the conductor cannot read or search: code with write
 * access took its permissions away (`chmod 000`) or nested it past the length limit for
 * paths, which would hide what it holds.
 */
export class UnmeasurableError extends Error {
  override name = "UnmeasurableError";
}

/**
 * What a files folder counts against the workspace quota.
 * @throws {UnmeasurableError} when a folder in it cannot be read: the quota fails closed
 * rather than count that folder as empty (as the owner, a non-root conductor is refused
 * like anyone else).
 */
export function quotaUsage(filesDir: string, stopAbove = Infinity): Promise<number> {
  return folderSize(filesDir, QUOTA_ENTRY_BYTES, true, stopAbove);
}

/**
 * Bytes used below a folder (regular files, not following symlinks), plus `perEntry` for
 * every entry. What cannot be read counts as nothing, or, `strict`, throws. Past
 * `stopAbove` it stops, with what it counted so far.
 */
export async function folderSize(
  dir: string,
  perEntry = 0,
  strict = false,
  stopAbove = Infinity,
): Promise<number> {
  let total = 0;
  const stack = [dir];
  // Anything but a folder or file removed or replaced while walking (`rm -rf out; build >
  // out`): a folder made unreadable, a path nested past the system's length limit...
  const refused = (error: unknown, path: string) => {
    if (
      !strict || error instanceof Deno.errors.NotFound ||
      error instanceof Deno.errors.NotADirectory
    ) return;
    const shown = JSON.stringify((relative(dir, path) || ".").slice(0, 200));
    const why = error instanceof Deno.errors.PermissionDenied
      ? "its permissions were taken away; give them back (chmod u+rwx) or delete it"
      // The OS's reason only: Deno's message goes on with the host path.
      : `${String((error as Error)?.message ?? error).split(" (os error")[0]}; delete it`;
    throw new UnmeasurableError(
      `The workspace's size cannot be measured: ${shown} cannot be read (${why})`,
    );
  };
  while (stack.length) {
    const current = stack.pop()!;
    try {
      for await (const entry of Deno.readDir(current)) {
        const path = join(current, entry.name);
        total += perEntry;
        if (entry.isDirectory) stack.push(path);
        else if (entry.isFile) {
          total += await Deno.lstat(path).then((info) => info.size, (error) => {
            refused(error, current);
            return 0; // removed while walking
          });
        }
        if (total > stopAbove) return total;
      }
    } catch (error) {
      if (error instanceof UnmeasurableError) throw error;
      refused(error, current);
      // otherwise removed while walking
    }
  }
  return total;
}

/**
 * Gives the owner back every right on each folder below `dir`, so that a tree whose
 * permissions a run took away can be removed. Security: `chmod` follows symlinks, so each
 * path is checked to be a folder first (readDir never lists a symlink as one). Left: a
 * process working in the workspace meanwhile could swap a folder for a symlink between
 * that check and the chmod; runs of this conductor are over by then (`delete_workspace` is
 * refused during one), and Deno has no chmod through a descriptor.
 */
async function restoreFolderAccess(dir: string): Promise<void> {
  const stack = [dir];
  while (stack.length) {
    const current = stack.pop()!;
    if (!(await Deno.lstat(current).catch(() => undefined))?.isDirectory) continue;
    await Deno.chmod(current, 0o700).catch(() => {});
    try {
      for await (const entry of Deno.readDir(current)) {
        if (entry.isDirectory) stack.push(join(current, entry.name));
      }
    } catch {
      // gone, or still unreadable: the removal reports it
    }
  }
}

/** Every workspace with its size and bookkeeping, most recently used first. */
export async function listWorkspaces(workspacesDir: string): Promise<WorkspaceInfo[]> {
  const out: WorkspaceInfo[] = [];
  const names: string[] = [];
  try {
    for await (const entry of Deno.readDir(workspacesDir)) {
      if (entry.isDirectory && ID_RE.test(entry.name)) names.push(entry.name);
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error; // no workspaces folder yet
  }
  for (const name of names) {
    const ws = findWorkspace(workspacesDir, name);
    if (!ws) continue;
    const state = readState(ws);
    out.push({
      id: ws.id,
      sizeBytes: await folderSize(ws.filesDir),
      createdAt: state.createdAt,
      lastUsedAt: state.lastUsedAt,
      dependencies: state.dependencies,
    });
  }
  return out.sort((a, b) => b.lastUsedAt.localeCompare(a.lastUsedAt));
}

/**
 * Ids of workspaces that some process is working in right now: any process (of any
 * conductor) whose cwd lies inside the workspace.
 */
export function busyWorkspaceIds(workspacesDir: string): Set<string> {
  const busy = new Set<string>();
  let root: string;
  try {
    root = Deno.realPathSync(workspacesDir) + "/";
  } catch {
    return busy;
  }
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    let cwd: string;
    try {
      cwd = Deno.readLinkSync(`/proc/${entry.name}/cwd`);
    } catch {
      continue;
    }
    if (cwd.startsWith(root)) busy.add(cwd.slice(root.length).split("/")[0]!);
  }
  return busy;
}

export interface GcOptions {
  /** Workspaces idle longer than this are deleted. */
  ttlMs: number;
  /** Ids in use by this process (e.g. an execution being planned). */
  inUse?: ReadonlySet<string>;
  /** @default new Date() */
  now?: Date;
}

/**
 * Deletes workspaces idle longer than the TTL. Never deletes one in use: by this process,
 * or by any process whose cwd is inside it (a running child, an install).
 * @returns the ids deleted
 */
export async function gcWorkspaces(workspacesDir: string, options: GcOptions): Promise<string[]> {
  const now = (options.now ?? new Date()).getTime();
  const removed: string[] = [];
  for (const info of await listWorkspaces(workspacesDir)) {
    if (now - Date.parse(info.lastUsedAt) <= options.ttlMs) continue;
    if (options.inUse?.has(info.id) || busyWorkspaceIds(workspacesDir).has(info.id)) continue;
    const ws = workspacePaths(workspacesDir, info.id);
    // Re-check under the lock: a run that started meanwhile has touched the state.
    const deleted = await withWorkspaceLock(ws, async () => {
      const state = readState(ws);
      if (now - Date.parse(state.lastUsedAt) <= options.ttlMs) return false;
      if (busyWorkspaceIds(workspacesDir).has(info.id)) return false;
      return await removeWorkspace(workspacesDir, info.id);
    }).catch(() => false);
    if (deleted) removed.push(info.id);
  }
  return removed;
}
