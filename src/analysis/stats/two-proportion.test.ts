/** The two-proportion test against R's prop.test vectors (to 1e-6), its correction rule and where R gives NaN. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { twoProportion } from './two-proportion.js';
import { expectCloseToR, rVectors } from './vectors/r-vectors.js';

describe('twoProportion against R prop.test(correct = TRUE)', () => {
  it.each(rVectors.twoProportion.map((vector) => [vector.name, vector] as const))('%s', (_name, vector) => {
    const [events1, events2] = vector.events;
    const [total1, total2] = vector.totals;
    const result = twoProportion(events1, total1, events2, total2, { alternative: vector.alternative, confLevel: vector.confLevel, correct: vector.correct });
    expectCloseToR(result.statistic, vector.statistic, 'X-squared');
    expectCloseToR(result.pValue, vector.pValue, 'p-value');
    expectCloseToR(result.confInt[0], vector.confInt[0], 'lower bound');
    expectCloseToR(result.confInt[1], vector.confInt[1], 'upper bound');
    expectCloseToR(result.estimate[0], vector.estimate[0], 'rate 1');
    expectCloseToR(result.estimate[1], vector.estimate[1], 'rate 2');
  });
});

describe('twoProportion rules', () => {
  it('reduces the continuity correction to the difference, and turns it off at equal rates', () => {
    expect(twoProportion(12, 100, 5, 100).correction).toBe(0.5);
    expect(twoProportion(10, 100, 10, 101).correction).toBeCloseTo(0.0497512437810945, 12);
    expect(twoProportion(10, 100, 20, 200).correction).toBe(0);
    expect(twoProportion(12, 100, 5, 100, { correct: false }).correction).toBe(0);
  });

  it('no events in either version: X-squared 0 and p-value 1 where R gives NaN', () => {
    expect(twoProportion(0, 100, 0, 50)).toMatchObject({ statistic: 0, pValue: 1, confInt: [0, 0], estimate: [0, 0], difference: 0 });
    expect(twoProportion(0, 100, 0, 50, { alternative: 'greater' })).toMatchObject({ statistic: 0, pValue: 0.5, confInt: [0, 1] });
    expect(twoProportion(7, 7, 3, 3)).toMatchObject({ statistic: 0, pValue: 1, estimate: [1, 1] });
  });

  it('refuses counts that are not counts', () => {
    expect(() => twoProportion(1, 0, 1, 10)).toThrow('total1 must be a whole number above 0, got 0');
    expect(() => twoProportion(11, 10, 1, 10)).toThrow('events1 must be a whole number from 0 to total1 (10), got 11');
    expect(() => twoProportion(1, 10, -1, 10)).toThrow('events2 must be a whole number from 0 to total2 (10), got -1');
    expect(() => twoProportion(1, 10, NaN, 10)).toThrow('got NaN');
    expect(() => twoProportion(1.5, 10, 1, 10)).toThrow('got 1.5');
    expect(() => twoProportion(1, Infinity, 1, 10)).toThrow('got Infinity');
  });

  it('keeps p-values in [0, 1] (one-sided: half the two-sided), the interval around the difference, and mirrors when the versions swap', () => {
    const counts = fc.integer({ min: 1, max: 5000 }).chain((total) => fc.tuple(fc.integer({ min: 0, max: total }), fc.constant(total)));
    fc.assert(
      fc.property(counts, counts, fc.double({ min: 0.5, max: 0.999, noNaN: true }), ([events1, total1], [events2, total2], confLevel) => {
        const forward = twoProportion(events1, total1, events2, total2, { confLevel });
        const backward = twoProportion(events2, total2, events1, total1, { confLevel });
        expect(forward.pValue).toBeGreaterThanOrEqual(0);
        expect(forward.pValue).toBeLessThanOrEqual(1);
        expect(forward.confInt[0]).toBeLessThanOrEqual(forward.difference);
        expect(forward.confInt[1]).toBeGreaterThanOrEqual(forward.difference);
        expect(backward.pValue).toBeCloseTo(forward.pValue, 12);
        expect(backward.confInt[0]).toBeCloseTo(-forward.confInt[1], 12);
        const greater = twoProportion(events1, total1, events2, total2, { alternative: 'greater' }).pValue;
        const less = twoProportion(events1, total1, events2, total2, { alternative: 'less' }).pValue;
        expect(Math.min(greater, less)).toBeCloseTo(forward.pValue / 2, 12);
      }),
    );
  });
});
