/**
 * Our own test for what the Mann-Whitney test misses: a candidate whose typical request is as fast as
 * the baseline's, but whose slowest 1% or 3% got slower (a lock, a cold cache, a retry). It counts the
 * candidate values above the baseline's high quantile (R's type-7 `quantile(baseline, q)`) and asks
 * whether there are more of them than the 1 - q a candidate like the baseline would have. One-sided:
 * more exceedances is worse, fewer is fine. (A judge looking at the low tail negates both samples.)
 *
 * The p-value. The textbook answer would be a binomial test of k exceedances in n candidate values
 * at rate 1 - q, but that treats the baseline's quantile as exact. It is not: with 500 baseline values
 * the 99th percentile stands on its 5 largest, and the binomial test then calls identical versions
 * different far more often than its confidence promises (identical log-normal latencies, 500 values
 * each, at 98%: the binomial test rejected 9.6% of 2,000 pairs, the test below 1.6%). So we use the exact distribution
 * of the count instead, which needs no assumption about the latencies at all (the "exceedance
 * statistic" of Gumbel and von Schelling, 1950): if both versions draw from the same distribution,
 * every order of the pooled m + n values is equally likely, and the candidate has k or more values
 * above the baseline's r-th largest exactly when at least k of the top k + r - 1 pooled values are
 * candidate values, a hypergeometric count:
 *   P(K >= k) = P(Hypergeometric(draws k + r - 1; n candidate, m baseline values) >= k).
 * The type-7 quantile lies between the order statistics floor(1 + (m - 1) q) and the next one; we
 * take r from the lower of the two (r = m - floor(1 + (m - 1) q) + 1), whose count is never smaller
 * than the count above the threshold, so the p-value errs on the side of "no change". Ties also err
 * that way, since only values strictly above the threshold count. As the baseline grows the test
 * becomes the binomial test above.
 *
 * The interval is of the candidate's share of values above the threshold: the one-sided
 * Clopper-Pearson bound [lower, 1] at confLevel (R's binom.test(k, n, alternative = "greater")).
 * It is conditional on the threshold, so it is a description of the share, not the test itself.
 *
 * Empty samples and values that are not finite are a StatsInputError naming the position.
 */
import { binomialLowerBound, hypergeometricUpperTail } from './discrete.js';
import { requireFiniteSample, requireLevel, sortedCopy } from './input.js';
import { quantileOfSorted } from './summary.js';

export interface TailExceedanceOptions {
  /** the baseline quantile the candidate is compared above; 0.99 by default */
  quantile?: number;
  /** confidence level of the share's interval; 0.95 by default */
  confLevel?: number;
}

export interface TailExceedanceResult {
  /** the baseline's type-7 quantile */
  threshold: number;
  /** candidate values strictly above the threshold */
  exceedances: number;
  /** exceedances / candidate size */
  observedShare: number;
  /** 1 - quantile: the share a candidate like the baseline would have */
  expectedShare: number;
  /** P(this many exceedances or more | same distribution) */
  pValue: number;
  /** one-sided interval of the candidate's share above the threshold */
  confInt: [number, number];
  confLevel: number;
  quantile: number;
  /** [candidate size, baseline size] */
  sizes: [number, number];
}

export function tailExceedance(candidate: readonly number[], baseline: readonly number[], options: TailExceedanceOptions = {}): TailExceedanceResult {
  const { quantile = 0.99, confLevel = 0.95 } = options;
  requireFiniteSample(candidate, 'candidate');
  requireFiniteSample(baseline, 'baseline');
  requireLevel(quantile, 'quantile');
  requireLevel(confLevel, 'confLevel');

  const n = candidate.length;
  const m = baseline.length;
  const threshold = quantileOfSorted(sortedCopy(baseline), quantile);
  let exceedances = 0;
  for (const value of candidate) if (value > threshold) exceedances++;

  // baseline values at or above the order statistic just below (or at) the threshold
  const atOrAbove = m - Math.floor(1 + (m - 1) * quantile) + 1;
  const pValue = hypergeometricUpperTail(exceedances, n, m, exceedances + atOrAbove - 1);
  return {
    threshold,
    exceedances,
    observedShare: exceedances / n,
    expectedShare: 1 - quantile,
    pValue,
    confInt: [binomialLowerBound(exceedances, n, confLevel), 1],
    confLevel,
    quantile,
    sizes: [n, m],
  };
}
