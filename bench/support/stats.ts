/** Order statistics for benchmark samples (nearest-rank on the sorted samples). */

export function quantile(samples: readonly number[], q: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank] ?? Number.NaN;
}

export interface Summary {
  n: number;
  median: number;
  p10: number;
  p90: number;
  p99: number;
  min: number;
  max: number;
}

export function summarize(samples: readonly number[]): Summary {
  return {
    n: samples.length,
    median: quantile(samples, 0.5),
    p10: quantile(samples, 0.1),
    p90: quantile(samples, 0.9),
    p99: quantile(samples, 0.99),
    min: samples.length ? Math.min(...samples) : Number.NaN,
    max: samples.length ? Math.max(...samples) : Number.NaN,
  };
}

/** A number for a table cell: fixed decimals, '–' for NaN. */
export function fmt(v: number, digits = 1): string {
  return Number.isFinite(v) ? v.toFixed(digits) : '–';
}

/** "median (p10–p90)" for a table cell. */
export function spread(s: Summary, digits = 1): string {
  return `${fmt(s.median, digits)} (${fmt(s.p10, digits)}–${fmt(s.p90, digits)})`;
}

export function ratio(a: number, b: number): string {
  return Number.isFinite(a / b) ? `${((a / b) * 100).toFixed(1)}%` : '–';
}
