/**
 * The standard normal distribution: `pnorm` (cumulative probability) and `qnorm` (its inverse), to
 * about 1e-14 relative over the whole line, tails included, with no dependency.
 *
 * pnorm works on the complementary error function, written in the normal's own variable so that
 * x / sqrt(2) is never rounded: for |x| < 1.5 the positive series
 *   P(0 < Z < x) = phi(x) * (x + x^3/3 + x^5/(3*5) + ...)
 * and beyond it the continued fraction of the upper tail (Laplace's, evaluated with Lentz's method)
 *   P(Z > x) = phi(x) / (x + 1/(x + 2/(x + 3/(x + ...)))).
 * Each side of the distribution is computed on its own, so pnorm(-30) is 4.9e-198, not 0, and
 * pnorm(8, upper) is 6.2e-16, not 1 - 1. The density exp(-x^2/2) is split as
 * exp(-h^2/2) * exp(-(x-h)(x+h)/2) with h = x truncated to 1/16, whose square is exact, so the
 * rounding of x^2 does not cost digits far in the tail.
 *
 * qnorm is Wichura's algorithm AS 241 (PPND16, Applied Statistics 37(3), 1988): three rational
 * approximations (centre, tail, far tail), accurate to about 1e-16. The upper-tail form takes
 * 1 - p as 0.5 - p + 0.5, so qnorm(alpha / 2, false) is exactly what R computes for the same call:
 * the Mann-Whitney interval's root-finding depends on it.
 */
import { StatsInputError } from './input.js';

const inverseSqrtTwoPi = 0.3989422804014327;

/** exp(-x^2 / 2) / sqrt(2 pi), without losing digits to the rounding of x^2 for large |x|. */
export function dnorm(x: number): number {
  const magnitude = Math.abs(x);
  const head = Math.trunc(magnitude * 16) / 16;
  const tail = (magnitude - head) * (magnitude + head);
  return inverseSqrtTwoPi * Math.exp(-head * head * 0.5) * Math.exp(-tail * 0.5);
}

/** P(0 < Z < x) for 0 <= x < seriesLimit, by the series of positive terms x^(2k+1) / (1*3*...*(2k+1)). */
function centralMass(x: number): number {
  const square = x * x;
  let term = x;
  let sum = x;
  for (let k = 1; k < 500 && term > sum * 1e-17; k++) {
    term *= square / (2 * k + 1);
    sum += term;
  }
  return dnorm(x) * sum;
}

/** P(Z > x) for x >= seriesLimit: the Mills-ratio continued fraction by the modified Lentz method. */
function upperTailFraction(x: number): number {
  if (x === Infinity) return 0;
  const tiny = 1e-300;
  // value = x + 1/(x + 2/(x + 3/(x + ...))): b_k = x, a_k = k
  let value = x;
  let c = x;
  let d = 0;
  for (let k = 1; k < 5000; k++) {
    d = x + k * d;
    d = 1 / (Math.abs(d) < tiny ? tiny : d);
    c = x + k / c;
    if (Math.abs(c) < tiny) c = tiny;
    const delta = c * d;
    value *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return dnorm(x) / value;
}

const seriesLimit = 1.5;

/** P(Z > x) for x >= 0. */
function upperTailOfPositive(x: number): number {
  return x < seriesLimit ? 0.5 - centralMass(x) : upperTailFraction(x);
}

/**
 * P(Z <= x) for a standard normal Z, or P(Z > x) with `lowerTail = false`. NaN gives NaN (callers
 * validate their inputs before they get here).
 */
export function pnorm(x: number, lowerTail = true): number {
  if (Number.isNaN(x)) return NaN;
  // reduce to the upper tail of |x|: P(Z <= x) = P(Z > -x)
  const towardsUpper = lowerTail ? -x : x;
  if (towardsUpper >= 0) return upperTailOfPositive(towardsUpper);
  const magnitude = -towardsUpper;
  return magnitude < seriesLimit ? 0.5 + centralMass(magnitude) : 1 - upperTailFraction(magnitude);
}

// AS 241 coefficients, highest degree first (Horner order)
const centreNumerator = [
  2509.0809287301227, 33430.57558358813, 67265.7709270087, 45921.95393154987, 13731.69376550946,
  1971.5909503065513, 133.14166789178438, 3.3871328727963665,
];
const centreDenominator = [
  5226.495278852854, 28729.085735721943, 39307.89580009271, 21213.794301586597, 5394.196021424751,
  687.1870074920579, 42.31333070160091, 1,
];
const tailNumerator = [
  0.0007745450142783414, 0.022723844989269184, 0.2417807251774506, 1.2704582524523684,
  3.6478483247632045, 5.769497221460691, 4.630337846156546, 1.4234371107496835,
];
const tailDenominator = [
  1.0507500716444169e-9, 0.0005475938084995345, 0.015198666563616457, 0.14810397642748008,
  0.6897673349851, 1.6763848301838038, 2.053191626637759, 1,
];
const farTailNumerator = [
  2.0103343992922881e-7, 0.000027115555687434876, 0.0012426609473880784, 0.026532189526576124,
  0.29656057182850487, 1.7848265399172913, 5.463784911164114, 6.657904643501103,
];
const farTailDenominator = [
  2.0442631033899397e-15, 1.421511758316446e-7, 0.000018463183175100548, 0.0007868691311456133,
  0.014875361290850615, 0.1369298809227358, 0.599832206555888, 1,
];

function horner(coefficients: readonly number[], x: number): number {
  let value = 0;
  for (const coefficient of coefficients) value = value * x + coefficient;
  return value;
}

/**
 * The x with P(Z <= x) = p (or P(Z > x) = p with `lowerTail = false`). 0 and 1 give -Infinity and
 * Infinity; a p outside [0, 1] is an error.
 */
export function qnorm(p: number, lowerTail = true): number {
  if (!(p >= 0 && p <= 1)) throw new StatsInputError(`qnorm needs a probability between 0 and 1, got ${String(p)}`);
  if (p === 0) return lowerTail ? -Infinity : Infinity;
  if (p === 1) return lowerTail ? Infinity : -Infinity;
  const lower = lowerTail ? p : 0.5 - p + 0.5;
  const fromCentre = lower - 0.5;
  if (Math.abs(fromCentre) <= 0.425) {
    const r = 0.180625 - fromCentre * fromCentre;
    return (fromCentre * horner(centreNumerator, r)) / horner(centreDenominator, r);
  }
  // the smaller of the two tail probabilities, taken from whichever form holds it unrounded
  const smallerTail = fromCentre > 0 ? (lowerTail ? 0.5 - p + 0.5 : p) : lower;
  let r = Math.sqrt(-Math.log(smallerTail));
  let magnitude: number;
  if (r <= 5) {
    r -= 1.6;
    magnitude = horner(tailNumerator, r) / horner(tailDenominator, r);
  } else {
    r -= 5;
    magnitude = horner(farTailNumerator, r) / horner(farTailDenominator, r);
  }
  return fromCentre < 0 ? -magnitude : magnitude;
}
