/** The KS test against R's ks.test vectors (to 1e-6), the Kolmogorov distribution, constant samples. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { kolmogorovUpperTail, ksTest } from './kolmogorov-smirnov.js';
import { expectCloseToR, rVectors } from './vectors/r-vectors.js';

describe('ksTest against R ks.test(exact = FALSE)', () => {
  it.each(rVectors.ks.map((vector) => [vector.name, vector] as const))('%s', (_name, vector) => {
    const result = ksTest(vector.x, vector.y, { alternative: vector.alternative });
    expectCloseToR(result.statistic, vector.statistic, 'D');
    expectCloseToR(result.pValue, vector.pValue, 'p-value');
  });
});

describe('the Kolmogorov distribution', () => {
  it('has the known upper quantiles (1.3581 at 5%, 1.6276 at 1%) and joins its two series at t = 1', () => {
    expect(kolmogorovUpperTail(1.3580986393225505)).toBeCloseTo(0.05, 9);
    expect(kolmogorovUpperTail(1.627623611518903)).toBeCloseTo(0.01, 9);
    expect(Math.abs(kolmogorovUpperTail(1 - 1e-12, 1e-16) - kolmogorovUpperTail(1))).toBeLessThan(1e-11);
    // R's tolerance keeps one term of the theta series below t = 1: off by at most 4e-5 there
    expect(Math.abs(kolmogorovUpperTail(1 - 1e-12) - kolmogorovUpperTail(1))).toBeLessThan(4e-5);
    expect(kolmogorovUpperTail(0)).toBe(1);
    expect(kolmogorovUpperTail(0.1)).toBe(1);
    expect(kolmogorovUpperTail(10)).toBeLessThan(1e-80);
  });
});

describe('ksTest edge cases', () => {
  it('identical and equal constant samples: D 0, p-value 1', () => {
    expect(ksTest([3, 1, 2], [2, 3, 1])).toMatchObject({ statistic: 0, pValue: 1 });
    expect(ksTest([5, 5], [5, 5, 5], { alternative: 'less' })).toMatchObject({ statistic: 0, pValue: 1 });
  });

  it('different constant samples are as far apart as distributions get: D 1', () => {
    expect(ksTest([1, 1, 1], [2, 2, 2, 2]).statistic).toBe(1);
    expect(ksTest([1, 1, 1], [2, 2, 2, 2], { alternative: 'less' }).statistic).toBe(0);
    expect(ksTest([1, 1, 1], [2, 2, 2, 2], { alternative: 'greater' }).statistic).toBe(1);
  });

  it('refuses empty samples and values that are not finite', () => {
    expect(() => ksTest([], [1])).toThrow('x is empty');
    expect(() => ksTest([1], [2, -Infinity])).toThrow('y[1] is -Infinity');
  });
});

describe('ksTest properties', () => {
  const sample = fc.array(fc.integer({ min: -50, max: 50 }), { minLength: 1, maxLength: 60 });
  it('D is the larger of the one-sided gaps, swapping the samples swaps them, p-values lie in [0, 1]', () => {
    fc.assert(
      fc.property(sample, sample, (x, y) => {
        const two = ksTest(x, y);
        const greater = ksTest(x, y, { alternative: 'greater' });
        const less = ksTest(x, y, { alternative: 'less' });
        expect(two.statistic).toBe(Math.max(greater.statistic, less.statistic));
        expect(ksTest(y, x, { alternative: 'greater' }).statistic).toBe(less.statistic);
        for (const { pValue } of [two, greater, less]) {
          expect(pValue).toBeGreaterThanOrEqual(0);
          expect(pValue).toBeLessThanOrEqual(1);
        }
        expect(two.pValue).toBeGreaterThanOrEqual(Math.min(greater.pValue, less.pValue) - 1e-12);
      }),
    );
  });
});
