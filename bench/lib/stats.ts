// Summary statistics for the benchmark tables.

export interface Summary { n: number; mean: number; p50: number; p95: number; max: number; min: number }

export function summarize(xs: readonly number[]): Summary {
  if (xs.length === 0) return { n: 0, mean: NaN, p50: NaN, p95: NaN, max: NaN, min: NaN };
  const s = [...xs].sort((a, b) => a - b);
  // Nearest-rank percentile: a value that really occurred, never an interpolation between two.
  const rank = (p: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
  return { n: s.length, mean: s.reduce((a, b) => a + b, 0) / s.length, p50: rank(50), p95: rank(95), max: s.at(-1)!, min: s[0]! };
}

/** Fixed decimals, or "n/a" for a figure that could not be measured. */
export const fmt = (x: number, digits = 1): string => (Number.isFinite(x) ? x.toFixed(digits) : 'n/a');
