/** Mann-Whitney against R's wilcox.test vectors (to 1e-6), where R gives up, on 5,000 x 5,000 samples, and its symmetries. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { mannWhitney } from './mann-whitney.js';
import { StatsInputError } from './input.js';
import { expectCloseToR, lehmer, rVectors, sampleOf, toNumber } from './vectors/r-vectors.js';

describe('mannWhitney against R wilcox.test(conf.int = TRUE, exact = FALSE)', () => {
  it.each(rVectors.mannWhitney.map((vector) => [vector.name, vector] as const))('%s', (_name, vector) => {
    const result = mannWhitney(sampleOf(vector.x), sampleOf(vector.y), {
      alternative: vector.alternative,
      confLevel: vector.confLevel,
      correct: vector.correct,
      mu: vector.mu,
    });
    expectCloseToR(result.statistic, vector.statistic, 'W');
    expectCloseToR(result.pValue, vector.pValue, 'p-value');
    expectCloseToR(result.confInt[0], toNumber(vector.confInt[0]), 'lower bound');
    expectCloseToR(result.confInt[1], toNumber(vector.confInt[1]), 'upper bound');
    expectCloseToR(result.estimate, vector.estimate, 'estimate');
    expect(result.bothConstant).toBe(false);
  });
});

describe('mannWhitney where R gives NaN or stops', () => {
  it('identical constant samples: p-value 1, shift 0 (R: NaN p-value, error for the interval)', () => {
    const result = mannWhitney([1, 1, 1], [1, 1], { confLevel: 0.98 });
    expect(result).toMatchObject({ statistic: 3, pValue: 1, confInt: [0, 0], estimate: 0, bothConstant: true });
  });

  it('different constant samples: R p-value, the exact shift as interval and estimate (R: error)', () => {
    const result = mannWhitney([2, 2, 2], [1, 1, 1]);
    expectCloseToR(result.pValue, 0.046854177603873753, 'p-value');
    expect(result).toMatchObject({ statistic: 9, confInt: [1, 1], estimate: 1, bothConstant: true });
    expectCloseToR(mannWhitney([2, 2, 2], [1, 1, 1], { alternative: 'greater' }).pValue, 0.023427088801936877, 'one-sided');
  });

  it('one value each is two constant samples', () => {
    expect(mannWhitney([1], [2])).toMatchObject({ statistic: 0, pValue: 1, confInt: [-1, -1], estimate: -1, bothConstant: true });
  });

  it('refuses empty samples and values that are not finite, naming them', () => {
    expect(() => mannWhitney([], [1, 2])).toThrow(StatsInputError);
    expect(() => mannWhitney([], [1, 2])).toThrow('x is empty');
    expect(() => mannWhitney([1, 2], [])).toThrow('y is empty');
    expect(() => mannWhitney([1, 2], [3, 4, NaN])).toThrow('y[2] is NaN');
    expect(() => mannWhitney([Infinity], [3])).toThrow('x[0] is Infinity');
    expect(() => mannWhitney([1], [2], { confLevel: 1 })).toThrow('confLevel must be between 0 and 1');
    expect(() => mannWhitney([1], [2], { mu: NaN })).toThrow('mu must be a finite number');
  });
});

describe('mannWhitney on large samples', () => {
  it('handles 5,000 x 5,000 without the 25 million pairwise differences, and its estimate halves them', () => {
    const x = lehmer({ seed: 4242, n: 5000, offset: 120, scale: 80 });
    const y = lehmer({ seed: 777, n: 5000, offset: 100, scale: 80 });
    const started = performance.now();
    const result = mannWhitney(x, y, { confLevel: 0.98, rootTolerance: 1e-9 });
    expect(performance.now() - started).toBeLessThan(1000);
    // count the differences x - y on each side of the estimate by walking both sorted samples (no n*m array)
    const differencesAbove = (first: number[], second: number[], shift: number) => {
      const sortedFirst = Float64Array.from(first).sort();
      const sortedSecond = Float64Array.from(second).sort();
      let count = 0;
      let j = 0;
      for (const value of sortedFirst) {
        while (j < sortedSecond.length && value - sortedSecond[j]! > shift) j++;
        count += j;
      }
      return count;
    };
    const half = (x.length * y.length) / 2;
    expect(differencesAbove(x, y, result.estimate + 1e-6)).toBeLessThanOrEqual(half);
    expect(differencesAbove(y, x, -(result.estimate - 1e-6))).toBeLessThanOrEqual(half);
    expect(result.confInt[0]).toBeLessThan(result.estimate);
    expect(result.confInt[1]).toBeGreaterThan(result.estimate);
  });
});

const sample = fc.array(fc.integer({ min: -500, max: 500 }).map((value) => value / 8), { minLength: 1, maxLength: 40 });
const notBothConstant = ([x, y]: [number[], number[]]) => new Set(x).size > 1 || new Set(y).size > 1;

describe('mannWhitney properties', () => {
  it('p-values lie in [0, 1] and the two-sided interval holds the estimate', () => {
    fc.assert(
      fc.property(fc.tuple(sample, sample).filter(notBothConstant), fc.double({ min: 0.5, max: 0.999, noNaN: true }), ([x, y], confLevel) => {
        for (const alternative of ['two.sided', 'less', 'greater'] as const) {
          const { pValue } = mannWhitney(x, y, { alternative, confLevel });
          expect(pValue).toBeGreaterThanOrEqual(0);
          expect(pValue).toBeLessThanOrEqual(1);
        }
        const { confInt, estimate } = mannWhitney(x, y, { confLevel, rootTolerance: 1e-9 });
        expect(confInt[0]).toBeLessThanOrEqual(estimate + 1e-9);
        expect(confInt[1]).toBeGreaterThanOrEqual(estimate - 1e-9);
      }),
    );
  });

  it('swapping x and y negates the interval and mirrors W', () => {
    fc.assert(
      fc.property(fc.tuple(sample, sample).filter(notBothConstant), ([x, y]) => {
        const forward = mannWhitney(x, y, { confLevel: 0.95, rootTolerance: 1e-9 });
        const backward = mannWhitney(y, x, { confLevel: 0.95, rootTolerance: 1e-9 });
        expect(Math.abs(backward.confInt[0] + forward.confInt[1])).toBeLessThan(1e-6);
        expect(Math.abs(backward.confInt[1] + forward.confInt[0])).toBeLessThan(1e-6);
        expect(backward.statistic).toBe(x.length * y.length - forward.statistic);
        expect(backward.pValue).toBeCloseTo(forward.pValue, 12);
      }),
    );
  });

  it('adding a constant to x moves the interval by it', () => {
    fc.assert(
      fc.property(fc.tuple(sample, sample).filter(notBothConstant), fc.integer({ min: -100, max: 100 }), ([x, y], shift) => {
        const before = mannWhitney(x, y, { rootTolerance: 1e-9 });
        const after = mannWhitney(x.map((value) => value + shift), y, { rootTolerance: 1e-9, mu: shift });
        expect(after.confInt[0] - shift).toBeCloseTo(before.confInt[0], 5);
        expect(after.confInt[1] - shift).toBeCloseTo(before.confInt[1], 5);
        expect(after.pValue).toBeCloseTo(before.pValue, 9);
      }),
    );
  });
});
