/**
 * `conductor workspaces list | rm ID | gc` and `conductor files ls | get | put`.
 */
import { ensureFolder } from "./conductor_folder.ts";
import { parseArgs } from "node:util";
import { checkedId, EXIT, loadCliConfig, readStdinBytes, UsageError } from "./cli_common.ts";
import type { ResolvedConfig } from "./config.ts";
import { writeErr, writeOut } from "./log.ts";
import {
  findWorkspace,
  gcWorkspaces,
  listWorkspaces,
  openWorkspace,
  removeWorkspace,
  type Workspace,
} from "./workspace.ts";
import {
  listWorkspaceFiles,
  printablePath,
  readWorkspaceFile,
  WorkspaceFileError,
  writeWorkspaceFile,
} from "./workspace_files.ts";

export const WORKSPACES_HELP = `Usage: conductor workspaces list [--json]
       conductor workspaces rm ID
       conductor workspaces gc [--json]

Each conversation has a workspace: files/ (the code's cwd, the only folder it can be
granted) and meta/ (the conductor's import map, lockfile and bookkeeping).

  list    Every workspace: id, size of files/, last use, installed packages
  rm ID   Delete a workspace and everything in it
  gc      Delete workspaces idle longer than workspaceTtlHours (config; default 24),
          except those in use by a running execution or install

Options: --json, --config FILE, -h/--help
`;

export const FILES_HELP = `Usage: conductor files ls ID [--json]
       conductor files get ID PATH [--base64]
       conductor files put ID PATH [FILE | -] [--base64]

Moves files in and out of a conversation's files/ folder (the code's cwd). PATH is
relative to that folder; paths that leave it or go through a symlink are refused.

  ls    List files with sizes
  get   Print a file (up to readFileMaxBytes; --base64 for binary)
  put   Write a file from FILE, or from stdin with - or no FILE, byte for byte
        (with --base64, the input is base64 text; the workspace is created if new;
        refused past the workspace quota)

Options:
  --base64        get: print the file as base64; put: the input is base64
  --json          ls: print JSON
  --config FILE   Config file (default: $CONDUCTOR_CONFIG, then ./conductor.jsonc)
  -h, --help      Show this help
`;

function human(bytes: number): string {
  return bytes < 1024
    ? `${bytes} B`
    : bytes < 1024 * 1024
    ? `${(bytes / 1024).toFixed(1)} KiB`
    : `${(bytes / 1048576).toFixed(1)} MiB`;
}

export async function workspacesCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      json: { type: "boolean" },
      config: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  const [sub, id, ...extra] = positionals;
  if (values.help || !sub) {
    await writeOut(WORKSPACES_HELP);
    return values.help ? EXIT.ok : EXIT.usage;
  }
  const most = sub === "rm" ? 1 : 0; // arguments after the subcommand
  const surplus = [id, ...extra].filter((a) => a !== undefined).slice(most);
  if (surplus.length) throw new UsageError(`Too many arguments: ${surplus.join(" ")}`);
  const config = await loadCliConfig(values.config);
  switch (sub) {
    case "list": {
      const list = await listWorkspaces(config.workspacesDir);
      if (values.json) await writeOut(JSON.stringify(list, null, 2) + "\n");
      else if (!list.length) await writeErr("[conductor] no workspaces\n");
      else {
        for (const w of list) {
          const deps = w.dependencies.length ? `  ${w.dependencies.join(" ")}` : "";
          await writeOut(`${w.id}  ${human(w.sizeBytes)}  last used ${w.lastUsedAt}${deps}\n`);
        }
      }
      return EXIT.ok;
    }
    case "rm": {
      if (!id) throw new UsageError("workspaces rm needs an ID");
      const removed = await removeWorkspace(config.workspacesDir, checkedId(id));
      await writeErr(removed ? `[conductor] deleted ${id}\n` : `[conductor] no workspace ${id}\n`);
      return removed ? EXIT.ok : EXIT.failed;
    }
    case "gc": {
      const removed = await gcWorkspaces(config.workspacesDir, { ttlMs: config.workspaceTtlMs });
      if (values.json) await writeOut(JSON.stringify({ removed }) + "\n");
      else await writeErr(`[conductor] deleted ${removed.length} idle workspaces\n`);
      return EXIT.ok;
    }
    default:
      throw new UsageError(`Unknown workspaces command "${sub}": expected list, rm or gc`);
  }
}

function existing(config: ResolvedConfig, id: string): Workspace {
  const ws = findWorkspace(config.workspacesDir, checkedId(id));
  if (!ws) throw new WorkspaceFileError(`No workspace "${id}"`);
  return ws;
}

export async function filesCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      json: { type: "boolean" },
      base64: { type: "boolean" },
      config: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  const [sub, id, path, source] = positionals;
  if (values.help || !sub) {
    await writeOut(FILES_HELP);
    return values.help ? EXIT.ok : EXIT.usage;
  }
  if (!id) throw new UsageError(`files ${sub} needs a workspace ID`);
  checkedId(id); // before reading stdin for put
  const most = { ls: 2, get: 3, put: 4 }[sub] ?? positionals.length; // with the subcommand
  if (positionals.length > most) {
    throw new UsageError(`Too many arguments: ${positionals.slice(most).join(" ")}`);
  }
  const config = await loadCliConfig(values.config);
  try {
    switch (sub) {
      case "ls": {
        const { entries, truncated } = await listWorkspaceFiles(existing(config, id));
        if (values.json) await writeOut(JSON.stringify({ entries, truncated }, null, 2) + "\n");
        else {
          for (const e of entries) {
            await writeOut(
              `${e.type === "directory" ? "d" : e.type === "symlink" ? "l" : "-"} ${
                human(e.sizeBytes).padStart(10)
              }  ${printablePath(e.path)}\n`,
            );
          }
          if (truncated) await writeErr("[conductor] listing truncated\n");
        }
        return EXIT.ok;
      }
      case "get": {
        if (!path) throw new UsageError("files get needs a PATH");
        const file = await readWorkspaceFile(existing(config, id), path, {
          maxBytes: config.readFileMaxBytes,
          encoding: values.base64 ? "base64" : undefined,
        });
        if (file.encoding === "base64" && !values.base64) {
          throw new WorkspaceFileError(`"${path}" is binary: use --base64`);
        }
        await writeOut(file.content + (file.encoding === "base64" ? "\n" : ""));
        return EXIT.ok;
      }
      case "put": {
        if (!path) throw new UsageError("files put needs a PATH");
        // Byte for byte (a binary file too); with --base64 the input is base64 text.
        const input = source === undefined || source === "-"
          ? await readStdinBytes()
          : await Deno.readFile(source).catch((e) => {
            throw new UsageError(`Cannot read "${source}": ${e.message}`);
          });
        const content = values.base64 ? new TextDecoder().decode(input).trim() : input.toBase64();
        await ensureFolder("workspacesDir", config.workspacesDir);
        const ws = await openWorkspace(config.workspacesDir, checkedId(id));
        const bytes = await writeWorkspaceFile(ws, path, content, {
          encoding: "base64",
          quotaBytes: config.workspaceQuotaBytes,
        });
        await writeErr(`[conductor] wrote ${bytes} bytes to ${id}:${path}\n`);
        return EXIT.ok;
      }
      default:
        throw new UsageError(`Unknown files command "${sub}": expected ls, get or put`);
    }
  } catch (error) {
    if (error instanceof WorkspaceFileError) {
      await writeErr(`conductor: ${error.message}\n`);
      return EXIT.failed;
    }
    throw error;
  }
}
