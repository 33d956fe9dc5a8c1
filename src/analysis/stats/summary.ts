/**
 * Descriptive numbers the judges show next to a test (median, mean) and the sample quantile the tail
 * test compares against. The quantile is R's default, type 7: linear interpolation between the order
 * statistics at (n - 1) * p, computed with R's arithmetic, (1 - h) * low + h * high, so the threshold
 * is the same double R finds.
 */
import { requireFiniteSample, requireLevel, sortedCopy } from './input.js';

/** The type-7 quantile of an ascending sorted, non-empty sample. */
export function quantileOfSorted(sorted: ArrayLike<number>, probability: number): number {
  // R's arithmetic: 1-based index 1 + (n - 1) p, so the fraction h rounds as it does in R
  const index = 1 + (sorted.length - 1) * probability;
  const low = Math.floor(index);
  const high = Math.ceil(index);
  const lowValue = sorted[low - 1]!;
  const highValue = sorted[high - 1]!;
  if (index <= low || highValue === lowValue) return lowValue;
  const h = index - low;
  return (1 - h) * lowValue + h * highValue;
}

/** R's `quantile(values, probability, type = 7)`. */
export function quantile(values: readonly number[], probability: number, name = 'sample'): number {
  requireFiniteSample(values, name);
  if (probability !== 0 && probability !== 1) requireLevel(probability, 'quantile');
  return quantileOfSorted(sortedCopy(values), probability);
}

export function median(values: readonly number[], name = 'sample'): number {
  return quantile(values, 0.5, name);
}

export function mean(values: readonly number[], name = 'sample'): number {
  requireFiniteSample(values, name);
  let sum = 0;
  for (const value of values) sum += value;
  return sum / values.length;
}
