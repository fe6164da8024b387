/**
 * Per-request limits: validated against the operator's maxima, defaults filled in.
 */
import { type Limits, MIN_LIMITS } from "./config.ts";
import type { Denial } from "./permissions.ts";

export const LIMIT_NAMES: readonly (keyof Limits)[] = [
  "timeoutMs",
  "memoryMb",
  "stdoutBytes",
  "stderrBytes",
];

/** Requested limits as they arrive (untrusted). */
export type LimitsRequest = Partial<Record<keyof Limits, unknown>>;

/**
 * Fills in defaults and refuses values outside `[MIN_LIMITS, max]`.
 * @returns the limits in force, and one denial per refused value
 */
export function resolveLimits(
  request: LimitsRequest,
  defaults: Limits,
  max: Limits,
): { limits: Limits; denied: Denial[] } {
  const limits = { ...defaults };
  const denied: Denial[] = [];
  for (const name of LIMIT_NAMES) {
    const value = request[name];
    if (value === undefined) continue;
    if (typeof value !== "number" || !Number.isInteger(value)) {
      denied.push({
        kind: "limit",
        value: `${name}=${JSON.stringify(value)}`,
        reason: "not an integer",
      });
    } else if (value < MIN_LIMITS[name] || value > max[name]) {
      denied.push({
        kind: "limit",
        value: `${name}=${value}`,
        reason: `must be from ${MIN_LIMITS[name]} to ${max[name]}`,
      });
    } else limits[name] = value;
  }
  return { limits, denied };
}

/** The V8 old-space cap for a memory limit: three quarters, so heap exhaustion comes first. */
export function heapMbFor(memoryMb: number): number {
  return Math.max(16, Math.floor(memoryMb * 0.75));
}
