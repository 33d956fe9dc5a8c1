/**
 * The threshold judge: the candidate's one number against the template's condition, e.g.
 * `value < 0.01`. The reason shows the value and the condition ("value 0.083 is not < 0.01").
 * "No data", never "failed", when there is no number to judge:
 * - the provider gave no value, or NaN (Prometheus's answer for a ratio over a window without
 *   requests is 0/0);
 * - `minSamples` is set and fewer requests or samples stand behind the value (`support`, else the
 *   number of samples), or the provider does not say how many (the reason says so, so that a
 *   template whose provider cannot count does not wait silently).
 * An infinite value is judged like any other: Prometheus's p99 is +Inf when it lies above the highest
 * histogram bucket, and that is as slow as it gets.
 */
import { evaluateCondition, parseCondition, type Condition } from '../../spec/condition.js';
import type { Judgement, MetricData } from '../types.js';
import { formatNumber } from './format.js';
import type { ThresholdJudgeSpec } from './specs.js';

/** the numbers a condition compares with, so a value is never rounded to look like one of them */
function limitsOf(condition: Condition): number[] {
  return condition.kind === 'compare' ? [condition.number] : [...limitsOf(condition.left), ...limitsOf(condition.right)];
}

function formatValue(value: number, limits: readonly number[]): string {
  const short = formatNumber(value);
  return limits.some((limit) => limit !== value && formatNumber(limit) === short) ? String(value) : short;
}

function verdictText(condition: Condition, text: string, shown: string, passed: boolean): string {
  if (condition.kind === 'compare') return `value ${shown} is ${passed ? '' : 'not '}${condition.operator} ${condition.number}`;
  return `value ${shown} ${passed ? 'meets' : 'does not meet'} "${text.trim()}"`;
}

export function thresholdJudge(spec: ThresholdJudgeSpec, candidate: MetricData): Judgement {
  const support = candidate.support ?? candidate.samples?.length;
  const statistics = { judge: 'threshold', condition: spec.condition, minSamples: spec.minSamples, value: candidate.value ?? null, support: support ?? null };
  const noData = (reason: string): Judgement => ({ verdict: 'NoData', reason, statistics });

  if (candidate.value === undefined) return noData('no value from the provider');
  if (Number.isNaN(candidate.value)) return noData('the value is NaN: nothing measured in the window');
  if (spec.minSamples > 0) {
    if (support === undefined) return noData(`the provider does not say how many samples stand behind the value; minSamples ${spec.minSamples} needs that`);
    if (support < spec.minSamples) return noData(`too little data: ${support} samples behind the value, ${spec.minSamples} needed`);
  }

  const condition = parseCondition(spec.condition);
  const passed = evaluateCondition(condition, { value: candidate.value });
  const shown = formatValue(candidate.value, limitsOf(condition));
  return { verdict: passed ? 'Successful' : 'Failed', reason: verdictText(condition, spec.condition, shown, passed), statistics };
}
