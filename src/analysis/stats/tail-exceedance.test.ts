/** The tail exceedance test against R (quantile, phyper, binom.test), its edge cases, and its calibration next to the binomial test's. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { binomialUpperTail } from './discrete.js';
import { tailExceedance } from './tail-exceedance.js';
import { expectCloseToR, lehmer, rVectors } from './vectors/r-vectors.js';

describe('tailExceedance against R (quantile type 7, phyper, binom.test)', () => {
  it.each(rVectors.tail.map((vector) => [vector.name, vector] as const))('%s', (_name, vector) => {
    const result = tailExceedance(vector.candidate, vector.baseline, { quantile: vector.quantile, confLevel: vector.confLevel });
    expectCloseToR(result.threshold, vector.threshold, 'threshold');
    expect(result.exceedances).toBe(vector.exceedances);
    expectCloseToR(result.pValue, vector.pValue, 'p-value');
    expectCloseToR(result.confInt[0], vector.confInt[0], 'lower bound');
    expect(result.confInt[1]).toBe(1);
    expect(result.observedShare).toBe(vector.exceedances / vector.candidate.length);
    expect(result.expectedShare).toBeCloseTo(1 - vector.quantile, 15);
  });
});

describe('tailExceedance edge cases', () => {
  it('identical samples: no more exceedances than expected', () => {
    const sample = lehmer({ seed: 99, n: 400, offset: 10, scale: 100 });
    const result = tailExceedance(sample, sample, { quantile: 0.99 });
    expect(result.exceedances).toBeLessThanOrEqual(4);
    expect(result.pValue).toBeGreaterThan(0.5);
  });

  it('constant samples: equal ones have no exceedance (p 1), a constant above the baseline is a certain change', () => {
    expect(tailExceedance([5, 5, 5], [5, 5, 5, 5])).toMatchObject({ threshold: 5, exceedances: 0, pValue: 1, confInt: [0, 1] });
    const above = tailExceedance(Array<number>(50).fill(9), Array<number>(50).fill(5));
    expect(above.exceedances).toBe(50);
    expect(above.pValue).toBeLessThan(1e-20);
  });

  it('one value each', () => {
    expect(tailExceedance([2], [1])).toMatchObject({ threshold: 1, exceedances: 1, pValue: 0.5 });
    expect(tailExceedance([1], [2])).toMatchObject({ exceedances: 0, pValue: 1 });
  });

  it('refuses empty samples, values that are not finite and quantiles outside (0, 1)', () => {
    expect(() => tailExceedance([], [1])).toThrow('candidate is empty');
    expect(() => tailExceedance([1], [1, NaN])).toThrow('baseline[1] is NaN');
    expect(() => tailExceedance([1], [1], { quantile: 1 })).toThrow('quantile must be between 0 and 1');
  });
});

describe('tailExceedance keeps its promise where the binomial test does not', () => {
  it('on identical distributions it rejects at most about 1 - confidence of the time, the binomial test far more', () => {
    let exactRejections = 0;
    let binomialRejections = 0;
    const runs = 300;
    for (let run = 0; run < runs; run++) {
      const candidate = lehmer({ seed: 1000 + run, n: 300, offset: 100, scale: 50 });
      const baseline = lehmer({ seed: 50_000 + run, n: 300, offset: 100, scale: 50 });
      const result = tailExceedance(candidate, baseline, { quantile: 0.99 });
      if (result.pValue < 0.05) exactRejections++;
      if (binomialUpperTail(result.exceedances, 300, 0.01) < 0.05) binomialRejections++;
    }
    expect(exactRejections / runs).toBeLessThan(0.05 + 0.02);
    expect(binomialRejections / runs).toBeGreaterThan(2 * (exactRejections / runs));
  });

  it('p-values lie in [0, 1], the bound stays below the observed share, and a value above the threshold counts', () => {
    const sample = fc.array(fc.integer({ min: 0, max: 1000 }), { minLength: 1, maxLength: 80 });
    fc.assert(
      fc.property(sample, sample, fc.double({ min: 0.51, max: 0.999, noNaN: true }), (candidate, baseline, quantile) => {
        const result = tailExceedance(candidate, baseline, { quantile });
        expect(result.pValue).toBeGreaterThanOrEqual(0);
        expect(result.pValue).toBeLessThanOrEqual(1);
        expect(result.confInt[0]).toBeLessThanOrEqual(result.observedShare);
        const worse = tailExceedance([...candidate, result.threshold + 1], baseline, { quantile });
        expect(worse.exceedances).toBe(result.exceedances + 1);
      }),
    );
  });
});
