/**
 * The Mann-Whitney U test (Wilcoxon rank sum test) of two independent samples, with the confidence
 * interval and estimate of the location shift x - y: the numbers R's
 *   wilcox.test(x, y, conf.int = TRUE, exact = FALSE, correct = TRUE, conf.level = ...)
 * prints, which is what Kayenta's judge uses and what people check a canary verdict against.
 *
 * - W is the rank sum of x minus nx(nx+1)/2; ties get their average rank.
 * - The p-value is the normal approximation with R's tie correction of the variance and, by default,
 *   the continuity correction of 0.5 towards the null.
 * - The interval and the estimate follow R's asymptotic method: the standardized statistic of
 *   x - d against y, z(d), falls as the shift d grows; the interval ends are the d where z(d) crosses
 *   the normal quantiles (with the continuity correction), the estimate is where the uncorrected z(d)
 *   crosses 0. Like R we search d between min(x) - max(y) and max(x) - min(y) with Brent's method
 *   (./root.ts), R's tolerance of 1e-4 by default, and R's order of steps, so the ends agree with R's
 *   well beyond that tolerance. Where z(d) is already past the quantile at an end of that range, the
 *   end itself is returned, as R does.
 *
 * Large samples: no pairwise difference is ever formed. Each z(d) merges the sorted x - d with the
 *   sorted y in O(nx + ny), and a search takes a few dozen of them, so 5,000 x 5,000 samples cost a
 *   few hundred thousand steps and O(nx + ny) memory, where the 25 million differences would not fit
 *   a judge's budget. (The estimate is therefore R's asymptotic one, within the root tolerance of the
 *   median of the pairwise differences, not that median computed exactly.)
 *
 * Where R gives up, we answer (R's behaviour in brackets):
 * - every value of x - mu and y tied (identical constant samples): p-value 1 and z 0 (R: NaN);
 * - both samples constant: the shift is known exactly, so interval and estimate are both a - b, and
 *   `bothConstant` is set so a judge can say the test had nothing to rank (R: an error);
 * - empty samples, NaN or infinite values: a StatsInputError naming the position (R drops NA).
 * Samples of length 1 work as in R as long as one of the two samples varies.
 */
import { isConstant, requireAlternative, requireFiniteSample, requireLevel, sortedCopy, StatsInputError, type Alternative } from './input.js';
import { pnorm, qnorm } from './normal.js';
import { findRoot } from './root.js';

export interface MannWhitneyOptions {
  alternative?: Alternative;
  /** confidence level of the interval; R's default 0.95 */
  confLevel?: number;
  /** continuity correction of the p-value and the interval (not of the estimate, as in R) */
  correct?: boolean;
  /** the shift tested by the p-value */
  mu?: number;
  /** absolute tolerance of the root searches; R's tol.root, 1e-4 */
  rootTolerance?: number;
}

export interface MannWhitneyResult {
  /** W: the rank sum of x - mu less its minimum */
  statistic: number;
  pValue: number;
  /** interval of the shift x - y; -Infinity / Infinity on the open side of a one-sided test */
  confInt: [number, number];
  confLevel: number;
  /** estimate of the shift x - y (R's "difference in location") */
  estimate: number;
  alternative: Alternative;
  sizes: [number, number];
  /** both samples are constant: nothing to rank, the shift is just the difference of the constants */
  bothConstant: boolean;
}

/** Ranks of x shifted by `shift` among y, as the standardized statistic z of the rank sum. */
class ShiftedRanks {
  private readonly nx: number;
  private readonly ny: number;

  constructor(
    private readonly sortedX: Float64Array,
    private readonly sortedY: Float64Array,
  ) {
    this.nx = sortedX.length;
    this.ny = sortedY.length;
  }

  /** rank sum of x - shift among (x - shift, y), and the tie term sum(t^3 - t) over tied groups */
  rankSum(shift: number): { rankSumX: number; tieSum: number } {
    const { sortedX, sortedY, nx, ny } = this;
    let i = 0;
    let j = 0;
    let nextRank = 1;
    let rankSumX = 0;
    let tieSum = 0;
    while (i < nx || j < ny) {
      const xValue = i < nx ? sortedX[i]! - shift : Infinity;
      const yValue = j < ny ? sortedY[j]! : Infinity;
      const value = Math.min(xValue, yValue);
      let fromX = 0;
      while (i < nx && sortedX[i]! - shift === value) {
        fromX++;
        i++;
      }
      let fromY = 0;
      while (j < ny && sortedY[j] === value) {
        fromY++;
        j++;
      }
      const tied = fromX + fromY;
      rankSumX += (nextRank + (tied - 1) / 2) * fromX;
      tieSum += tied * tied * tied - tied;
      nextRank += tied;
    }
    return { rankSumX, tieSum };
  }

  /** W of x - shift against y */
  statistic(shift: number): number {
    return this.rankSum(shift).rankSumX - (this.nx * (this.nx + 1)) / 2;
  }

  /** the standardized statistic; `correction` is 'none' or the alternative whose correction applies */
  z(shift: number, correction: Alternative | 'none'): number {
    const { nx, ny } = this;
    const { rankSumX, tieSum } = this.rankSum(shift);
    const centred = rankSumX - (nx * (nx + 1)) / 2 - (nx * ny) / 2;
    const sigma = Math.sqrt(((nx * ny) / 12) * (nx + ny + 1 - tieSum / ((nx + ny) * (nx + ny - 1))));
    if (sigma === 0) return 0;
    return (centred - continuityCorrection(correction, centred)) / sigma;
  }
}

function continuityCorrection(correction: Alternative | 'none', centred: number): number {
  switch (correction) {
    case 'none':
      return 0;
    case 'two.sided':
      return Math.sign(centred) * 0.5;
    case 'greater':
      return 0.5;
    case 'less':
      return -0.5;
  }
}

function pValueOfZ(z: number, alternative: Alternative): number {
  switch (alternative) {
    case 'less':
      return pnorm(z);
    case 'greater':
      return pnorm(z, false);
    case 'two.sided':
      return Math.min(1, 2 * Math.min(pnorm(z), pnorm(z, false)));
  }
}

export function mannWhitney(x: readonly number[], y: readonly number[], options: MannWhitneyOptions = {}): MannWhitneyResult {
  const { alternative = 'two.sided', confLevel = 0.95, correct = true, mu = 0, rootTolerance = 1e-4 } = options;
  requireFiniteSample(x, 'x');
  requireFiniteSample(y, 'y');
  requireAlternative(alternative);
  requireLevel(confLevel, 'confLevel');
  if (!Number.isFinite(mu)) throw new StatsInputError(`mu must be a finite number, got ${String(mu)}`);
  if (!(rootTolerance > 0)) throw new StatsInputError(`rootTolerance must be positive, got ${String(rootTolerance)}`);

  const sortedX = sortedCopy(x);
  const sortedY = sortedCopy(y);
  const ranks = new ShiftedRanks(sortedX, sortedY);
  const correction = correct ? alternative : 'none';
  const statistic = ranks.statistic(mu);
  const pValue = pValueOfZ(ranks.z(mu, correction), alternative);
  const base = { statistic, pValue, confLevel, alternative, sizes: [x.length, y.length] as [number, number] };

  const lowestShift = sortedX[0]! - sortedY[sortedY.length - 1]!;
  const highestShift = sortedX[sortedX.length - 1]! - sortedY[0]!;
  if (isConstant(sortedX) && isConstant(sortedY)) {
    return { ...base, confInt: [lowestShift, lowestShift], estimate: lowestShift, bothConstant: true };
  }

  // z falls from zAtLowest > 0 to zAtHighest < 0 as the shift grows (one sample varies, so sigma > 0)
  const zAtLowest = ranks.z(lowestShift, correction);
  const zAtHighest = ranks.z(highestShift, correction);
  const shiftWhereZIs = (quantile: number): number => {
    const atLowest = zAtLowest - quantile;
    if (atLowest <= 0) return lowestShift;
    const atHighest = zAtHighest - quantile;
    if (atHighest >= 0) return highestShift;
    return findRoot((shift) => ranks.z(shift, correction) - quantile, lowestShift, highestShift, atLowest, atHighest, rootTolerance).root;
  };
  const alpha = 1 - confLevel;
  const confInt: [number, number] =
    alternative === 'two.sided'
      ? [shiftWhereZIs(qnorm(alpha / 2, false)), shiftWhereZIs(qnorm(alpha / 2))]
      : alternative === 'greater'
        ? [shiftWhereZIs(qnorm(alpha, false)), Infinity]
        : [-Infinity, shiftWhereZIs(qnorm(alpha))];

  const uncorrected = (shift: number) => ranks.z(shift, 'none');
  const estimate = findRoot(uncorrected, lowestShift, highestShift, uncorrected(lowestShift), uncorrected(highestShift), rootTolerance).root;
  return { ...base, confInt, estimate, bothConstant: false };
}
