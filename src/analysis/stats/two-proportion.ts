/**
 * The two-sample test for equality of proportions: are the candidate's errors per request more than
 * chance away from the baseline's? The numbers are those of R's
 *   prop.test(c(events1, events2), c(total1, total2), alternative, conf.level, correct = TRUE)
 * - X-squared: Pearson's chi-squared of the 2x2 table against the pooled rate, each cell's
 *   |observed - expected| reduced by Yates' continuity correction;
 * - the p-value: chi-squared with 1 degree of freedom for two.sided (P(chi2 > X) = 2 P(Z > sqrt(X))),
 *   else the normal tail of sign(p1 - p2) * sqrt(X);
 * - the interval of p1 - p2: the Wald interval widened by the correction (1/n1 + 1/n2) / 2,
 *   clipped to [-1, 1];
 * - R's rule for the correction: it is 0.5, but never more than |p1 - p2| / (1/n1 + 1/n2), so that
 *   it cannot move the difference past zero; at equal rates it is off altogether.
 *
 * Where R gives NaN: when neither version had an event (or both had only events) the pooled rate is
 * 0 (or 1), the expected counts of a column are 0 and R's X-squared is 0/0. The observed counts of
 * that column are 0 as well, so we count those cells as 0: X-squared 0, p-value 1 (two.sided) or 0.5
 * (one-sided: z = 0), interval [0, 0]. Counts must be whole numbers with 0 <= events <= total and
 * total > 0; anything else is a StatsInputError.
 */
import { requireAlternative, requireLevel, StatsInputError, type Alternative } from './input.js';
import { pnorm, qnorm } from './normal.js';

export interface TwoProportionOptions {
  alternative?: Alternative;
  confLevel?: number;
  correct?: boolean;
}

export interface TwoProportionResult {
  /** X-squared */
  statistic: number;
  pValue: number;
  /** interval of p1 - p2 */
  confInt: [number, number];
  confLevel: number;
  /** the two rates, events / total */
  estimate: [number, number];
  /** p1 - p2 */
  difference: number;
  /** the continuity correction applied (0 when it was turned off) */
  correction: number;
  alternative: Alternative;
}

function requireCounts(events: number, total: number, which: string): void {
  if (!Number.isInteger(total) || total <= 0) throw new StatsInputError(`total${which} must be a whole number above 0, got ${String(total)}`);
  if (!Number.isInteger(events) || events < 0 || events > total) {
    throw new StatsInputError(`events${which} must be a whole number from 0 to total${which} (${total}), got ${String(events)}`);
  }
}

export function twoProportion(events1: number, total1: number, events2: number, total2: number, options: TwoProportionOptions = {}): TwoProportionResult {
  const { alternative = 'two.sided', confLevel = 0.95, correct = true } = options;
  requireCounts(events1, total1, '1');
  requireCounts(events2, total2, '2');
  requireAlternative(alternative);
  requireLevel(confLevel, 'confLevel');

  const rate1 = events1 / total1;
  const rate2 = events2 / total2;
  const difference = rate1 - rate2;
  const inverseSizes = 1 / total1 + 1 / total2;
  const correction = Math.min(correct ? 0.5 : 0, Math.abs(difference) / inverseSizes);

  const z = alternative === 'two.sided' ? qnorm((1 + confLevel) / 2) : qnorm(confLevel);
  const width = z * Math.sqrt((rate1 * (1 - rate1)) / total1 + (rate2 * (1 - rate2)) / total2) + correction * inverseSizes;
  const lower = Math.max(difference - width, -1);
  const upper = Math.min(difference + width, 1);
  const confInt: [number, number] = alternative === 'two.sided' ? [lower, upper] : alternative === 'greater' ? [lower, 1] : [-1, upper];

  const pooled = (events1 + events2) / (total1 + total2);
  let statistic = 0;
  for (const [observed, total] of [
    [events1, total1],
    [events2, total2],
  ] as const) {
    for (const [count, expected] of [
      [observed, total * pooled],
      [total - observed, total * (1 - pooled)],
    ] as const) {
      // an empty column (pooled rate 0 or 1) has observed = expected = 0: it adds nothing
      if (expected > 0) statistic += (Math.abs(count - expected) - correction) ** 2 / expected;
    }
  }

  const pValue =
    alternative === 'two.sided'
      ? 2 * pnorm(Math.sqrt(statistic), false)
      : pnorm(Math.sign(difference) * Math.sqrt(statistic), alternative === 'less');
  return { statistic, pValue: Math.min(1, pValue), confInt, confLevel, estimate: [rate1, rate2], difference, correction, alternative };
}
