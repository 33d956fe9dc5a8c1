/** Hypergeometric and binomial tails and the Clopper-Pearson bound against R. */
import { describe, expect, it } from 'vitest';
import { binomialLowerBound, binomialUpperTail, hypergeometricUpperTail } from './discrete.js';
import { rVectors } from './vectors/r-vectors.js';

const relative = (ours: number, theirs: number) => (theirs === 0 ? Math.abs(ours) : Math.abs(ours / theirs - 1));

describe('hypergeometricUpperTail against R phyper(lower.tail = FALSE)', () => {
  it.each(rVectors.hypergeometric)('P(H >= $atLeast) drawing $draws of $marked marked and $unmarked unmarked', ({ atLeast, marked, unmarked, draws, upperTail }) => {
    expect(relative(hypergeometricUpperTail(atLeast, marked, unmarked, draws), upperTail)).toBeLessThan(1e-10);
  });

  it('refuses impossible draws', () => {
    expect(() => hypergeometricUpperTail(1, 2, 2, 5)).toThrow('cannot draw 5 of 4 items');
    expect(() => hypergeometricUpperTail(1, -2, 2, 1)).toThrow('marked must be a whole number of at least 0, got -2');
  });
});

describe('binomial tail and Clopper-Pearson bound against R pbinom and binom.test', () => {
  it.each(rVectors.binomial)('$atLeast of $trials at $probability', ({ atLeast, trials, probability, upperTail, confLevel, lowerBound }) => {
    expect(relative(binomialUpperTail(atLeast, trials, probability), upperTail)).toBeLessThan(1e-10);
    expect(relative(binomialLowerBound(atLeast, trials, confLevel), lowerBound)).toBeLessThan(1e-9);
  });

  it('handles the certain and the impossible', () => {
    expect(binomialUpperTail(3, 10, 0)).toBe(0);
    expect(binomialUpperTail(3, 10, 1)).toBe(1);
    expect(binomialUpperTail(11, 10, 0.5)).toBe(0);
    expect(() => binomialUpperTail(1, 10, 1.5)).toThrow('probability must be between 0 and 1, got 1.5');
    expect(() => binomialLowerBound(11, 10, 0.95)).toThrow('successes (11) cannot exceed trials (10)');
  });
});
