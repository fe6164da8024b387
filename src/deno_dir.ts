/**
 * The DENO_DIR of sandbox children: the conductor's own, never the user's cache.
 *
 * Security: Deno writes into DENO_DIR on its own, with no permission asked of the code:
 * - localStorage and the Cache API write `location_data/<hash of the main module>`. Every
 *   child has the same main module (the bootstrap), so that folder would be a channel
 *   between conversations and a disk filler.
 * - every distinct `data:` module's transpiled output goes to `gen/data/`, and module
 *   analysis to SQLite caches, none of them ever cleaned: code that imports many large
 *   data URLs fills the disk.
 * A regular FILE where Deno expects a folder (`location_data`) and a FOLDER where it
 * expects an SQLite file (the caches) make Deno keep these in memory, or refuse
 * (localStorage throws), even as root, while npm imports keep working. The transpile
 * cache is switched off in the child's env instead (`DENO_EMIT_CACHE_MODE=disable`): a
 * file in place of `gen/data` makes every run wait ~150 ms.
 */
import { join } from "node:path";

/** Folders Deno must not be able to create: a file stands in their place. */
const BLOCKED_FOLDERS = ["location_data"];

/**
 * SQLite caches Deno must not be able to open: a folder stands in their place. These grow
 * with every distinct piece of code; `node_analysis_cache_v2` grows only per npm package,
 * and stays (it spares each run re-analyzing CommonJS packages).
 */
const BLOCKED_DATABASES = ["dep_analysis_cache_v2", "v8_code_cache_v2"];

async function kind(path: string): Promise<"file" | "dir" | undefined> {
  const info = await Deno.lstat(path).catch(() => undefined);
  return info ? (info.isDirectory ? "dir" : "file") : undefined;
}

export async function prepareDenoDir(denoDir: string): Promise<void> {
  await Deno.mkdir(denoDir, { recursive: true });
  // An earlier layout blocked gen/data with a file: undo it.
  if (await kind(join(denoDir, "gen", "data")) === "file") {
    await Deno.remove(join(denoDir, "gen", "data"));
  }
  for (const name of BLOCKED_FOLDERS) {
    const path = join(denoDir, name);
    const found = await kind(path);
    if (found === "file") continue;
    if (found) await Deno.remove(path, { recursive: true });
    await Deno.writeTextFile(path, "Placeholder: this cache is disabled for sandboxed code.\n");
  }
  // An earlier layout blocked the npm analysis cache too: undo it.
  if (await kind(join(denoDir, "node_analysis_cache_v2")) === "dir") {
    await Deno.remove(join(denoDir, "node_analysis_cache_v2"), { recursive: true });
  }
  for (const name of BLOCKED_DATABASES) {
    const path = join(denoDir, name);
    if (await kind(path) === "dir") continue;
    for (const suffix of ["", "-shm", "-wal", "-journal"]) {
      await Deno.remove(path + suffix).catch(() => {});
    }
    await Deno.mkdir(path, { recursive: true });
  }
}
