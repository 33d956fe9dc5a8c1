/**
 * Does the compare judge keep its promise? On two versions drawn from the same distribution it may
 * fail at most 1 - confidence of the time; on a clearly worse candidate it must fail almost always.
 * Seeds come from fast-check (fixed seed, so a failure replays), the samples from them.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Judgement, MetricData } from '../types.js';
import { compareJudge } from './compare.js';
import type { CompareJudgeSpec } from './specs.js';
import { binomialCount, compareSpec, logNormal, uniformStream } from './test-samples.js';

type Test = CompareJudgeSpec['test'];
type Pair = [candidate: MetricData, baseline: MetricData];

const seeds = (runs: number, seed: number) => fc.sample(fc.integer({ min: 1, max: 2 ** 31 - 1 }), { seed, numRuns: runs });

function failedShare(spec: CompareJudgeSpec, runs: number, seed: number, pair: (uniform: () => number) => Pair): { failed: number; verdicts: Judgement['verdict'][] } {
  const verdicts = seeds(runs, seed).map((each) => compareJudge(spec, ...pair(uniformStream(each))).verdict);
  return { failed: verdicts.filter((verdict) => verdict === 'Failed').length / runs, verdicts };
}

const samples = (values: number[]): MetricData => ({ samples: values, source: {} });
const counts = (events: number, total: number): MetricData => ({ events, total, source: {} });

/** identical versions: latencies log-normal around 100 ms, errors 2% of 2,000 requests */
const identical: Record<Test, (uniform: () => number) => Pair> = {
  mannWhitney: (uniform) => [samples(logNormal(uniform, 200, 100, 0.5)), samples(logNormal(uniform, 200, 100, 0.5))],
  ks: (uniform) => [samples(logNormal(uniform, 200, 100, 0.5)), samples(logNormal(uniform, 200, 100, 0.5))],
  tail: (uniform) => [samples(logNormal(uniform, 500, 100, 0.5)), samples(logNormal(uniform, 500, 100, 0.5))],
  twoProportion: (uniform) => [counts(binomialCount(uniform, 2000, 0.02), 2000), counts(binomialCount(uniform, 2000, 0.02), 2000)],
};

const spec = compareSpec;

describe('on identical versions the compare judge fails at most 1 - confidence of the time', () => {
  const tolerance = 0.02;
  it.each(['mannWhitney', 'ks', 'tail', 'twoProportion'] as const)('%s, strictest setting: either direction, nothing allowed, 95%', (test) => {
    const { failed, verdicts } = failedShare(spec(test, { direction: 'either', allowedChange: 0, confidence: 0.95 }), 400, 7, identical[test]);
    expect(failed).toBeLessThanOrEqual(0.05 + tolerance);
    expect(verdicts).not.toContain('Inconclusive');
    expect(verdicts).not.toContain('NoData');
  });

  it.each(['mannWhitney', 'ks', 'tail', 'twoProportion'] as const)('%s, defaults: increase, 10%% allowed, 98%%', (test) => {
    expect(failedShare(spec(test), 300, 11, identical[test]).failed).toBeLessThanOrEqual(0.02 + tolerance);
  });
});

describe('on a clearly worse candidate the compare judge fails almost always', () => {
  /** 3% of the candidate's requests 200 ms slower, the rest as the baseline's */
  const slowTail = (uniform: () => number): Pair => [
    samples(logNormal(uniform, 1000, 100, 0.3).map((value) => (uniform() < 0.03 ? value + 200 : value))),
    samples(logNormal(uniform, 1000, 100, 0.3)),
  ];
  const slower = (uniform: () => number): Pair => [samples(logNormal(uniform, 200, 150, 0.5)), samples(logNormal(uniform, 200, 100, 0.5))];

  it.each([
    ['mannWhitney', '+50% latency', slower],
    ['ks', '+50% latency', slower],
    ['twoProportion', '20% against 1% errors', (uniform: () => number): Pair => [counts(binomialCount(uniform, 500, 0.2), 500), counts(binomialCount(uniform, 500, 0.01), 500)]],
    ['tail', '3% of requests +200 ms', slowTail],
  ] as const)('%s catches %s', (test, _what, pair) => {
    expect(failedShare(spec(test), 100, 13, pair).failed).toBeGreaterThanOrEqual(0.97);
  });

  it('Mann-Whitney does not catch the tail-only slowdown that the tail test catches', () => {
    const slowTailOnly = (uniform: () => number): Pair => [
      samples(logNormal(uniform, 1000, 100, 0.3).map((value) => (uniform() < 0.03 ? value + 200 : value))),
      samples(logNormal(uniform, 1000, 100, 0.3)),
    ];
    const byMannWhitney = failedShare(spec('mannWhitney'), 100, 17, slowTailOnly).failed;
    const byTail = failedShare(spec('tail'), 100, 17, slowTailOnly).failed;
    expect(byMannWhitney).toBeLessThanOrEqual(0.05);
    expect(byTail).toBeGreaterThanOrEqual(0.97);
  });
});
