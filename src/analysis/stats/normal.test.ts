/** pnorm and qnorm against R to 1e-13, in both tails, and against each other. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { dnorm, pnorm, qnorm } from './normal.js';
import { rVectors } from './vectors/r-vectors.js';

/** relative difference, or absolute where R's value is 0 */
const relative = (ours: number, theirs: number) => (theirs === 0 ? Math.abs(ours) : Math.abs(ours / theirs - 1));

describe('pnorm', () => {
  it.each(rVectors.pnorm)('agrees with R to 1e-13 relative at x = $x, both tails', ({ x, lower, upper }) => {
    expect(relative(pnorm(x), lower)).toBeLessThan(1e-13);
    expect(relative(pnorm(x, false), upper)).toBeLessThan(1e-13);
  });

  it('keeps the far tails instead of rounding them to 0 or 1', () => {
    expect(pnorm(-30)).toBeGreaterThan(4.9e-198);
    expect(pnorm(9, false)).toBeCloseTo(1.1285884059538e-19, 30);
    expect(pnorm(-Infinity)).toBe(0);
    expect(pnorm(Infinity)).toBe(1);
    expect(pnorm(Infinity, false)).toBe(0);
    expect(pnorm(NaN)).toBeNaN();
  });

  it('is symmetric and its two tails add up to 1', () => {
    fc.assert(
      fc.property(fc.double({ min: -40, max: 40, noNaN: true }), (x) => {
        expect(pnorm(x)).toBe(pnorm(-x, false));
        expect(Math.abs(pnorm(x) + pnorm(x, false) - 1)).toBeLessThan(1e-15);
      }),
    );
  });

  it('has the density as its slope', () => {
    for (const x of [-3, -1, 0, 0.5, 2, 4]) {
      const h = 1e-5;
      expect((pnorm(x + h) - pnorm(x - h)) / (2 * h)).toBeCloseTo(dnorm(x), 9);
    }
  });
});

describe('qnorm', () => {
  it.each(rVectors.qnorm)('agrees with R to 1e-14 relative at p = $p, both tails', ({ p, lower, upper }) => {
    expect(relative(qnorm(p), lower)).toBeLessThan(1e-14);
    expect(relative(qnorm(p, false), upper)).toBeLessThan(1e-14);
  });

  it('inverts pnorm to 1e-12', () => {
    fc.assert(
      fc.property(fc.double({ min: 1e-300, max: 1, noNaN: true, maxExcluded: true }), (p) => {
        expect(relative(pnorm(qnorm(p)), p)).toBeLessThan(1e-12);
      }),
    );
  });

  it('maps 0 and 1 to the infinities and refuses what is not a probability', () => {
    expect(qnorm(0)).toBe(-Infinity);
    expect(qnorm(1)).toBe(Infinity);
    expect(qnorm(0, false)).toBe(Infinity);
    expect(() => qnorm(1.5)).toThrow('qnorm needs a probability between 0 and 1, got 1.5');
    expect(() => qnorm(NaN)).toThrow('got NaN');
  });
});
