/**
 * What every CLI command shares: exit codes, usage errors, config loading, stdin.
 */
import { loadConfig, type ResolvedConfig } from "./config.ts";
import { DependencyError, parseDependency } from "./dependencies.ts";
import { validateConversationId, WorkspaceIdError } from "./workspace.ts";

/** 0 success, 1 the code (or install) failed, 2 usage or config error, 3 refused by policy. */
export const EXIT = { ok: 0, failed: 1, usage: 2, refused: 3 } as const;

/** A command line that cannot be run; the message says what is wrong. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** Loads the config from `--config`, `$CONDUCTOR_CONFIG` or `./conductor.jsonc`. */
export function loadCliConfig(path: string | undefined): Promise<ResolvedConfig> {
  return loadConfig({ path, envPath: Deno.env.get("CONDUCTOR_CONFIG") || undefined });
}

export async function readStdin(): Promise<string> {
  return new TextDecoder().decode(await readStdinBytes());
}

/** All of stdin, byte for byte. */
export async function readStdinBytes(): Promise<Uint8Array> {
  return new Uint8Array(await new Response(Deno.stdin.readable).arrayBuffer());
}

export function parseInteger(name: string, text: string): number {
  if (!/^\d+$/.test(text)) {
    throw new UsageError(`Invalid ${name} "${text}": expected a whole number`);
  }
  return Number(text);
}

/** Quotes an argv entry for display in a POSIX shell. */

/** Quotes an argv entry for display in a POSIX shell. */
export function shellQuote(arg: string): string {
  return /^[A-Za-z0-9_./:=,@%+-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", `'\\''`)}'`;
}

/** Dependency specifiers from the command line, or a usage error for a malformed one. */
export function checkedDependencies(specs: string[]): string[] {
  try {
    for (const spec of specs) parseDependency(spec);
  } catch (error) {
    if (error instanceof DependencyError) throw new UsageError(error.message);
    throw error;
  }
  return specs;
}

/** A conversation id from the command line, or a usage error saying what is wrong. */
export function checkedId(id: string): string {
  try {
    return validateConversationId(id);
  } catch (error) {
    if (error instanceof WorkspaceIdError) throw new UsageError(error.message);
    throw error;
  }
}
