/**
 * Brent's root finder (Brent 1973, "Algorithms for Minimization without Derivatives", ch. 4; the
 * zeroin of Forsythe, Malcolm and Moler): bisection made faster by secant and inverse quadratic
 * steps, never slower than bisection. This is the method behind R's `uniroot`, and we take the same
 * steps in the same order with the same tolerances on purpose: the asymptotic Mann-Whitney interval
 * is the root of a step function, and where inside the step the search stops (within `tolerance`)
 * depends on the path. Taking R's path is what lets the interval agree with R to 1e-6 rather than
 * to R's tolerance of 1e-4.
 */

export interface RootSearch {
  root: number;
  /** function evaluations after the two end points; -1 when `maxIterations` ran out */
  iterations: number;
  /** width of the last bracket */
  precision: number;
}

/** A function value the search can compare: infinities and NaN become the largest finite numbers. */
function finite(value: number): number {
  if (Number.isNaN(value) || value === Infinity) return Number.MAX_VALUE;
  if (value === -Infinity) return -Number.MAX_VALUE;
  return value;
}

/**
 * Finds x in [lower, upper] with f(x) = 0, given f(lower) and f(upper) of opposite signs (or one of
 * them zero). Stops when the bracket is narrower than about `tolerance`.
 */
export function findRoot(
  f: (x: number) => number,
  lower: number,
  upper: number,
  valueAtLower: number,
  valueAtUpper: number,
  tolerance: number,
  maxIterations = 1000,
): RootSearch {
  // b: the best estimate; c: the other end of the bracket; a: the previous b
  let a = lower;
  let b = upper;
  let fa = finite(valueAtLower);
  let fb = finite(valueAtUpper);
  let c = a;
  let fc = fa;
  if (fa === 0) return { root: a, iterations: 0, precision: 0 };
  if (fb === 0) return { root: b, iterations: 0, precision: 0 };

  for (let remaining = maxIterations + 1; remaining > 0; remaining--) {
    const previousStep = b - a;
    if (Math.abs(fc) < Math.abs(fb)) {
      // keep b the end closest to the root
      a = b;
      b = c;
      c = a;
      fa = fb;
      fb = fc;
      fc = fa;
    }
    const actualTolerance = 2 * Number.EPSILON * Math.abs(b) + tolerance / 2;
    let step = (c - b) / 2;
    if (Math.abs(step) <= actualTolerance || fb === 0) {
      return { root: b, iterations: maxIterations + 1 - remaining, precision: Math.abs(c - b) };
    }

    if (Math.abs(previousStep) >= actualTolerance && Math.abs(fa) > Math.abs(fb)) {
      // try interpolation: secant with two distinct points, inverse quadratic with three
      const towardsC = c - b;
      let p: number;
      let q: number;
      if (a === c) {
        const ratio = fb / fa;
        p = towardsC * ratio;
        q = 1.0 - ratio;
      } else {
        const qa = fa / fc;
        const rb = fb / fc;
        const sb = fb / fa;
        p = sb * (towardsC * qa * (qa - rb) - (b - a) * (rb - 1.0));
        q = (qa - 1.0) * (rb - 1.0) * (sb - 1.0);
      }
      if (p > 0) q = -q;
      else p = -p;
      // accept the interpolation only if it lands inside the bracket and shrinks fast enough
      if (p < 0.75 * towardsC * q - Math.abs(actualTolerance * q) / 2 && p < Math.abs((previousStep * q) / 2)) {
        step = p / q;
      }
    }
    if (Math.abs(step) < actualTolerance) step = step > 0 ? actualTolerance : -actualTolerance;

    a = b;
    fa = fb;
    b += step;
    fb = finite(f(b));
    if ((fb > 0 && fc > 0) || (fb < 0 && fc < 0)) {
      c = a;
      fc = fa;
    }
  }
  return { root: b, iterations: -1, precision: Math.abs(c - b) };
}
