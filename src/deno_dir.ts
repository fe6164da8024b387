/**
 * The DENO_DIR of sandbox children: the conductor's own, never the user's cache.
 *
 * Security: Deno writes into DENO_DIR on its own, with no permission asked of the code:
 * - localStorage and the Cache API write `location_data/<hash of the main module>`. Every
 *   child has the same main module (the bootstrap), so that folder would be a channel
 *   between conversations and a disk filler.
 * - every distinct `data:` module's transpiled output goes to `gen/data/`, and module
 *   analysis to SQLite caches, none of them ever cleaned: code that imports many large
 *   data URLs fills the disk, and the analysis cache keys each row by the module's URL,
 *   which for a `data:` module is the user's code itself.
 * A regular FILE where Deno expects a folder (`location_data`) and a FOLDER where it
 * expects an SQLite file (the V8 code cache) make Deno keep these in memory, or refuse
 * (localStorage throws), even as root, while npm imports keep working. The transpile
 * cache is switched off in the child's env instead (`DENO_EMIT_CACHE_MODE=disable`): a
 * file in place of `gen/data` makes every run wait ~150 ms.
 *
 * The module and CommonJS analysis caches are filters rather than blocks: each table is a
 * view whose insert trigger keeps only the bootstrap and the npm cache's files (the same
 * for every conversation) and drops every other module, the user's code first. Each child
 * then skips re-parsing the bootstrap (0.3-0.4 ms of CPU per child, measured against the
 * block) and npm packages' CommonJS analysis, and nothing of anyone's code is written.
 */
import { ensureFolder } from "./conductor_folder.ts";
import { ConfigError } from "./config.ts";
import { removeTree } from "./remove_tree.ts";
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { BOOTSTRAP_PATH } from "./execution_plan.ts";

/**
 * A DENO_DIR that others may enter is closed (packages can carry setuid files, and Deno
 * keeps a tarball's modes); one of another user is a config error.
 */
async function makePrivate(denoDir: string): Promise<void> {
  const info = await Deno.stat(denoDir);
  // Its owner could change what children load, root or not.
  if (info.uid !== null && info.uid !== Deno.uid()) {
    throw new ConfigError(`denoDir "${denoDir}" belongs to another user`);
  }
  if (((info.mode ?? 0) & 0o077) !== 0) await Deno.chmod(denoDir, 0o700);
}

/** Folders Deno must not be able to create: a file stands in their place. */
const BLOCKED_FOLDERS = ["location_data"];

/**
 * SQLite caches Deno must not be able to open: a folder stands in their place. This one
 * would hold a compiled copy of every distinct piece of code.
 */
const BLOCKED_DATABASES = ["v8_code_cache_v2"];

/** A cache Deno keeps one row per module in, keyed by the module's URL (`specifier`). */
interface FilteredCache {
  file: string;
  table: string;
  /** Its columns as Deno creates them, `specifier` first. */
  columns: string[];
}

/**
 * Caches that would hold user code: the module analysis of every module (a `data:` URL is
 * the code itself), and the CommonJS analysis of every `.cjs` file a run imports (its
 * export names, verbatim, without bound). Only rows for modules under `keep` are kept.
 */
const FILTERED_CACHES: FilteredCache[] = [
  {
    file: "dep_analysis_cache_v2",
    table: "moduleinfocache",
    columns: [
      "specifier TEXT PRIMARY KEY",
      "media_type INTEGER NOT NULL",
      "source_hash INTEGER NOT NULL",
      "module_info TEXT NOT NULL",
    ],
  },
  {
    file: "node_analysis_cache_v2",
    table: "cjsanalysiscache",
    columns: ["specifier TEXT PRIMARY KEY", "source_hash INTEGER NOT NULL", "data TEXT NOT NULL"],
  },
];

/**
 * A cache as a filter. Deno opens it, creates its table if missing (`IF NOT EXISTS` sees
 * the view) and writes `INSERT OR REPLACE INTO <table>`; the trigger keeps a row only for
 * a module under one of `keep`.
 */
function filterSchema(cache: FilteredCache, keep: string[]): string {
  const quote = (text: string) => `'${text.replaceAll("'", "''")}'`;
  const kept = keep.map((prefix) => `substr(NEW.specifier, 1, ${prefix.length}) = ${quote(prefix)}`)
    .join(" OR ");
  const names = cache.columns.map((c) => c.split(" ")[0]!);
  return `CREATE TABLE info (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE kept (${cache.columns.join(", ")});
CREATE VIEW ${cache.table} AS SELECT ${names.join(", ")} FROM kept;
CREATE TRIGGER keep_shared INSTEAD OF INSERT ON ${cache.table} WHEN ${kept} BEGIN
  INSERT OR REPLACE INTO kept VALUES (${names.map((n) => `NEW.${n}`).join(", ")});
END;
CREATE TRIGGER forget INSTEAD OF DELETE ON ${cache.table} BEGIN
  DELETE FROM kept WHERE specifier = OLD.specifier;
END`;
}

/** The schema of an SQLite file, or undefined when it is not one. */
function schemaOf(path: string, table: string): string | undefined {
  try {
    const db = new DatabaseSync(path, { readOnly: true });
    try {
      const rows = db.prepare(
        "SELECT sql FROM sqlite_master WHERE name IN ('info', 'kept', ?, 'keep_shared', 'forget') ORDER BY rowid",
      ).all(table) as { sql: string }[];
      return rows.map((r) => r.sql).join(";\n");
    } finally {
      db.close();
    }
  } catch {
    return undefined;
  }
}

/**
 * Makes a cache the filtered one, unless it is already exactly that. Built aside and
 * renamed into place, so a child never opens a half-made one.
 */
function prepareFilteredCache(denoDir: string, cache: FilteredCache): void {
  const path = join(denoDir, cache.file);
  const keep = [
    pathToFileURL(BOOTSTRAP_PATH).href,
    pathToFileURL(join(denoDir, "npm")).href + "/",
  ];
  const schema = filterSchema(cache, keep);
  if (schemaOf(path, cache.table) === schema) return;
  const temp = `${path}.${crypto.randomUUID()}.tmp`;
  const db = new DatabaseSync(temp);
  try {
    // WAL, as Deno sets it: otherwise the first child to open it rewrites the header.
    db.exec("PRAGMA journal_mode=WAL");
    db.exec(schema);
    db.prepare("INSERT INTO info VALUES ('CLI_VERSION', ?)").run(Deno.version.deno);
  } finally {
    db.close();
  }
  removeDatabase(path);
  Deno.renameSync(temp, path);
}

/** Removes an SQLite file (or whatever stands in its place) and its journal files. */
function removeDatabase(path: string): void {
  for (const suffix of ["", "-shm", "-wal", "-journal"]) removeIfPresent(path + suffix);
}

function removeIfPresent(path: string): void {
  try {
    Deno.removeSync(path, { recursive: true });
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
}

async function kind(path: string): Promise<"file" | "dir" | undefined> {
  const info = await Deno.lstat(path).catch(() => undefined);
  return info ? (info.isDirectory ? "dir" : "file") : undefined;
}

/** The placeholder file every prepared DENO_DIR has (its `location_data`). */
export function isPreparedDenoDir(denoDir: string): boolean {
  try {
    return Deno.lstatSync(join(denoDir, BLOCKED_FOLDERS[0]!)).isFile;
  } catch {
    return false;
  }
}

/**
 * Makes a DENO_DIR for sandbox children: the conductor's shared one (`packages: false`:
 * the DENO_DIR of runs without dependencies, where no package is ever installed) or a
 * workspace's own (its packages, for its runs with dependencies).
 *
 * Security: package code reads anything in its DENO_DIR's npm cache with no read
 * permission (`require`, or an import of any path there): with one cache for all, every
 * conversation read every other's packages. So the shared one has a file for `npm`, and
 * each workspace installs into a cache of its own.
 */
export async function prepareDenoDir(
  denoDir: string,
  options: { packages: boolean } = { packages: false },
): Promise<void> {
  await ensureFolder("denoDir", denoDir);
  await makePrivate(denoDir);
  if (!options.packages) {
    // Packages an earlier version installed here for every conversation go.
    const npm = join(denoDir, "npm");
    if (await kind(npm) === "dir" && !(await removeTree(npm))) {
      throw new Error(`Could not remove the shared npm cache ${npm}`);
    }
    if (!await kind(npm)) {
      await Deno.writeTextFile(npm, "Placeholder: packages are installed per workspace.\n");
    }
  }
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
  for (const name of BLOCKED_DATABASES) {
    const path = join(denoDir, name);
    if (await kind(path) === "dir") continue;
    removeDatabase(path);
    await Deno.mkdir(path, { recursive: true });
  }
  for (const cache of FILTERED_CACHES) prepareFilteredCache(denoDir, cache);
}
