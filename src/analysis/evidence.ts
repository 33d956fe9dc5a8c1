/**
 * What a measurement keeps of the data it judged: every scalar as is, and samples as a summary plus
 * the values themselves up to a cap, so `promote explain` can show (and a person can recompute) the
 * numbers behind a verdict without the store growing with every latency the router saw.
 */
import type { MetricData } from './types.js';

/** raw sample values kept per measurement and version */
export const KEPT_SAMPLES = 1_000;

export interface SampleSummary {
  n: number;
  min: number;
  max: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  /** the samples, all of them when there are at most KEPT_SAMPLES, else an evenly spaced selection of the sorted values */
  values: number[];
  truncated: boolean;
}

export function summarizeData(data: MetricData): Record<string, unknown> {
  return {
    ...(data.value !== undefined ? { value: data.value } : {}),
    ...(data.events !== undefined ? { events: data.events } : {}),
    ...(data.total !== undefined ? { total: data.total } : {}),
    ...(data.support !== undefined ? { support: data.support } : {}),
    ...(data.samples !== undefined ? { samples: summarizeSamples(data.samples) } : {}),
    source: data.source,
  };
}

export function summarizeSamples(samples: readonly number[]): SampleSummary | { n: 0 } {
  if (samples.length === 0) return { n: 0 };
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  const truncated = sorted.length > KEPT_SAMPLES;
  const values = truncated ? Array.from({ length: KEPT_SAMPLES }, (_, index) => sorted[Math.floor((index * (sorted.length - 1)) / (KEPT_SAMPLES - 1))]!) : [...samples];
  return { n: sorted.length, min: sorted[0]!, max: sorted.at(-1)!, mean: sorted.reduce((sum, value) => sum + value, 0) / sorted.length, p50: at(0.5), p90: at(0.9), p99: at(0.99), values, truncated };
}
