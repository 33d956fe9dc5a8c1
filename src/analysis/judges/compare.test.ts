/** The compare judge, table by table: every test in every direction, allowed and critical changes, no data, constant samples. */
import { describe, expect, it } from 'vitest';
import { ProviderError, type MetricData } from '../types.js';
import { compareJudge } from './compare.js';
import { judge } from './index.js';
import { compareSpec, logNormal, uniformStream } from './test-samples.js';

const spec = compareSpec;
const samples = (values: number[]): MetricData => ({ samples: values, source: {} });
const counts = (events: number, total: number): MetricData => ({ events, total, source: {} });

const baseline = logNormal(uniformStream(1), 400, 100, 0.3);
const same = logNormal(uniformStream(2), 400, 100, 0.3);
const slower = logNormal(uniformStream(3), 400, 150, 0.3);
const faster = logNormal(uniformStream(4), 400, 60, 0.3);
const slightlySlower = logNormal(uniformStream(5), 400, 105, 0.3);
const wider = logNormal(uniformStream(6), 400, 100, 0.6);
const slowTail = logNormal(uniformStream(7), 400, 100, 0.3).map((value, index) => (index % 25 === 0 ? value + 200 : value));

describe('compare judge: every direction for every test', () => {
  it.each([
    // test, candidate, direction, verdict
    ['mannWhitney', slower, 'increase', 'Failed', 'a real increase beyond the allowed +10%'],
    ['mannWhitney', slower, 'decrease', 'Successful', 'a real increase, and only a decrease counts against the candidate'],
    ['mannWhitney', slower, 'either', 'Failed', 'a real increase beyond the allowed ±10%'],
    ['mannWhitney', faster, 'increase', 'Successful', 'a real decrease, and only an increase counts against the candidate'],
    ['mannWhitney', faster, 'decrease', 'Failed', 'a real decrease beyond the allowed -10%'],
    ['mannWhitney', faster, 'either', 'Failed', 'a real decrease beyond the allowed ±10%'],
    ['mannWhitney', same, 'either', 'Successful', 'no real change'],
    ['ks', slower, 'increase', 'Failed', 'a real increase beyond the allowed D 0.1'],
    ['ks', slower, 'decrease', 'Successful', 'no real decrease'],
    ['ks', faster, 'decrease', 'Failed', 'a real decrease beyond the allowed D 0.1'],
    ['ks', wider, 'increase', 'Failed', 'a real increase beyond the allowed D 0.1'],
    ['ks', wider, 'either', 'Failed', 'a real change beyond the allowed D 0.1'],
    ['ks', same, 'either', 'Successful', 'no real change'],
    ['tail', slowTail, 'increase', 'Failed', 'a real increase beyond the allowed +10% at the p99'],
    ['tail', slowTail, 'decrease', 'Successful', 'no real decrease'],
    ['tail', slowTail, 'either', 'Failed', 'a real increase beyond the allowed +10% at the p99'],
    ['tail', faster, 'decrease', 'Failed', 'a real decrease beyond the allowed -10% at the p1'],
    ['tail', same, 'increase', 'Successful', 'no real increase'],
  ] as const)('%s, candidate %#, direction %s: %s', (test, candidate, direction, verdict, conclusion) => {
    const judgement = compareJudge(spec(test, { direction }), samples(candidate), samples(baseline));
    expect(judgement.verdict).toBe(verdict);
    expect(judgement.reason.endsWith(`: ${conclusion}`), judgement.reason).toBe(true);
    expect(judgement.critical).toBeUndefined();
    expect(judgement.statistics).toMatchObject({ judge: 'compare', test, direction, n: { candidate: 400, baseline: 400 } });
  });

  it.each([
    [40, 200, 2, 200, 'increase', 'Failed', 'a real increase beyond the allowed +10 points'],
    [40, 200, 2, 200, 'decrease', 'Successful', 'a real increase, and only a decrease counts against the candidate'],
    [2, 200, 40, 200, 'decrease', 'Failed', 'a real decrease beyond the allowed -10 points'],
    [3, 200, 2, 200, 'either', 'Successful', 'no real change'],
    [14, 200, 2, 200, 'increase', 'Successful', 'a real increase within the allowed +10 points'],
  ] as const)('twoProportion %i/%i against %i/%i, direction %s: %s', (events1, total1, events2, total2, direction, verdict, conclusion) => {
    const judgement = compareJudge(spec('twoProportion', { direction }), counts(events1, total1), counts(events2, total2));
    expect(judgement.verdict).toBe(verdict);
    expect(judgement.reason.endsWith(`: ${conclusion}`), judgement.reason).toBe(true);
  });
});

describe('compare judge: allowed and critical changes', () => {
  it.each([
    // candidate is ~50% slower: allowed, critical -> verdict, critical
    [0.1, undefined, 'Failed', false],
    [0.6, undefined, 'Successful', false],
    [0.1, 0.3, 'Failed', true],
    [0.1, 0.9, 'Failed', false],
    [1.0, 0.3, 'Failed', true],
  ] as const)('allowed %s, critical %s: %s (critical %s)', (allowedChange, criticalChange, verdict, critical) => {
    const judgement = compareJudge(spec('mannWhitney', { allowedChange, ...(criticalChange ? { criticalChange } : {}) }), samples(slower), samples(baseline));
    expect(judgement.verdict).toBe(verdict);
    expect(judgement.critical === true).toBe(critical);
    if (critical) expect(judgement.reason).toMatch(/a real increase of at least the critical \+30%$/);
  });

  it('a real but small change is within the allowance', () => {
    const judgement = compareJudge(spec('mannWhitney', { confidence: 0.9 }), samples(slightlySlower), samples(baseline));
    expect(judgement.statistics.size).toBeLessThan(0.1);
    expect(judgement.verdict).toBe('Successful');
  });

  it('a change under minimumChange, in the metric\'s own units, never fails: neither the shift nor the tail', () => {
    // slower is ~+50 (ms) at the median; slowTail moves the p99 by about +200
    const small = compareJudge(spec('mannWhitney', { minimumChange: 80 }), samples(slower), samples(baseline));
    expect(small.verdict).toBe('Successful');
    expect(small.reason).toMatch(/under the minimum change of 80 that counts$/);
    expect(compareJudge(spec('mannWhitney', { minimumChange: 20 }), samples(slower), samples(baseline)).verdict).toBe('Failed');
    const tail = compareJudge(spec('tail', { minimumChange: 20 }), samples(slowTail), samples(baseline));
    expect(tail.verdict).toBe('Failed');
    expect(compareJudge(spec('tail', { minimumChange: 1_000 }), samples(slowTail), samples(baseline)).verdict).toBe('Successful');
    expect(tail.statistics.minimumChange).toBe(20);
  });

  it('critical rates: 20% against 1% errors reaches a critical change of 15 points', () => {
    const judgement = compareJudge(spec('twoProportion', { criticalChange: 0.15 }), counts(40, 200), counts(2, 200));
    expect(judgement).toMatchObject({ verdict: 'Failed', critical: true });
    expect(judgement.reason).toBe(
      'two proportions: candidate 20% (40/200) against baseline 1% (2/200), +19 points (interval +11.72..+26.28 at 98%, p 1.6e-9): a real increase of at least the critical +15 points',
    );
  });
});

describe('compare judge: what it records and says', () => {
  it('Mann-Whitney: shift, relative effect, interval, test numbers and medians', () => {
    const judgement = compareJudge(spec('mannWhitney'), samples(slower), samples(baseline));
    expect(judgement.reason).toMatch(/^Mann-Whitney: candidate \+\d+(\.\d+)? \(\+\d+(\.\d+)?%\) against the baseline median \d+(\.\d+)? \(interval \+[\d.]+\.\.\+[\d.]+ at 98%, p [\d.e-]+\): a real increase beyond the allowed \+10%$/);
    const statistics = judgement.statistics as { interval: [number, number]; estimate: number; effect: number; pValue: number; baseline: { median: number } };
    expect(statistics).toMatchObject({ test: 'mannWhitney', real: 'increase', confidence: 0.98, allowedChange: 0.1 });
    expect(statistics.interval[0]).toBeLessThan(statistics.estimate);
    expect(statistics.effect).toBeCloseTo(statistics.estimate / statistics.baseline.median, 12);
    expect(statistics.pValue).toBeLessThan(1e-10);
  });

  it('keeps every number JSON can carry: a zero baseline median makes the effect null, not Infinity', () => {
    const zeroes = [...Array<number>(40).fill(0), ...Array.from({ length: 20 }, (_, index) => index + 1)];
    const judgement = compareJudge(spec('mannWhitney'), samples(zeroes.map((value) => value + 5)), samples(zeroes));
    expect(judgement.verdict).toBe('Failed');
    expect(judgement.statistics).toMatchObject({ effect: null, size: null });
    expect(judgement.reason).toContain('(+∞%)');
    expect(JSON.parse(JSON.stringify(judgement.statistics))).toEqual(judgement.statistics);
  });
});

describe('compare judge: no data, never a failure', () => {
  it.each([
    ['mannWhitney', samples(slower), undefined, 'no baseline measurement to compare with'],
    ['mannWhitney', { source: {} }, samples(baseline), 'no samples from the candidate'],
    ['ks', samples(slower), { source: {} }, 'no samples from the baseline'],
    ['tail', samples(slower.slice(0, 12)), samples(baseline), 'too little data: candidate 12 samples, 50 needed per version'],
    ['mannWhitney', samples(slower.slice(0, 12)), samples(baseline.slice(0, 30)), 'too little data: candidate 12 samples, baseline 30 samples, 50 needed per version'],
    ['twoProportion', counts(1, 12), counts(0, 900), 'too little data: candidate 12 counted, 50 needed per version'],
    ['twoProportion', counts(0, 0), counts(0, 0), 'too little data: candidate 0 counted, baseline 0 counted, 50 needed per version'],
    ['twoProportion', samples(slower), counts(0, 900), 'no counts (events and total) from the candidate'],
  ] as const)('%s: %s', (test, candidate, baselineData, reason) => {
    expect(compareJudge(spec(test), candidate, baselineData)).toMatchObject({ verdict: 'NoData', reason });
  });

  it('leaves NaN samples out (no data at that step), records how many, and counts only the rest', () => {
    const gappy = [...slower.slice(0, 45), NaN, NaN, NaN, NaN, NaN, NaN];
    expect(compareJudge(spec('mannWhitney'), samples(gappy), samples(baseline))).toMatchObject({
      verdict: 'NoData',
      reason: 'too little data: candidate 45 samples, 50 needed per version',
      statistics: { droppedNaN: { candidate: 6, baseline: 0 } },
    });
    const enough = compareJudge(spec('mannWhitney'), samples([...slower, NaN]), samples(baseline));
    expect(enough).toMatchObject({ verdict: 'Failed', statistics: { droppedNaN: { candidate: 1, baseline: 0 } } });
  });

  it('throws a ProviderError for data no provider should send (the runner records an Error)', () => {
    expect(() => compareJudge(spec('ks'), samples([...slower, Infinity]), samples(baseline))).toThrow(ProviderError);
    expect(() => compareJudge(spec('twoProportion'), counts(5, 4), counts(1, 100))).toThrow("the candidate's events are 5");
  });
});

describe('compare judge: constant samples', () => {
  it.each(['mannWhitney', 'ks', 'tail'] as const)('%s: equal constants are no change, different constants are Inconclusive', (test) => {
    const fifty = (value: number) => Array<number>(60).fill(value);
    expect(compareJudge(spec(test, { direction: 'either' }), samples(fifty(7)), samples(fifty(7))).verdict).toBe('Successful');
    const stuck = compareJudge(spec(test), samples(fifty(9)), samples(fifty(7)));
    expect(stuck).toMatchObject({ verdict: 'Inconclusive', statistics: { candidate: { constant: 9 }, baseline: { constant: 7 } } });
    expect(stuck.reason).toBe(`every candidate sample is 9 and every baseline sample 7: constant samples leave a ${test} test nothing to weigh (a stuck metric?)`);
  });

  it('one constant sample against a varying one is judged normally', () => {
    expect(compareJudge(spec('mannWhitney'), samples(Array<number>(60).fill(400)), samples(baseline)).verdict).toBe('Failed');
  });
});

describe('judge()', () => {
  it('runs the compare judge for compare specs', () => {
    expect(judge(spec('twoProportion'), counts(40, 200), counts(2, 200)).verdict).toBe('Failed');
  });
});
