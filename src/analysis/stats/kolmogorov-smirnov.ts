/**
 * The two-sample Kolmogorov-Smirnov test: the largest gap between the two empirical distribution
 * functions, which moves when the spread or a tail changes even if the median does not (what the
 * Mann-Whitney test misses). The numbers are those of R's `ks.test(x, y, exact = FALSE)`:
 * - D = max |Fx - Fy| (two.sided), D^+ = max (Fx - Fy) ("greater": x's distribution function lies
 *   above y's somewhere, x tends to be smaller), D^- = max (Fy - Fx) ("less": x tends to be larger);
 * - ties as in R: the gap is only looked at after the last of a run of equal values, where both
 *   distribution functions have taken the whole run;
 * - the asymptotic p-value with n = nx ny / (nx + ny): for two.sided the Kolmogorov distribution,
 *   P(K > sqrt(n) D) = 2 sum_{k>=1} (-1)^(k-1) exp(-2 k^2 t^2) for t >= 1, and for t < 1, where that
 *   alternating series is slow, 1 - sqrt(2 pi)/t sum_{k odd} exp(-k^2 pi^2 / (8 t^2)) (the same
 *   function as a theta series); for one-sided exp(-2 n D^2).
 * For t >= 1 we sum until the terms stop counting; for t < 1 we keep as many terms as R does at its
 * tolerance of 1e-6 (see kolmogorovUpperTail), so the p-values are R's. D is computed from whole counts, (i ny - j nx) / (nx ny), so
 * identical samples give exactly 0, and p-value 1, as in R.
 *
 * Constant samples need nothing special (two equal constants: D 0, p 1; different ones: D 1).
 * Empty samples and values that are not finite are a StatsInputError naming the position.
 */
import { requireAlternative, requireFiniteSample, sortedCopy, type Alternative } from './input.js';

export interface KsOptions {
  alternative?: Alternative;
}

export interface KsResult {
  /** D, D^+ or D^- by the alternative */
  statistic: number;
  pValue: number;
  alternative: Alternative;
  sizes: [number, number];
}

/**
 * P(K > t) for the Kolmogorov distribution K (the limit of sqrt(n) D under the null). For t < 1 the
 * theta series keeps the odd k below sqrt(2 - log(tolerance)), R's rule: with R's tolerance of 1e-6
 * that is the first term only, which is what R reports (up to 4e-5 below the full sum just under
 * t = 1, where p is about 0.27; no verdict turns on that). A smaller tolerance gives the full sum.
 */
export function kolmogorovUpperTail(t: number, tolerance = 1e-6): number {
  if (!(t > 0)) return 1;
  if (t >= 1) {
    let sum = 0;
    for (let k = 1; k < 100; k++) {
      const term = Math.exp(-2 * k * k * t * t);
      sum += k % 2 === 1 ? term : -term;
      if (term < 1e-17 * sum) break;
    }
    return Math.min(1, Math.max(0, 2 * sum));
  }
  const exponent = -(Math.PI * Math.PI) / (8 * t * t);
  const termsBelow = Math.trunc(Math.sqrt(2 - Math.log(tolerance)));
  let sum = 0;
  for (let k = 1; k < termsBelow; k += 2) sum += Math.exp(k * k * exponent);
  return Math.min(1, Math.max(0, 1 - (Math.sqrt(2 * Math.PI) / t) * sum));
}

/** The largest gaps (Fx - Fy above and below zero) after each run of equal values. */
function largestGaps(sortedX: Float64Array, sortedY: Float64Array): { xAbove: number; yAbove: number } {
  const nx = sortedX.length;
  const ny = sortedY.length;
  let i = 0;
  let j = 0;
  // gaps in units of 1 / (nx ny): Fx - Fy = (i ny - j nx) / (nx ny), exact in whole numbers
  let mostXAbove = 0;
  let mostYAbove = 0;
  while (i < nx || j < ny) {
    const value = Math.min(i < nx ? sortedX[i]! : Infinity, j < ny ? sortedY[j]! : Infinity);
    while (i < nx && sortedX[i] === value) i++;
    while (j < ny && sortedY[j] === value) j++;
    const gap = i * ny - j * nx;
    if (gap > mostXAbove) mostXAbove = gap;
    if (-gap > mostYAbove) mostYAbove = -gap;
  }
  return { xAbove: mostXAbove / (nx * ny), yAbove: mostYAbove / (nx * ny) };
}

export function ksTest(x: readonly number[], y: readonly number[], options: KsOptions = {}): KsResult {
  const { alternative = 'two.sided' } = options;
  requireFiniteSample(x, 'x');
  requireFiniteSample(y, 'y');
  requireAlternative(alternative);
  const { xAbove, yAbove } = largestGaps(sortedCopy(x), sortedCopy(y));
  const statistic = alternative === 'two.sided' ? Math.max(xAbove, yAbove) : alternative === 'greater' ? xAbove : yAbove;
  const n = (x.length * y.length) / (x.length + y.length);
  const pValue = alternative === 'two.sided' ? kolmogorovUpperTail(Math.sqrt(n) * statistic) : Math.exp(-2 * n * statistic * statistic);
  return { statistic, pValue: Math.min(1, Math.max(0, pValue)), alternative, sizes: [x.length, y.length] };
}
