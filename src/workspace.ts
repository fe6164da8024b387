/**
 * Conversation workspaces: `<workspacesDir>/<id>/files/` (the child's cwd, the only folder
 * ever granted by default) and `<workspacesDir>/<id>/meta/` (conductor-owned, never granted).
 */
import { join } from "node:path";

export interface Workspace {
  id: string;
  /** `<workspacesDir>/<id>`, real path. */
  root: string;
  /** The child's cwd; real path. */
  filesDir: string;
  /** Conductor-owned bookkeeping; never granted to a child. */
  metaDir: string;
}

const ID_RE = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;

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
  if (typeof id !== "string" || !ID_RE.test(id)) {
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

/** The paths of a workspace, created or not (`workspacesDir` must exist). */
export async function workspacePaths(workspacesDir: string, id: string): Promise<Workspace> {
  validateConversationId(id);
  const root = join(await Deno.realPath(workspacesDir), id);
  return { id, root, filesDir: join(root, "files"), metaDir: join(root, "meta") };
}

/** Creates the workspace if needed and returns its paths. */
export async function openWorkspace(workspacesDir: string, id: string): Promise<Workspace> {
  const ws = await workspacePaths(workspacesDir, id);
  await Deno.mkdir(ws.filesDir, { recursive: true });
  await Deno.mkdir(ws.metaDir, { recursive: true });
  // Security: the id's folder must be a real folder, not a symlink planted elsewhere.
  if ((await Deno.lstat(ws.root)).isSymlink || (await Deno.realPath(ws.filesDir)) !== ws.filesDir) {
    throw new WorkspaceIdError(`Workspace "${id}" is not a plain folder`);
  }
  return ws;
}

/** Deletes a workspace and everything in it. */
export async function removeWorkspace(workspacesDir: string, id: string): Promise<void> {
  const ws = await workspacePaths(workspacesDir, id);
  await Deno.remove(ws.root, { recursive: true }).catch((error) => {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  });
}
