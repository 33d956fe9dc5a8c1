/**
 * How measurement verdicts add up, as pure functions of what was measured (the runner only measures
 * and records; the decisions are here, table-tested). The rules answer the complaints about the
 * rollout tools: a provider error is not a failure (only an exhausted error budget is), too little
 * data is not a failure (only "inconclusive" after enough tries, for a person to decide), and a
 * failure of one metric does not wait for the others when the score can no longer pass.
 */
import { formatDuration } from '../spec/duration.js';
import type { MeasurementVerdict, RunVerdict } from './types.js';

export interface RunRules {
  interval: number;
  initialDelay: number;
  count: number;
  failureLimit: number;
  inconclusiveLimit: number;
  consecutiveSuccessLimit?: number | undefined;
  errorBudget: number;
  noDataLimit: number;
  /** measure until stopped: only failures and the error budget end the run */
  continuous?: boolean;
}

export interface Taken {
  verdict: MeasurementVerdict;
  /** ms since the epoch */
  takenAt: number;
  reason: string;
  /** the judge saw a real change at least as large as the critical change */
  critical?: boolean;
}

export type RunProgress =
  | { done: false; nextAt: number }
  /** `critical`: a measurement saw a change at least as large as the judge's critical change */
  | { done: true; verdict: RunVerdict; reason: string; critical?: boolean };

/** The state of one template's run after the measurements taken so far. */
export function assessRun(rules: RunRules, taken: readonly Taken[], startedAt: number): RunProgress {
  const count = (verdict: MeasurementVerdict) => taken.filter((each) => each.verdict === verdict).length;
  const failed = count('Failed');
  const passed = count('Successful');
  const inconclusive = count('Inconclusive');
  const noData = count('NoData');
  const last = taken.at(-1);
  const lastOf = (verdict: MeasurementVerdict) => taken.filter((each) => each.verdict === verdict).at(-1)?.reason ?? '';

  const critical = taken.find((each) => each.verdict === 'Failed' && each.critical);
  if (critical) return { done: true, verdict: 'Failed', reason: `a critical change: ${critical.reason}`, critical: true };
  if (failed > rules.failureLimit) {
    return { done: true, verdict: 'Failed', reason: `${failed} failed measurement(s), ${rules.failureLimit} tolerated; last: ${lastOf('Failed')}` };
  }
  const errors = trailing(taken, 'Error');
  if (errors.length > 0) {
    const lasting = errors.at(-1)!.takenAt - errors[0]!.takenAt;
    if (lasting >= rules.errorBudget) {
      return { done: true, verdict: 'Failed', reason: `the provider kept failing for ${formatDuration(lasting)} (error budget ${formatDuration(rules.errorBudget)}); last: ${errors.at(-1)!.reason}` };
    }
  }
  if (rules.continuous) return { done: false, nextAt: last === undefined ? startedAt + rules.initialDelay : last.takenAt + rules.interval };
  if (inconclusive > rules.inconclusiveLimit) {
    return { done: true, verdict: 'Inconclusive', reason: `${inconclusive} inconclusive measurement(s), ${rules.inconclusiveLimit} tolerated; last: ${lastOf('Inconclusive')}` };
  }
  if (noData >= rules.noDataLimit) {
    return { done: true, verdict: 'Inconclusive', reason: `too little data in ${noData} measurement(s); last: ${lastOf('NoData')}` };
  }
  const streak = trailing(taken, 'Successful').length;
  if (rules.consecutiveSuccessLimit !== undefined && streak >= rules.consecutiveSuccessLimit) {
    return { done: true, verdict: 'Successful', reason: `${streak} successful measurements in a row; last: ${lastOf('Successful')}` };
  }
  if (passed + failed + inconclusive >= rules.count) {
    const tolerated = [failed > 0 ? `${failed} failed` : '', inconclusive > 0 ? `${inconclusive} inconclusive` : ''].filter(Boolean).join(', ');
    return { done: true, verdict: 'Successful', reason: `${passed} of ${passed + failed + inconclusive} measurements passed${tolerated ? ` (${tolerated}, tolerated)` : ''}; last: ${lastOf('Successful') || lastOf(last?.verdict ?? 'Successful')}` };
  }
  return { done: false, nextAt: last === undefined ? startedAt + rules.initialDelay : last.takenAt + rules.interval };
}

function trailing(taken: readonly Taken[], verdict: MeasurementVerdict): Taken[] {
  let start = taken.length;
  while (start > 0 && taken[start - 1]!.verdict === verdict) start--;
  return taken.slice(start);
}

export interface TemplateProgress {
  template: string;
  weight: number;
  critical: boolean;
  dryRun: boolean;
  progress: RunProgress;
}

export interface StepProgress {
  done: boolean;
  verdict?: RunVerdict;
  reason: string;
  /** 0-100 once any metric has a verdict; the weighted share of judged metrics that passed */
  score?: number;
}

/**
 * The verdict of an analysis step over its templates (dry-run ones never count). Kayenta's scoring:
 * score = weight of passed metrics / weight of judged metrics; below `marginal` fails, below `pass` is
 * inconclusive. Ends early when a critical metric fails or the score can no longer reach `marginal`.
 */
export function assessStep(score: { pass: number; marginal: number }, templates: readonly TemplateProgress[]): StepProgress {
  const acting = templates.filter((each) => !each.dryRun);
  const verdictOf = (each: TemplateProgress) => (each.progress.done ? each.progress.verdict : undefined);
  const reasonOf = (each: TemplateProgress) => (each.progress.done ? `${each.template} ${each.progress.verdict.toLowerCase()}: ${each.progress.reason}` : '');
  const criticalFailure = acting.find((each) => each.critical && verdictOf(each) === 'Failed');
  if (criticalFailure) return { done: true, verdict: 'Failed', reason: `critical metric ${reasonOf(criticalFailure)}` };
  const criticalChange = acting.find((each) => each.progress.done && each.progress.critical === true);
  if (criticalChange) return { done: true, verdict: 'Failed', reason: reasonOf(criticalChange) };

  const weightOf = (verdict: RunVerdict | undefined) => acting.filter((each) => verdictOf(each) === verdict).reduce((sum, each) => sum + each.weight, 0);
  const total = acting.reduce((sum, each) => sum + each.weight, 0);
  const passed = weightOf('Successful');
  const failed = weightOf('Failed');
  const inconclusive = weightOf('Inconclusive');
  const judged = passed + failed;
  const current = judged > 0 ? round((passed / judged) * 100) : undefined;
  const failures = acting.filter((each) => verdictOf(each) === 'Failed').map(reasonOf);
  // the best score still possible: every metric without a verdict passes
  const best = total - inconclusive > 0 ? ((total - failed - inconclusive) / (total - inconclusive)) * 100 : 100;
  if (failed > 0 && best < score.marginal) {
    return { done: true, verdict: 'Failed', reason: `${failures.join('; ')} (score ${formatScore(current)} < ${score.marginal}, the marginal score)`, ...(current !== undefined ? { score: current } : {}) };
  }
  if (acting.some((each) => !each.progress.done)) {
    return { done: false, reason: 'measuring', ...(current !== undefined ? { score: current } : {}) };
  }
  if (acting.length === 0) return { done: true, verdict: 'Successful', reason: 'nothing to act on: every metric is a dry run, or compares with a stable version this first release does not have' };
  if (current === undefined) {
    return { done: true, verdict: 'Inconclusive', reason: `no metric could be judged: ${acting.map(reasonOf).join('; ')}` };
  }
  if (current < score.marginal) return { done: true, verdict: 'Failed', reason: `${failures.join('; ')} (score ${current} < ${score.marginal}, the marginal score)`, score: current };
  if (current < score.pass) {
    return { done: true, verdict: 'Inconclusive', reason: `score ${current} is between the marginal ${score.marginal} and the pass ${score.pass}${failures.length > 0 ? `: ${failures.join('; ')}` : ''}`, score: current };
  }
  const unsure = acting.filter((each) => verdictOf(each) === 'Inconclusive');
  if (unsure.length > 0) return { done: true, verdict: 'Inconclusive', reason: unsure.map(reasonOf).join('; '), score: current };
  return { done: true, verdict: 'Successful', reason: `score ${current}: ${acting.map(reasonOf).join('; ')}`, score: current };
}

function round(value: number): number {
  return Math.round(value * 10) / 10;
}

function formatScore(score: number | undefined): string {
  return score === undefined ? '0' : String(score);
}
