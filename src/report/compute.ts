/**
 * The delivery report, a pure function of recorded facts and a period. Definitions (docs/report.md):
 * a rollout "reached Healthy" when its rollout.phase event to Healthy was recorded; it "finished" at its
 * last phase event into a terminal phase; everything is judged as it stood at `until`, so a report of a
 * past period does not change when later rollouts happen (except that nothing after `until` is seen).
 */
import { quantileOfSorted } from '../analysis/stats/summary.js';
import { productionEnvironments, type ReportInput, type ReportPeriod } from './input.js';
import { regressionTimings } from './timing.js';
import type { DeliveryReport, DurationSummary, EnvironmentFrequency, Frequency, IncidentTiming, Rate, RollbackRecord } from './types.js';

const DAY_MS = 86_400_000;
const TERMINAL = new Set(['Healthy', 'Degraded', 'RolledBack', 'Aborted']);
type Event = ReportInput['events'][number];
type Rollout = ReportInput['rollouts'][number];

interface RolloutFacts {
  rollout: Rollout;
  version: string;
  /** started by `promote rollback` */
  manual: boolean;
  events: Event[];
  /** the phase as it stood at `until` */
  phase: string;
  /** when it entered that phase, if terminal */
  finishedAt: number | undefined;
  healthyAt: number | undefined;
  production: boolean;
}

export function deliveryReport(input: ReportInput, period: ReportPeriod): DeliveryReport {
  const since = period.since.getTime();
  const until = period.until.getTime();
  const inPeriod = (at: number) => at >= since && at < until;
  const ofApp = (app: string | null) => period.app === undefined || app === period.app;
  const production = productionEnvironments(input);
  const releases = new Map(input.releases.map((release) => [release.id, release]));
  // nothing recorded at or after `until` exists for this report
  const seen = input.events.filter((event) => Date.parse(event.createdAt) < until && ofApp(event.app));
  const byRollout = new Map<number, Event[]>();
  for (const event of seen) {
    if (event.rolloutId === null) continue;
    const list = byRollout.get(event.rolloutId);
    if (list) list.push(event);
    else byRollout.set(event.rolloutId, [event]);
  }

  const facts = input.rollouts
    .filter((rollout) => ofApp(rollout.app) && Date.parse(rollout.createdAt) < until)
    .sort((a, b) => a.id - b.id)
    .map((rollout): RolloutFacts => {
      const events = (byRollout.get(rollout.id) ?? []).sort((a, b) => a.seq - b.seq);
      const phases = events.filter((event) => event.type === 'rollout.phase');
      const last = phases.at(-1);
      const phase = last === undefined ? 'Pending' : String(last.data.to);
      const healthy = phases.find((event) => event.data.to === 'Healthy');
      return {
        rollout,
        version: releases.get(rollout.releaseId)?.version ?? `release #${rollout.releaseId}`,
        manual: events.some((event) => event.type === 'rollout.created' && event.data.rollback === true),
        events,
        phase,
        finishedAt: TERMINAL.has(phase) && last !== undefined ? Date.parse(last.createdAt) : undefined,
        healthyAt: healthy === undefined ? undefined : Date.parse(healthy.createdAt),
        production: production.has(`${rollout.app}/${rollout.environment}`),
      };
    });

  // ---- deployments and lead time ----
  const deployed = facts.filter((each) => !each.manual && each.healthyAt !== undefined && inPeriod(each.healthyAt));
  const productionDeploys = deployed.filter((each) => each.production);
  const days = (until - since) / DAY_MS;
  const byEnvironment: EnvironmentFrequency[] = input.environments
    .filter((each) => ofApp(each.app))
    .flatMap(({ app, names }) =>
      names.map((environment) => ({
        app,
        environment,
        production: production.has(`${app}/${environment}`),
        ...frequency(deployed.filter((each) => each.rollout.app === app && each.rollout.environment === environment).length, days),
      })),
    );
  const leadTimes = productionDeploys.flatMap((each) => {
    const release = releases.get(each.rollout.releaseId);
    return release === undefined ? [] : [each.healthyAt! - Date.parse(release.createdAt)];
  });

  // ---- change failures: Healthy rollouts undone later by `promote rollback` ----
  const undone = new Set<number>();
  for (const rollback of facts.filter((each) => each.manual)) {
    const created = Date.parse(rollback.rollout.createdAt);
    const previous = facts
      .filter((each) => each.rollout.app === rollback.rollout.app && each.rollout.environment === rollback.rollout.environment && each.rollout.id < rollback.rollout.id && each.healthyAt !== undefined && each.healthyAt <= created)
      .at(-1);
    if (previous !== undefined && previous.rollout.releaseId === rollback.rollout.stableReleaseId) undone.add(previous.rollout.id);
  }
  const finished = facts.filter((each) => each.production && !each.manual && each.finishedAt !== undefined && inPeriod(each.finishedAt));
  const count = (phase: string) => finished.filter((each) => each.phase === phase).length;
  const rolledBackLater = finished.filter((each) => each.phase === 'Healthy' && undone.has(each.rollout.id)).length;
  const failures = count('RolledBack') + count('Aborted') + count('Degraded') + rolledBackLater;

  // ---- rollbacks ----
  const records: RollbackRecord[] = [];
  for (const each of facts) {
    const { rollout } = each;
    const base = { rolloutId: rollout.id, app: rollout.app, environment: rollout.environment, version: each.version };
    if (each.manual) {
      const at = Date.parse(rollout.createdAt);
      if (inPeriod(at)) {
        records.push({ ...base, kind: 'manual', at: rollout.createdAt, result: each.phase === 'Healthy' ? 'succeeded' : TERMINAL.has(each.phase) ? 'failed' : 'unfinished', reason: `promote rollback to ${each.version}` });
      }
      continue;
    }
    each.events.forEach((event, index) => {
      if ((event.type !== 'rollout.failing' && event.type !== 'rollout.aborting') || !inPeriod(Date.parse(event.createdAt))) return;
      const kind = event.type === 'rollout.failing' ? 'automatic' : 'abort';
      const end = each.events.slice(index + 1).find((later) => later.type === 'rollout.phase' && TERMINAL.has(String(later.data.to)));
      const wanted = kind === 'automatic' ? 'RolledBack' : 'Aborted';
      const result = end === undefined ? 'unfinished' : end.data.to === wanted ? 'succeeded' : 'failed';
      records.push({ ...base, kind, at: event.createdAt, result, reason: typeof event.data.reason === 'string' ? event.data.reason : '' });
    });
  }
  records.sort((a, b) => a.at.localeCompare(b.at) || a.rolloutId - b.rolloutId);
  const succeeded = records.filter((record) => record.result === 'succeeded').length;
  const rollbackFailed = records.filter((record) => record.result === 'failed').length;

  // ---- MTTD / MTTR: automatic rollbacks in production ----
  const measurementsOf = new Map<number, Array<ReportInput['measurements'][number]>>();
  for (const measurement of input.measurements) {
    const list = measurementsOf.get(measurement.rolloutId);
    if (list) list.push(measurement);
    else measurementsOf.set(measurement.rolloutId, [measurement]);
  }
  const incidents: IncidentTiming[] = facts
    .filter((each) => each.production && !each.manual)
    .flatMap((each) => {
      return regressionTimings(each.version, each.events, measurementsOf.get(each.rollout.id))
        .filter((timing) => inPeriod(Date.parse(timing.detectedAt)))
        .map((timing) => ({ rolloutId: each.rollout.id, app: each.rollout.app, environment: each.rollout.environment, version: each.version, ...timing }));
    });

  return {
    app: period.app ?? null,
    since: period.since.toISOString(),
    until: period.until.toISOString(),
    days,
    production: [...production].filter((name) => ofApp(name.slice(0, name.indexOf('/')))).sort(),
    deploymentFrequency: { ...frequency(productionDeploys.length, days), byEnvironment },
    leadTime: durations(leadTimes),
    changeFailureRate: { ...rate(failures, finished.length), rolledBack: count('RolledBack'), aborted: count('Aborted'), degraded: count('Degraded'), rolledBackLater },
    rollbacks: {
      ...frequency(records.length, days),
      automatic: records.filter((record) => record.kind === 'automatic').length,
      abort: records.filter((record) => record.kind === 'abort').length,
      manual: records.filter((record) => record.kind === 'manual').length,
      successRate: rate(succeeded, succeeded + rollbackFailed),
      unfinished: records.length - succeeded - rollbackFailed,
      records,
    },
    recovery: { mttd: durations(incidents.map((each) => each.mttdMs)), mttr: durations(incidents.map((each) => each.mttrMs)), incidents },
    migrations: migrationFigures(facts, inPeriod),
    integrity: integrityFigures(facts, seen, inPeriod, period.app === undefined),
  };
}

function migrationFigures(facts: readonly RolloutFacts[], inPeriod: (at: number) => boolean): DeliveryReport['migrations'] {
  const byPhase: DeliveryReport['migrations']['byPhase'] = { expand: { succeeded: 0, failed: 0 }, contract: { succeeded: 0, failed: 0 }, rollback: { succeeded: 0, failed: 0 } };
  let good = 0;
  let finished = 0;
  let rolledBack = 0;
  for (const each of facts) {
    const outcomes = actionOutcomes(each.events, 'migrate');
    const undoneAttempts = new Set([...outcomes.values()].filter((one) => one.action.phase === 'rollback' && one.status === 'succeeded').map((one) => attemptOf(one.id)));
    for (const outcome of outcomes.values()) {
      if (!inPeriod(outcome.at)) continue;
      const phase = outcome.action.phase;
      if (phase !== 'expand' && phase !== 'contract' && phase !== 'rollback') continue;
      byPhase[phase][outcome.status === 'succeeded' ? 'succeeded' : 'failed'] += 1;
      if (phase === 'rollback') continue;
      finished += 1;
      const undone = phase === 'expand' && outcome.status === 'succeeded' && undoneAttempts.has(attemptOf(outcome.id));
      if (undone) rolledBack += 1;
      if (outcome.status === 'succeeded' && !undone) good += 1;
    }
  }
  return { ...rate(good, finished), byPhase, rolledBack };
}

function integrityFigures(facts: readonly RolloutFacts[], events: readonly Event[], inPeriod: (at: number) => boolean, everyApp: boolean): DeliveryReport['integrity'] {
  let verifySteps = 0;
  let verifyFailed = 0;
  let checksFailed = 0;
  for (const each of facts) {
    for (const outcome of actionOutcomes(each.events, 'verify').values()) {
      if (!inPeriod(outcome.at)) continue;
      verifySteps += 1;
      if (outcome.status === 'failed') verifyFailed += 1;
      const checks = (outcome.evidence as { checks?: Array<{ passed?: unknown }> } | undefined)?.checks;
      if (Array.isArray(checks)) checksFailed += checks.filter((check) => check.passed === false).length;
    }
  }
  const repairs = events.filter((event) => (event.type === 'reconcile.repaired' || event.type === 'reconcile.flagged') && inPeriod(Date.parse(event.createdAt)) && (everyApp || event.app !== null));
  const reconcileDifferences = repairs.reduce((sum, event) => sum + (Array.isArray(event.data.differences) ? event.data.differences.length : 0), 0);
  return {
    verifySteps,
    verifyFailed,
    checksFailed,
    reconcileDifferences,
    reconcileBatches: repairs.length,
    note:
      'a `promote reconcile` without --repair records nothing in the store, so only repairs and flags (--repair source-wins|flag) are counted' +
      (everyApp ? '' : '; `promote reconcile` records repairs without an app, so a report of one app leaves them out'),
  };
}

interface ActionOutcome {
  id: string;
  action: Record<string, unknown>;
  status: 'succeeded' | 'failed';
  at: number;
  evidence: unknown;
}

/** The final outcome of each action of `kind`, from action.started and action.succeeded/failed events. */
function actionOutcomes(events: readonly Event[], kind: string): Map<string, ActionOutcome> {
  const started = new Map<string, Record<string, unknown>>();
  const outcomes = new Map<string, ActionOutcome>();
  for (const event of events) {
    if (event.type === 'action.started') {
      const action = event.data.action as Record<string, unknown> | undefined;
      if (action?.kind === kind && typeof action.id === 'string') started.set(action.id, action);
    } else if (event.type === 'action.succeeded' || event.type === 'action.failed') {
      const id = String(event.data.action);
      const action = started.get(id);
      if (action === undefined) continue;
      const outcome = event.data.outcome as { evidence?: unknown } | undefined;
      outcomes.set(id, { id, action, status: event.type === 'action.succeeded' ? 'succeeded' : 'failed', at: Date.parse(event.createdAt), evidence: outcome?.evidence });
    }
  }
  return outcomes;
}

/** `r12.a2.s3.migrate` -> `r12.a2`: action ids carry the rollout and its attempt. */
function attemptOf(actionId: string): string {
  return actionId.split('.').slice(0, 2).join('.');
}

export function rate(numerator: number, denominator: number): Rate {
  return { value: denominator === 0 ? null : numerator / denominator, numerator, denominator };
}

export function frequency(count: number, days: number): Frequency {
  return { count, perDay: days > 0 ? count / days : null, perWeek: days > 0 ? count / (days / 7) : null };
}

export function durations(values: readonly number[]): DurationSummary {
  if (values.length === 0) return { count: 0, medianMs: null, meanMs: null, p90Ms: null, maxMs: null };
  const sorted = [...values].sort((a, b) => a - b);
  return {
    count: sorted.length,
    medianMs: quantileOfSorted(sorted, 0.5),
    meanMs: sorted.reduce((sum, value) => sum + value, 0) / sorted.length,
    p90Ms: quantileOfSorted(sorted, 0.9),
    maxMs: sorted.at(-1)!,
  };
}
