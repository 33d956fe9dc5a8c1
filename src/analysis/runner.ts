/**
 * Runs the analysis of one step: measures each template on its schedule, judges the candidate (and
 * the baseline for compare judges), records every measurement with its evidence, and stops when the
 * assessment (assess.ts) has a verdict. Everything it knows is in the measurement rows, so a
 * controller that took over after a crash continues with the measurements already taken.
 */
import { describeCause } from '../errors.js';
import type { Logger } from '../log.js';
import type { AnalysisTemplateSpec, JudgeSpec } from '../spec/index.js';
import type { MeasurementLog, RunMeasurement as Measurement } from '../store/analysis.js';
import { assessRun, assessStep, type RunProgress, type RunRules, type Taken, type TemplateProgress } from './assess.js';
import { summarizeData } from './evidence.js';
import type { Judgement, MetricData, Provider, RunVerdict } from './types.js';

export type Judge = (spec: JudgeSpec, candidate: MetricData, baseline: MetricData | undefined) => Judgement;

export interface AnalysisRunOptions {
  /** where the run's measurements are kept: a rollout's startAnalysis action, a flag's safeguard run */
  measurements: MeasurementLog;
  app: string;
  environment: string;
  candidate: string;
  /** the stable version compare judges measure against; null for an app's first release */
  baseline: string | null;
  templates: ReadonlyArray<{ name: string; spec: AnalysisTemplateSpec }>;
  score: { pass: number; marginal: number };
  /** measure until stopped, spending the compare judges' confidence over the looks (see sequentialConfidence) */
  continuous?: boolean;
  provider: (name: string, spec: AnalysisTemplateSpec) => Provider;
  judge: Judge;
  /** aborted: stop measuring and resolve with no verdict */
  signal: AbortSignal;
  now?: () => number;
  log?: Logger;
}

export interface TemplateResult {
  template: string;
  verdict?: RunVerdict;
  reason: string;
  measurements: number;
  dryRun: boolean;
  /** ids of this template's measurement rows, first and last: the evidence behind the verdict */
  evidence?: { first: number; last: number };
}

export interface AnalysisResult {
  /** undefined when the run was stopped before it had a verdict */
  verdict?: RunVerdict;
  reason: string;
  score?: number;
  templates: TemplateResult[];
}

export async function runAnalysis(options: AnalysisRunOptions): Promise<AnalysisResult> {
  const now = options.now ?? Date.now;
  const earlier = await options.measurements.list();
  const recorded = new Map<string, Measurement[]>(options.templates.map(({ name }) => [name, earlier.filter((each) => each.template === name)]));
  const startedAt = earlier.length > 0 ? Math.min(...earlier.map((each) => each.takenAt.getTime())) : now();
  const providers = new Map(options.templates.map(({ name, spec }) => [name, options.provider(name, spec)]));
  if (earlier.length > 0) options.log?.info({ action: options.measurements.label, measurements: earlier.length }, 'analysis continues from the measurements already taken');

  // an app's first release has nothing to be compared with: its compare metrics sit out, said so
  const sittingOut = (spec: AnalysisTemplateSpec) => spec.judge.type === 'compare' && options.baseline === null;
  for (;;) {
    const progress = options.templates.map(({ name, spec }): TemplateProgress => ({
      template: name,
      weight: spec.weight,
      critical: spec.critical,
      dryRun: spec.dryRun || sittingOut(spec),
      progress: sittingOut(spec)
        ? { done: true, verdict: 'Inconclusive', reason: 'not judged: the first release of the app has no stable version to compare with' }
        : assessRun({ ...rulesOf(spec), continuous: options.continuous === true }, (recorded.get(name) ?? []).map(toTaken), startedAt),
    }));
    const step = assessStep(options.score, progress);
    if (step.done) return result(step.verdict, step.reason, step.score, progress, recorded);
    if (options.signal.aborted) return result(undefined, 'stopped before a verdict', step.score, progress, recorded);

    const due = progress.filter((each) => !each.progress.done && each.progress.nextAt <= now());
    if (due.length === 0) {
      const next = Math.min(...progress.map((each) => (each.progress.done ? Infinity : each.progress.nextAt)));
      await sleep(Math.max(0, next - now()), options.signal);
      continue;
    }
    await Promise.all(
      due.map(async ({ template }) => {
        const spec = options.templates.find((each) => each.name === template)!.spec;
        const taken = recorded.get(template)!;
        const looks = taken.filter((each) => each.verdict === 'Successful' || each.verdict === 'Failed' || each.verdict === 'Inconclusive').length + 1;
        const judged = options.continuous && spec.judge.type === 'compare' ? { ...spec, judge: { ...spec.judge, confidence: sequentialConfidence(spec.judge.confidence, looks) } } : spec;
        const measurement = await measure(options, template, judged, providers.get(template)!, { seq: taken.length + 1, since: startedAt });
        if (measurement) taken.push(measurement);
      }),
    );
  }
}

/** One measurement of one template, recorded; undefined when the run was stopped meanwhile. */
async function measure(options: AnalysisRunOptions, template: string, spec: AnalysisTemplateSpec, provider: Provider, { seq, since }: { seq: number; since: number }): Promise<Measurement | undefined> {
  const request = { app: options.app, environment: options.environment, signal: options.signal, since };
  let candidate: MetricData | undefined;
  let baseline: MetricData | undefined;
  let judgement: Judgement | { verdict: 'Error'; reason: string; statistics: Record<string, unknown>; critical?: boolean };
  try {
    const baselineVersion = spec.judge.type === 'compare' ? options.baseline : null;
    [candidate, baseline] = await Promise.all([
      provider.measure({ ...request, version: options.candidate }),
      baselineVersion === null ? Promise.resolve(undefined) : provider.measure({ ...request, version: baselineVersion }),
    ]);
    judgement = options.judge(spec.judge, candidate, baseline);
  } catch (error) {
    if (options.signal.aborted) return undefined;
    judgement = { verdict: 'Error', reason: describeCause(error), statistics: {} };
  }
  const stored = await options.measurements.record({
    template,
    seq,
    verdict: judgement.verdict,
    reason: judgement.reason,
    dryRun: spec.dryRun,
    critical: judgement.critical === true,
    candidate: candidate === undefined ? null : { version: options.candidate, ...summarizeData(candidate) },
    baseline: baseline === undefined ? null : { version: options.baseline, ...summarizeData(baseline) },
    statistics: judgement.statistics,
    // the controller's clock, the one the schedule is kept by (not the database's)
    takenAt: new Date((options.now ?? Date.now)()),
  });
  options.log?.info({ action: options.measurements.label, template, seq, verdict: stored.verdict, reason: stored.reason }, 'analysis measurement');
  return stored;
}

/**
 * The confidence of the k-th look of a continuous analysis: 1 - alpha / (k (k + 1)), alpha being
 * 1 - confidence. The alphas of all looks add up to alpha (1/2 + 1/6 + 1/12 + ... = 1), so by the
 * union bound a candidate identical to stable fails any of them at most alpha of the time, however
 * long the analysis runs; early looks, when a bad canary is clearest, spend the most.
 */
export function sequentialConfidence(confidence: number, look: number): number {
  return 1 - (1 - confidence) / (look * (look + 1));
}

function rulesOf(spec: AnalysisTemplateSpec): RunRules {
  return {
    interval: spec.interval,
    initialDelay: spec.initialDelay,
    count: spec.count,
    failureLimit: spec.failureLimit,
    inconclusiveLimit: spec.inconclusiveLimit,
    consecutiveSuccessLimit: spec.consecutiveSuccessLimit,
    errorBudget: spec.errorBudget,
    noDataLimit: spec.noDataLimit,
  };
}

function toTaken(measurement: Measurement): Taken {
  return { verdict: measurement.verdict, takenAt: measurement.takenAt.getTime(), reason: measurement.reason, critical: measurement.critical };
}

function result(verdict: RunVerdict | undefined, reason: string, score: number | undefined, progress: TemplateProgress[], recorded: Map<string, Measurement[]>): AnalysisResult {
  return {
    ...(verdict !== undefined ? { verdict } : {}),
    reason,
    ...(score !== undefined ? { score } : {}),
    templates: progress.map(({ template, dryRun, progress: each }) => templateResult(template, dryRun, each, recorded.get(template) ?? [])),
  };
}

function templateResult(template: string, dryRun: boolean, progress: RunProgress, measurements: Measurement[]): TemplateResult {
  return {
    template,
    ...(progress.done ? { verdict: progress.verdict } : {}),
    reason: progress.done ? progress.reason : `still measuring (${measurements.length} measurement(s))`,
    measurements: measurements.length,
    dryRun,
    ...(measurements.length > 0 ? { evidence: { first: measurements[0]!.id, last: measurements.at(-1)!.id } } : {}),
  };
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
