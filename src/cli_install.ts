/**
 * `conductor install`: step 1 on its own, for a conversation's workspace.
 */
import { ensureFolder } from "./conductor_folder.ts";
import { parseArgs } from "node:util";
import { checkedDependencies, checkedId, EXIT, loadCliConfig, UsageError } from "./cli_common.ts";
import { installDependencies } from "./installer.ts";
import { writeErr, writeOut } from "./log.ts";
import { inWorkspace } from "./workspace.ts";
import { prepareDenoDir } from "./deno_dir.ts";

export const INSTALL_HELP =
  `Usage: conductor install [--conversation ID] [--frozen] [--json] SPEC...

Installs packages into a conversation's workspace (created if new; without
--conversation, a new one whose id is printed). SPEC is npm:NAME@VERSION (or
jsr:NAME@VERSION, where the jsr registry can be reached). Packages are fetched into
the cache without running any of their code (no lifecycle scripts); the workspace's
lockfile pins exact versions and hashes. Runs in that conversation then import them by name, with no
network at run time. Installing what is already installed spawns nothing.

Options:
  --conversation ID   The workspace to install into
  --frozen            The lockfile must already pin exactly these packages (and the
                      workspace's others); nothing new is resolved. For CI
  --json              Print the result as JSON
  --config FILE       Config file
  -h, --help          Show this help

Exit codes: 0 installed (or already there), 1 the install failed, 2 usage error,
3 refused by the package policy.
`;

export async function installCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      conversation: { type: "string" },
      frozen: { type: "boolean" },
      json: { type: "boolean" },
      config: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    await writeOut(INSTALL_HELP);
    return EXIT.ok;
  }
  if (!positionals.length) {
    throw new UsageError("Nothing to install: give one or more npm:NAME@VERSION");
  }
  checkedDependencies(positionals);
  const config = await loadCliConfig(values.config);
  await ensureFolder("workspacesDir", config.workspacesDir);
  await prepareDenoDir(config.denoDir);
  // Without --conversation, a refused or failed install leaves no new workspace behind.
  const { ws, value: result } = await inWorkspace(
    config.workspacesDir,
    values.conversation === undefined ? undefined : checkedId(values.conversation),
    (ws) =>
      installDependencies(config, ws, positionals, {
        frozen: values.frozen ?? false,
        onProgress: values.json ? undefined : (line) => void writeErr(`[conductor] ${line}\n`),
      }),
    (result) => result.status === "installed" || result.status === "skipped",
  );
  if (values.json) {
    await writeOut(JSON.stringify({ conversationId: ws.id, ...result }, null, 2) + "\n");
  } else if (result.status === "installed" || result.status === "skipped") {
    const what = result.status === "skipped" ? "already installed" : "installed";
    await writeErr(
      `[conductor] ${what} in conversation ${ws.id}: ${result.dependencies.join(", ")}\n`,
    );
  } else {
    await writeErr(`[conductor] ${result.status}: ${result.message}\n`);
  }
  return result.status === "rejected"
    ? EXIT.refused
    : result.status === "install_error"
    ? EXIT.failed
    : EXIT.ok;
}
