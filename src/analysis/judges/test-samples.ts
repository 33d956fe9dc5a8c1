/**
 * Seeded samples for the judges' tests: latencies from a log-normal distribution and error counts
 * from a binomial one, reproducible from a seed (mulberry32, a small well-mixed 32-bit generator), so
 * a failing calibration run can be replayed. Test support only.
 */
import { qnorm } from '../stats/index.js';
import type { CompareJudgeSpec } from './specs.js';
import { seededRandom } from '../../system/seeded-random.js';

/** uniform numbers in (0, 1) from a 32-bit seed */
export function uniformStream(seed: number): () => number {
  const next = seededRandom(seed);
  // half a step up: never exactly 0, which qnorm would turn into -Infinity
  return () => next() + 0.5 / 4294967296;
}

/** n latencies with the given median; sigma is the spread of their logarithm */
export function logNormal(uniform: () => number, n: number, medianValue: number, sigma: number): number[] {
  return Array.from({ length: n }, () => medianValue * Math.exp(sigma * qnorm(uniform())));
}

/** events among `total` independent trials with probability `rate` */
export function binomialCount(uniform: () => number, total: number, rate: number): number {
  let events = 0;
  for (let trial = 0; trial < total; trial++) if (uniform() < rate) events++;
  return events;
}

/** a compare judge spec with the schema's defaults (allowedChange as the tests use it: 10%), overridden */
export function compareSpec(test: CompareJudgeSpec['test'], overrides: Partial<CompareJudgeSpec> = {}): CompareJudgeSpec {
  return { type: 'compare', test, direction: 'increase', confidence: 0.98, allowedChange: 0.1, quantile: 0.99, minSamples: 50, ...overrides };
}
