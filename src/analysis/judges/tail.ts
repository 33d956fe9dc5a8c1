/**
 * The tail finding: does the candidate have more values beyond the baseline's high quantile than a
 * version like the baseline would (1 - quantile of them)? This catches "p99 +200 ms" canaries whose
 * median, and so the Mann-Whitney test, does not move. The test is ../stats/tail-exceedance.ts. The
 * size compared with allowedChange is the relative excess of that share: 4% of values above the
 * baseline's p99 where 1% was expected is +300%; "allowedChange: 0.1" tolerates 1.1%.
 *
 * `increase` looks above the baseline's quantile; `decrease` below its 1 - quantile (both samples
 * negated: fewer requests served per second, say); `either` looks at both, each at half of
 * 1 - confidence, so the two looks together keep the judge's false-failure rate.
 */
import { tailExceedance, type TailExceedanceResult } from '../stats/index.js';
import { formatNumber, formatP, percent, signedPercent } from './format.js';
import type { CompareJudgeSpec } from './specs.js';
import type { Finding } from './verdict.js';

interface TailLook {
  side: 'increase' | 'decrease';
  result: TailExceedanceResult;
}

function look(side: TailLook['side'], candidate: number[], baseline: number[], quantile: number, confLevel: number): TailLook {
  const negate = (values: number[]) => values.map((value) => -value);
  const result = side === 'increase' ? tailExceedance(candidate, baseline, { quantile, confLevel }) : tailExceedance(negate(candidate), negate(baseline), { quantile, confLevel });
  return { side, result };
}

function quantileLabel(quantile: number): string {
  return `p${formatNumber(quantile * 100)}`;
}

export function tailFinding(spec: CompareJudgeSpec, candidate: number[], baseline: number[]): Finding {
  const sides: TailLook['side'][] = spec.direction === 'either' ? ['increase', 'decrease'] : [spec.direction];
  const alpha = (1 - spec.confidence) / sides.length;
  const looks = sides.map((side) => look(side, candidate, baseline, spec.quantile, 1 - alpha));
  const worst = looks.reduce((most, each) => (each.result.pValue < most.result.pValue ? each : most));
  const { side, result } = worst;
  const excess = result.observedShare / result.expectedShare - 1;
  const where = side === 'increase' ? `above the baseline ${quantileLabel(spec.quantile)}` : `below the baseline ${quantileLabel(1 - spec.quantile)}`;
  const threshold = side === 'increase' ? result.threshold : -result.threshold;
  return {
    real: result.pValue < alpha ? side : 'none',
    size: Math.max(0, excess),
    description:
      `tail: ${percent(result.observedShare)} of candidate values ${where} (${formatNumber(threshold)}), ${percent(result.expectedShare)} expected, ` +
      `${signedPercent(excess)} (share at least ${percent(result.confInt[0])} at ${percent(1 - alpha)}), p ${formatP(result.pValue)}`,
    limit: (change) => `+${percent(change)} over the expected share`,
    ...(spec.direction === 'either' ? {} : { lookedFor: spec.direction }),
    statistics: {
      test: 'tail',
      side,
      quantile: spec.quantile,
      threshold,
      exceedances: result.exceedances,
      observedShare: result.observedShare,
      expectedShare: result.expectedShare,
      pValue: result.pValue,
      interval: result.confInt,
      effect: excess,
      n: { candidate: candidate.length, baseline: baseline.length },
      ...(looks.length > 1 ? { looks: looks.map((each) => ({ side: each.side, exceedances: each.result.exceedances, pValue: each.result.pValue })) } : {}),
    },
  };
}
