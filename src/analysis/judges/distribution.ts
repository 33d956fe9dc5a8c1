/**
 * The Kolmogorov-Smirnov finding: has the candidate's distribution changed anywhere, in its spread or
 * a tail, even if its median has not? The size compared with allowedChange is D itself, the largest
 * gap between the two distribution functions: "allowedChange: 0.1" tolerates a real change that moves
 * up to 10% of the values past some level.
 *
 * Direction picks the one-sided test: `increase` asks whether the candidate has more values above
 * some level than the baseline (its distribution function lies below the baseline's somewhere: R's
 * alternative "less" for x = candidate), `decrease` the mirror, `either` the two-sided D. A wider
 * candidate (same median, slower slow requests) is therefore an increase, although its median barely
 * moved; deciding the direction by the median instead would let exactly those changes through.
 */
import { ksTest, median } from '../stats/index.js';
import { formatNumber, formatP, percent } from './format.js';
import type { CompareJudgeSpec } from './specs.js';
import type { Finding } from './verdict.js';

const alternativeFor = { increase: 'less', decrease: 'greater', either: 'two.sided' } as const;
const realChangeFor = { increase: 'increase', decrease: 'decrease', either: 'change' } as const;
const gapWording = { increase: 'candidate values larger', decrease: 'candidate values smaller', either: 'either way' } as const;

export function distributionFinding(spec: CompareJudgeSpec, candidate: number[], baseline: number[]): Finding {
  const result = ksTest(candidate, baseline, { alternative: alternativeFor[spec.direction] });
  const real = result.pValue < 1 - spec.confidence;
  const candidateMedian = median(candidate);
  const baselineMedian = median(baseline);
  return {
    real: real ? realChangeFor[spec.direction] : 'none',
    size: result.statistic,
    description:
      `KS: D ${formatNumber(result.statistic)} (largest gap between the distributions, ${gapWording[spec.direction]}), ` +
      `p ${formatP(result.pValue)} against ${formatP(1 - spec.confidence)} for ${percent(spec.confidence)}, ` +
      `medians ${formatNumber(candidateMedian)} and ${formatNumber(baselineMedian)}`,
    limit: (change) => `D ${formatNumber(change)}`,
    ...(spec.direction === 'either' ? {} : { lookedFor: spec.direction }),
    statistics: {
      test: 'ks',
      alternative: result.alternative,
      statistic: result.statistic,
      pValue: result.pValue,
      effect: result.statistic,
      n: { candidate: candidate.length, baseline: baseline.length },
      candidate: { median: candidateMedian },
      baseline: { median: baselineMedian },
    },
  };
}
