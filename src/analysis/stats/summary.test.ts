/** The type-7 quantile, median and mean, as R computes them. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { mean, median, quantile } from './summary.js';

describe('summary numbers', () => {
  it('computes the type-7 quantile as R does', () => {
    // R: quantile(c(1, 2, 3, 4, 10), c(0.5, 0.9, 0.99, 0.25))
    expect(quantile([4, 1, 10, 3, 2], 0.5)).toBe(3);
    expect(quantile([4, 1, 10, 3, 2], 0.9)).toBeCloseTo(7.6, 12);
    expect(quantile([4, 1, 10, 3, 2], 0.99)).toBeCloseTo(9.76, 12);
    expect(quantile([4, 1, 10, 3, 2], 0.25)).toBe(2);
    expect(quantile([7], 0.99)).toBe(7);
    expect(quantile([5, 5, 5, 9], 0.5)).toBe(5);
  });

  it('gives the median and the mean', () => {
    expect(median([3, 1, 2, 10])).toBe(2.5);
    expect(mean([1, 2, 3, 10])).toBe(4);
  });

  it('refuses empty or non-finite samples', () => {
    expect(() => median([], 'baseline')).toThrow('baseline is empty');
    expect(() => mean([1, NaN], 'candidate')).toThrow('candidate[1] is NaN');
    expect(() => quantile([1, 2], 1.5)).toThrow('quantile must be between 0 and 1');
  });

  it('stays between the smallest and largest value', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: -1e6, max: 1e6, noNaN: true }), { minLength: 1, maxLength: 50 }), fc.double({ min: 0, max: 1, noNaN: true }), (values, p) => {
        const q = quantile(values, p);
        expect(q).toBeGreaterThanOrEqual(Math.min(...values));
        expect(q).toBeLessThanOrEqual(Math.max(...values));
      }),
    );
  });
});
