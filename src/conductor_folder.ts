/**
 * The conductor's own folders (workspaces, the children's DENO_DIR): made on first use,
 * private to its user, with a config error naming the key when they cannot be.
 */
import { ConfigError } from "./config.ts";

/** Makes `path` (and its parents) if missing; a ConfigError if it is not a usable folder. */
export async function ensureFolder(key: string, path: string): Promise<void> {
  try {
    await Deno.mkdir(path, { recursive: true, mode: 0o700 });
  } catch (error) {
    const why = error instanceof Deno.errors.AlreadyExists ||
        error instanceof Deno.errors.NotADirectory
      ? "it (or a folder above it) is not a folder"
      : error instanceof Deno.errors.PermissionDenied
      ? "permission denied"
      : (error as Error).message;
    throw new ConfigError(`${key} "${path}" cannot be used: ${why}`);
  }
}
