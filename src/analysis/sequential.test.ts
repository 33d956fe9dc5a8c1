/**
 * A continuous analysis looks again and again; without correction, every look would be another
 * chance to roll back a good canary. With the confidence spent over the looks (sequentialConfidence),
 * identical versions are rolled back at most 1 - confidence of the time over a whole run of looks,
 * while a clearly bad canary is still caught at the first looks.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compareJudge } from './judges/compare.js';
import type { CompareJudgeSpec } from './judges/specs.js';
import { binomialCount, compareSpec, logNormal, uniformStream } from './judges/test-samples.js';
import { sequentialConfidence } from './runner.js';

const spec = (test: CompareJudgeSpec['test'], confidence: number): CompareJudgeSpec => compareSpec(test, { confidence, allowedChange: 0 });
const seeds = (runs: number, seed: number) => fc.sample(fc.integer({ min: 1, max: 2 ** 31 - 1 }), { seed, numRuns: runs });

/** whether any of `looks` independent looks at identical versions fails */
function anyLookFails(test: 'mannWhitney' | 'twoProportion', uniform: () => number, looks: number, corrected: boolean): boolean {
  for (let look = 1; look <= looks; look++) {
    const confidence = corrected ? sequentialConfidence(0.95, look) : 0.95;
    const verdict =
      test === 'mannWhitney'
        ? compareJudge(spec(test, confidence), { samples: logNormal(uniform, 120, 100, 0.5), source: {} }, { samples: logNormal(uniform, 120, 100, 0.5), source: {} }).verdict
        : compareJudge(spec(test, confidence), { events: binomialCount(uniform, 500, 0.02), total: 500, source: {} }, { events: binomialCount(uniform, 500, 0.02), total: 500, source: {} }).verdict;
    if (verdict === 'Failed') return true;
  }
  return false;
}

describe('sequentialConfidence', () => {
  it('spends exactly the allowed error over all looks, most of it early', () => {
    expect(sequentialConfidence(0.98, 1)).toBeCloseTo(0.99, 12);
    expect(sequentialConfidence(0.98, 2)).toBeCloseTo(1 - 0.02 / 6, 12);
    let spent = 0;
    for (let look = 1; look <= 100_000; look++) spent += 1 - sequentialConfidence(0.98, look);
    expect(spent).toBeLessThan(0.02);
    expect(spent).toBeGreaterThan(0.0199);
  });

  it.each(['mannWhitney', 'twoProportion'] as const)('%s: 30 looks at identical versions roll back at most 1 - confidence of the runs, where uncorrected looks would roll back many', (test) => {
    const runs = seeds(150, 5).map((seed) => uniformStream(seed));
    const corrected = runs.filter((uniform) => anyLookFails(test, uniform, 30, true)).length / runs.length;
    expect(corrected).toBeLessThanOrEqual(0.05 + 0.02);
    const uncorrected = seeds(150, 5).map((seed) => anyLookFails(test, uniformStream(seed), 30, false)).filter(Boolean).length / 150;
    expect(uncorrected).toBeGreaterThan(0.3);
  });

  it('still catches 20% errors against 1% at the first look', () => {
    const uniform = uniformStream(42);
    const judgement = compareJudge(spec('twoProportion', sequentialConfidence(0.98, 1)), { events: binomialCount(uniform, 200, 0.2), total: 200, source: {} }, { events: binomialCount(uniform, 800, 0.01), total: 800, source: {} });
    expect(judgement.verdict).toBe('Failed');
  });
});
