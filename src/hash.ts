/**
 * SHA-256 of text or bytes, as 64 hex digits. Synchronous: `crypto.subtle.digest` hops to
 * a worker thread and back (~50 us of CPU for a few bytes; this takes ~5 us).
 */
import { createHash } from "node:crypto";

export function sha256Hex(data: string | Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}
