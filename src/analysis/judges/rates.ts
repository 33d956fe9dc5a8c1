/**
 * The two-proportion finding: is the candidate's rate of events (errors among requests) really
 * different from the baseline's? R's prop.test, two-sided interval of the difference at the judge's
 * confidence. The size compared with allowedChange is the difference of the rates itself, absolute,
 * as the schema says: "allowedChange: 0.01" lets the candidate fail one more request in a hundred.
 */
import { twoProportion } from '../stats/index.js';
import type { Counts } from './data.js';
import { formatNumber, formatP, limitSign, percent, signed, signedPoints } from './format.js';
import type { CompareJudgeSpec } from './specs.js';
import type { Finding } from './verdict.js';

export function ratesFinding(spec: CompareJudgeSpec, candidate: Counts, baseline: Counts): Finding {
  const result = twoProportion(candidate.events, candidate.total, baseline.events, baseline.total, { confLevel: spec.confidence });
  const [lower, upper] = result.confInt;
  const [candidateRate, baselineRate] = result.estimate;
  return {
    real: lower > 0 ? 'increase' : upper < 0 ? 'decrease' : 'none',
    size: Math.abs(result.difference),
    description:
      `two proportions: candidate ${percent(candidateRate)} (${candidate.events}/${candidate.total}) against baseline ${percent(baselineRate)} ` +
      `(${baseline.events}/${baseline.total}), ${signedPoints(result.difference)} ` +
      `(interval ${signed(lower * 100)}..${signed(upper * 100)} at ${percent(spec.confidence)}, p ${formatP(result.pValue)})`,
    limit: (change) => `${limitSign(spec.direction)}${formatNumber(change * 100)} points`,
    statistics: {
      test: 'twoProportion',
      statistic: result.statistic,
      pValue: result.pValue,
      interval: [lower, upper],
      estimate: result.difference,
      effect: result.difference,
      n: { candidate: candidate.total, baseline: baseline.total },
      candidate: { events: candidate.events, total: candidate.total, rate: candidateRate },
      baseline: { events: baseline.events, total: baseline.total, rate: baselineRate },
    },
  };
}
