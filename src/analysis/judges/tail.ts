/**
 * The tail finding: does the candidate have more values beyond the baseline's high quantile than a
 * version like the baseline would (1 - quantile of them)? This catches "p99 +200 ms" canaries whose
 * median, and so the Mann-Whitney test, does not move. The test is ../stats/tail-exceedance.ts and
 * decides whether the change is real. The size compared with allowedChange is how much slower the
 * candidate's own quantile is than the baseline's, relatively: p99 8 ms against 6 ms is +33%. A real
 * but small tail change (a freshly started process whose JIT is still warming: a few ms on 3% of
 * requests) stays within the default allowance of +50%; "p99 +200 ms" does not.
 *
 * `increase` looks above the baseline's quantile; `decrease` below its 1 - quantile (both samples
 * negated: fewer requests served per second, say); `either` looks at both, each at half of
 * 1 - confidence, so the two looks together keep the judge's false-failure rate.
 */
import { quantile, tailExceedance, type TailExceedanceResult } from '../stats/index.js';
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
  const quantileOf = (values: number[], q: number) => quantile(values, q);
  const candidateQuantile = side === 'increase' ? quantileOf(candidate, spec.quantile) : quantileOf(candidate, 1 - spec.quantile);
  const baselineQuantile = side === 'increase' ? result.threshold : -result.threshold;
  const shift = relativeShift(candidateQuantile, baselineQuantile, side);
  const where = side === 'increase' ? `above the baseline ${quantileLabel(spec.quantile)}` : `below the baseline ${quantileLabel(1 - spec.quantile)}`;
  const threshold = side === 'increase' ? result.threshold : -result.threshold;
  return {
    real: result.pValue < alpha ? side : 'none',
    size: shift,
    absoluteSize: Math.abs(candidateQuantile - baselineQuantile),
    description:
      `tail: ${percent(result.observedShare)} of candidate values ${where} (${formatNumber(threshold)}), ${percent(result.expectedShare)} expected, ` +
      `p ${formatP(result.pValue)}; candidate ${quantileLabel(side === 'increase' ? spec.quantile : 1 - spec.quantile)} ${formatNumber(candidateQuantile)}, ${signedPercent(side === 'increase' ? shift : -shift)}`,
    limit: (change) => `${side === 'increase' ? '+' : '-'}${percent(change)} at the ${quantileLabel(side === 'increase' ? spec.quantile : 1 - spec.quantile)}`,
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
      excessShare: excess,
      candidateQuantile,
      effect: side === 'increase' ? shift : -shift,
      n: { candidate: candidate.length, baseline: baseline.length },
      ...(looks.length > 1 ? { looks: looks.map((each) => ({ side: each.side, exceedances: each.result.exceedances, pValue: each.result.pValue })) } : {}),
    },
  };
}

/** How much worse the candidate's quantile is than the baseline's, relative; never negative. */
function relativeShift(candidate: number, baseline: number, side: TailLook['side']): number {
  const worse = side === 'increase' ? candidate - baseline : baseline - candidate;
  if (worse <= 0) return 0;
  return baseline === 0 ? Infinity : worse / Math.abs(baseline);
}
