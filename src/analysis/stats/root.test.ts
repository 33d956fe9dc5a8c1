/** Brent's root finder: smooth functions, step functions (the Mann-Whitney case), infinite values. */
import { describe, expect, it } from 'vitest';
import { findRoot } from './root.js';

describe('findRoot', () => {
  it('finds the root of a smooth function to the tolerance', () => {
    const f = (x: number) => x * x - 2;
    const { root, iterations } = findRoot(f, 0, 2, f(0), f(2), 1e-12);
    expect(Math.abs(root - Math.SQRT2)).toBeLessThan(1e-12);
    expect(iterations).toBeGreaterThan(0);
    expect(iterations).toBeLessThan(15);
  });

  it('returns an end point whose value is exactly 0 without evaluating', () => {
    const never = () => {
      throw new Error('not called');
    };
    expect(findRoot(never, 1, 3, 0, 5, 1e-4)).toEqual({ root: 1, iterations: 0, precision: 0 });
    expect(findRoot(never, 1, 3, -5, 0, 1e-4).root).toBe(3);
  });

  it('stops within the tolerance at the jump of a step function (how the Mann-Whitney bounds are found)', () => {
    const step = (x: number) => (x < 0.3 ? 1 : -1);
    const { root, precision } = findRoot(step, 0, 1, 1, -1, 1e-4);
    expect(Math.abs(root - 0.3)).toBeLessThan(1e-4);
    expect(precision).toBeLessThan(1e-4);
  });

  it('treats infinite and NaN values as the largest finite numbers, keeping their sign', () => {
    const f = (x: number) => (x < 1 ? Infinity : x < 2 ? NaN : -Infinity);
    const { root } = findRoot(f, 0, 3, Infinity, -Infinity, 1e-6);
    expect(root).toBeGreaterThanOrEqual(2 - 1e-6);
    expect(root).toBeLessThanOrEqual(2 + 1e-6);
  });

  it('says when it ran out of iterations', () => {
    const f = (x: number) => Math.exp(x) - 1.5;
    expect(findRoot(f, 0, 1, f(0), f(1), 1e-15, 2).iterations).toBe(-1);
  });
});
