/**
 * Summary statistics of a list of timings, and rounding for display and JSON.
 */

export interface Summary {
  n: number;
  median: number;
  p95: number;
  mean: number;
  min: number;
  max: number;
}

/** Nearest-rank percentile of an ascending list (`p` from 0 to 100). */
export function percentile(sorted: readonly number[], p: number): number {
  if (!sorted.length) return NaN;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1]!;
}

export function summarize(samples: readonly number[]): Summary {
  const sorted = [...samples].sort((a, b) => a - b);
  const n = sorted.length;
  return {
    n,
    median: n % 2 ? sorted[(n - 1) / 2]! : (sorted[n / 2 - 1]! + sorted[n / 2]!) / 2,
    p95: percentile(sorted, 95),
    mean: n ? sorted.reduce((a, b) => a + b, 0) / n : NaN,
    min: sorted[0] ?? NaN,
    max: sorted[n - 1] ?? NaN,
  };
}

/** A copy of `value` with every number rounded to `digits` decimals. */
export function roundDeep<T>(value: T, digits = 3): T {
  if (typeof value === "number") {
    const f = 10 ** digits;
    return (Number.isFinite(value) ? Math.round(value * f) / f : value) as T;
  }
  if (Array.isArray(value)) return value.map((v) => roundDeep(v, digits)) as T;
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, roundDeep(v, digits)]),
    ) as T;
  }
  return value;
}
