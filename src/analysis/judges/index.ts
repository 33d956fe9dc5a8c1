/**
 * Judges turn one measurement into a verdict: `threshold` holds the candidate's number against fixed
 * limits, `compare` tests the candidate against the stable baseline. Pure functions of the spec and
 * the data; the runner measures, records and adds the verdicts up (../assess.ts).
 *
 * A judge never returns Error: data no provider should send (infinite samples, impossible counts)
 * throws a ProviderError, which the runner records as an Error measurement.
 */
import type { JudgeSpec } from '../../spec/schema.js';
import type { Judgement, MetricData } from '../types.js';
import { compareJudge } from './compare.js';
import { thresholdJudge } from './threshold.js';

export function judge(spec: JudgeSpec, candidate: MetricData, baseline: MetricData | undefined): Judgement {
  return spec.type === 'threshold' ? thresholdJudge(spec, candidate) : compareJudge(spec, candidate, baseline);
}
