/**
 * The Mann-Whitney finding: has the candidate's typical value moved? The interval and estimate are of
 * the shift candidate - baseline (R's wilcox.test, two-sided at the judge's confidence, like
 * Kayenta's 98% interval). The size compared with allowedChange is relative: the estimated shift
 * divided by the baseline's median, so "allowedChange: 0.1" lets the typical request be 10% slower.
 * (Kayenta divides means instead; the median goes with a rank test, and a few slow outliers in the
 * baseline do not shrink the candidate's change.) A baseline median of 0 makes any real shift
 * infinitely large relative to it, which is what it is: the record stores the size as null.
 *
 * The root searches use a tolerance of 1e-7 of the samples' combined range instead of R's fixed 1e-4,
 * which would be coarse for error ratios around 0.001.
 */
import { mannWhitney, mean, median } from '../stats/index.js';
import { finiteOrNull, formatNumber, formatP, limitSign, percent, signed, signedPercent } from './format.js';
import type { CompareJudgeSpec } from './specs.js';
import type { Finding } from './verdict.js';

function range(values: readonly number[]): number {
  let lowest = Infinity;
  let highest = -Infinity;
  for (const value of values) {
    lowest = Math.min(lowest, value);
    highest = Math.max(highest, value);
  }
  return highest - lowest;
}

/** the shift relative to the baseline's median; a zero median makes any shift infinite */
function relativeTo(shift: number, reference: number): number {
  if (reference === 0) return shift === 0 ? 0 : shift * Infinity;
  return shift / Math.abs(reference);
}

export function shiftFinding(spec: CompareJudgeSpec, candidate: number[], baseline: number[]): Finding {
  const rootTolerance = 1e-7 * (range(candidate) + range(baseline)) || 1e-4;
  const result = mannWhitney(candidate, baseline, { confLevel: spec.confidence, rootTolerance });
  const [lower, upper] = result.confInt;
  const baselineMedian = median(baseline);
  const effect = relativeTo(result.estimate, baselineMedian);
  return {
    real: lower > 0 ? 'increase' : upper < 0 ? 'decrease' : 'none',
    size: Math.abs(effect),
    absoluteSize: Math.abs(result.estimate),
    description:
      `Mann-Whitney: candidate ${signed(result.estimate)} (${signedPercent(effect)}) against the baseline median ${formatNumber(baselineMedian)} ` +
      `(interval ${signed(lower)}..${signed(upper)} at ${percent(spec.confidence)}, p ${formatP(result.pValue)})`,
    limit: (change) => `${limitSign(spec.direction)}${percent(change)}`,
    statistics: {
      test: 'mannWhitney',
      statistic: result.statistic,
      pValue: result.pValue,
      interval: [lower, upper],
      estimate: result.estimate,
      effect: finiteOrNull(effect),
      n: { candidate: candidate.length, baseline: baseline.length },
      candidate: { median: median(candidate), mean: mean(candidate) },
      baseline: { median: baselineMedian, mean: mean(baseline) },
    },
  };
}
