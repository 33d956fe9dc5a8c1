/** The input checks: every bad input is a PromoteError that names the sample and the position. */
import { describe, expect, it } from 'vitest';
import { PromoteError } from '../../errors.js';
import { isConstant, requireAlternative, requireFiniteSample, requireLevel, sortedCopy, StatsInputError } from './input.js';

describe('input checks', () => {
  it('names the sample and the position of a value that is not finite', () => {
    expect(() => requireFiniteSample([1, 2, NaN], 'candidate')).toThrow('candidate[2] is NaN: samples must be finite numbers');
    expect(() => requireFiniteSample([Infinity], 'x')).toThrow('x[0] is Infinity');
    expect(() => requireFiniteSample([1, -Infinity], 'y')).toThrow('y[1] is -Infinity');
  });

  it('refuses an empty sample with a PromoteError', () => {
    const attempt = () => requireFiniteSample([], 'baseline');
    expect(attempt).toThrow(StatsInputError);
    expect(attempt).toThrow(PromoteError);
    expect(attempt).toThrow('baseline is empty: a test needs at least one value');
  });

  it('accepts levels strictly between 0 and 1 only', () => {
    expect(() => requireLevel(0.95, 'confLevel')).not.toThrow();
    for (const bad of [0, 1, -0.1, 1.5, NaN]) expect(() => requireLevel(bad, 'confLevel')).toThrow('confLevel must be between 0 and 1');
  });

  it('knows the three alternatives', () => {
    expect(() => requireAlternative('greater')).not.toThrow();
    expect(() => requireAlternative('bigger')).toThrow('alternative must be one of two.sided, less, greater, got "bigger"');
  });

  it('sorts numerically without touching the input', () => {
    const values = [10, 9, 100, -1];
    expect(Array.from(sortedCopy(values))).toEqual([-1, 9, 10, 100]);
    expect(values).toEqual([10, 9, 100, -1]);
    expect(isConstant([3, 3, 3])).toBe(true);
    expect(isConstant([3, 3, 4])).toBe(false);
  });
});
