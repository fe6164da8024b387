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

/** Also receives every log line (the MCP server forwards them as logging notifications). */
let sink: ((message: string) => void) | undefined;

export function setLogSink(fn: ((message: string) => void) | undefined): void {
  sink = fn;
}

/** A diagnostic line on stderr, with token-shaped secrets redacted. */
export function log(message: string): void {
  const line = redact(message);
  Deno.stderr.writeSync(encoder.encode(`[conductor] ${line}\n`));
  sink?.(line);
}
