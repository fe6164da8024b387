/**
 * The one place that writes to the terminal. In `serve` mode stdout belongs to MCP, so
 * diagnostics go to stderr through `log`.
 */
import { makeRedactor } from "./redact.ts";

const encoder = new TextEncoder();
const redact = makeRedactor();

async function writeAll(stream: typeof Deno.stdout, text: string): Promise<void> {
  const bytes = encoder.encode(text);
  let offset = 0;
  while (offset < bytes.length) offset += await stream.write(bytes.subarray(offset));
}

/** Writes to stdout (CLI results only; never in `serve` mode). */
export function writeOut(text: string): Promise<void> {
  return writeAll(Deno.stdout, text);
}

/** Writes to stderr. */
export function writeErr(text: string): Promise<void> {
  return writeAll(Deno.stderr, text);
}

/** A diagnostic line on stderr, with token-shaped secrets redacted. */
export function log(message: string): void {
  Deno.stderr.writeSync(encoder.encode(`[conductor] ${redact(message)}\n`));
}
