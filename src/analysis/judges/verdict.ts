/**
 * The one rule every compare test ends in, so that "real", "allowed" and "critical" mean the same for
 * latencies, error rates and distributions:
 * - a change is real when the test says so at the judge's confidence: the interval of the change
 *   lies entirely on one side of zero (Mann-Whitney, two proportions), or the p-value is below
 *   1 - confidence (KS, tail, which test in the bad direction only);
 * - a real change in the bad direction (`direction`; `either` makes both bad) fails when its size is
 *   above `allowedChange`, or reaches `criticalChange`; `critical` is then set, which fails the
 *   whole analysis at once;
 * - everything else is Successful: no real change, a real change within the allowance, or a real
 *   change in the good direction (a faster candidate is not a failure);
 * - Inconclusive only where a test has nothing to judge (both samples constant and different): a
 *   person decides.
 * The size is the test's point estimate (relative shift, difference of rates, D, excess share), as
 * Kayenta compares its effect size; the interval only decides whether the change is real.
 */
import { formatNumber } from './format.js';
import type { CompareJudgeSpec } from './specs.js';
import type { Judgement } from '../types.js';

/** what a test found at the judge's confidence; `change` is a real change of no single direction (two-sided KS) */
export type RealChange = 'increase' | 'decrease' | 'change' | 'none';

export interface Finding {
  real: RealChange;
  /** the size of the change in the test's units, at least 0, compared with allowedChange and criticalChange */
  size: number;
  /** the size in the metric's own units (ms for latencies), for tests that have one: compared with minimumChange */
  absoluteSize?: number;
  /** the numbers behind it, one line: "Mann-Whitney: candidate +212 (+21.2%) against the baseline median 1000, ..." */
  description: string;
  /** a limit written in the test's units for the judge's direction: "+10%", "±10 points", "D 0.1" */
  limit: (change: number) => string;
  statistics: Record<string, unknown>;
  /** the one direction a one-sided test looked in (KS and tail), so "no real increase" is said as such */
  lookedFor?: 'increase' | 'decrease';
  /** set when the test has nothing to judge; the text says why */
  inconclusive?: string;
}

function isBad(real: RealChange, direction: CompareJudgeSpec['direction']): boolean {
  if (real === 'none') return false;
  return direction === 'either' || real === direction;
}

/**
 * What a test tolerates when promote.yaml does not say: rates are absolute (one more failed request
 * in a hundred), shifts and KS distances relative (10%), the tail's high quantile relative (50%).
 */
export const DEFAULT_ALLOWED_CHANGE: Record<CompareJudgeSpec['test'], number> = { twoProportion: 0.01, mannWhitney: 0.1, ks: 0.1, tail: 0.5 };

export function decide(spec: CompareJudgeSpec, finding: Finding): Judgement {
  const allowedChange = spec.allowedChange ?? DEFAULT_ALLOWED_CHANGE[spec.test];
  const statistics = {
    judge: 'compare',
    direction: spec.direction,
    confidence: spec.confidence,
    allowedChange,
    ...(spec.minimumChange !== undefined ? { minimumChange: spec.minimumChange } : {}),
    ...(spec.criticalChange !== undefined ? { criticalChange: spec.criticalChange } : {}),
    real: finding.real,
    size: Number.isFinite(finding.size) ? finding.size : null,
    ...finding.statistics,
  };
  const says = (verdict: Judgement['verdict'], conclusion: string, critical = false): Judgement => ({
    verdict,
    reason: `${finding.description}: ${conclusion}`,
    ...(critical ? { critical: true } : {}),
    statistics,
  });

  if (finding.inconclusive !== undefined) return says('Inconclusive', finding.inconclusive);
  if (finding.real === 'none') return says('Successful', `no real ${finding.lookedFor ?? 'change'}`);
  const what = finding.real === 'change' ? 'a real change' : `a real ${finding.real}`;
  if (!isBad(finding.real, spec.direction)) return says('Successful', `${what}, and only ${spec.direction === 'increase' ? 'an increase' : 'a decrease'} counts against the candidate`);

  // a change too small to matter in the metric's own units, however real and however large relatively
  if (spec.minimumChange !== undefined && finding.absoluteSize !== undefined && finding.absoluteSize < spec.minimumChange) {
    return says('Successful', `${what}, but of ${formatNumber(finding.absoluteSize)}, under the minimum change of ${formatNumber(spec.minimumChange)} that counts`);
  }
  const critical = spec.criticalChange !== undefined && finding.size >= spec.criticalChange;
  if (critical) return says('Failed', `${what} of at least the critical ${finding.limit(spec.criticalChange!)}`, true);
  if (finding.size > allowedChange) return says('Failed', `${what} beyond the allowed ${finding.limit(allowedChange)}`);
  return says('Successful', `${what} within the allowed ${finding.limit(allowedChange)}`);
}
