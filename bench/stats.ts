/** Small statistics for bench figures: order statistics, not means, because the machine is noisy. */

/** The q-quantile (0..1) of the values, nearest-rank; NaN for none. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i]!;
}

/** Median (nearest-rank lower middle for an even count). */
export function median(values: readonly number[]): number {
  return quantile(values, 0.5);
}

/** Largest value; NaN for none (so a missing figure never looks like 0). */
export function max(values: readonly number[]): number {
  return values.length === 0 ? Number.NaN : values.reduce((a, b) => Math.max(a, b), Number.NEGATIVE_INFINITY);
}

/** Smallest value; NaN for none. */
export function min(values: readonly number[]): number {
  return values.length === 0 ? Number.NaN : values.reduce((a, b) => Math.min(a, b), Number.POSITIVE_INFINITY);
}

/** Total of the values (busy time summed over handlers). */
export function sum(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

/** Rounds for JSON and tables: 3 significant decimals at most. */
export function round(value: number, digits = 3): number {
  if (!Number.isFinite(value)) return value;
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** value / floor, rounded; null when the floor is not a positive number (a ratio would mean nothing). */
export function ratio(value: number, floor: number): number | null {
  return floor > 0 && Number.isFinite(value) ? round(value / floor, 2) : null;
}
