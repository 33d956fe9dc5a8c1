import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { at, DAY, History, MIN } from '../../test/helpers/report-history.js';
import { deliveryReport } from './compute.js';
import type { DeliveryReport } from './types.js';

const VERSIONS = ['1.0.0', '1.1.0', '1.2.0', '1.3.0'];
const ENVIRONMENTS = ['staging', 'production'];

/** What can happen in a rollout, in the order the script lists it, a few minutes apart. */
const happening = fc.oneof(
  fc.record({ kind: fc.constant('traffic' as const), weight: fc.constantFrom(0, 10, 50, 100) }),
  fc.record({ kind: fc.constantFrom('failing' as const, 'aborting' as const) }),
  fc.record({ kind: fc.constant('phase' as const), to: fc.constantFrom('Progressing', 'Paused', 'Healthy', 'RolledBack', 'Aborted', 'Degraded') }),
  fc.record({ kind: fc.constant('migrate' as const), phase: fc.constantFrom('expand', 'contract', 'rollback'), ok: fc.boolean() }),
  fc.record({ kind: fc.constant('verify' as const), checks: fc.array(fc.boolean(), { maxLength: 4 }) }),
  fc.record({ kind: fc.constant('measurement' as const), verdict: fc.constantFrom('Successful', 'Failed') }),
);

const script = fc.record({
  environment: fc.constantFrom(...ENVIRONMENTS),
  version: fc.constantFrom(...VERSIONS),
  stable: fc.option(fc.constantFrom(...VERSIONS), { nil: undefined }),
  manual: fc.boolean(),
  createdMs: fc.integer({ min: -5 * DAY, max: 15 * DAY }),
  happenings: fc.array(fc.tuple(happening, fc.integer({ min: 0, max: 30 * MIN })), { maxLength: 8 }),
});

type HistoryScript = typeof history extends fc.Arbitrary<infer T> ? T : never;

const history = fc.record({
  releaseMs: fc.array(fc.integer({ min: -10 * DAY, max: 12 * DAY }), { minLength: VERSIONS.length, maxLength: VERSIONS.length }),
  scripts: fc.array(script, { maxLength: 12 }),
});

function build(input: HistoryScript): History {
  const h = new History().environments('shop', ENVIRONMENTS);
  VERSIONS.forEach((version, index) => h.release('shop', version, input.releaseMs[index]!));
  for (const each of input.scripts) {
    const id = h.rollout({ environment: each.environment, version: each.version, ...(each.stable === undefined ? {} : { stable: each.stable }), createdMs: each.createdMs, manual: each.manual });
    let ms = each.createdMs;
    each.happenings.forEach(([what, gap], index) => {
      ms += gap;
      const actionId = `r${id}.a1.s${index}`;
      if (what.kind === 'traffic') h.action(id, `${actionId}.setTraffic`, { kind: 'setTraffic', weights: { [each.version]: what.weight } }, 'succeeded', ms);
      else if (what.kind === 'failing' || what.kind === 'aborting') h.event(id, `rollout.${what.kind}`, { reason: 'because' }, ms);
      else if (what.kind === 'phase') h.phase(id, what.to, ms);
      else if (what.kind === 'migrate') h.action(id, what.phase === 'rollback' ? `r${id}.a1.rollback.migrate` : `${actionId}.migrate`, { kind: 'migrate', phase: what.phase }, what.ok ? 'succeeded' : 'failed', ms);
      else if (what.kind === 'verify') h.action(id, `${actionId}.verify`, { kind: 'verify' }, what.checks.every(Boolean) ? 'succeeded' : 'failed', ms, { checks: what.checks.map((passed) => ({ passed })) });
      else if (what.kind === 'measurement') h.measurement(id, 'errors', what.verdict, 'measured', ms);
    });
  }
  return h;
}

const period = { since: new Date(at(0)), until: new Date(at(10 * DAY)) };

/** Every number in the report, with its path. */
function numbers(value: unknown, path = 'report'): Array<[string, number]> {
  if (typeof value === 'number') return [[path, value]];
  if (Array.isArray(value)) return value.flatMap((each, index) => numbers(each, `${path}[${index}]`));
  if (value !== null && typeof value === 'object') return Object.entries(value).flatMap(([key, each]) => numbers(each, `${path}.${key}`));
  return [];
}

function checkRate(rate: { value: number | null; numerator: number; denominator: number }, name: string): void {
  expect(rate.numerator, name).toBeGreaterThanOrEqual(0);
  expect(rate.numerator, name).toBeLessThanOrEqual(rate.denominator);
  if (rate.denominator === 0) expect(rate.value, name).toBeNull();
  else expect(rate.value, name).toBeCloseTo(rate.numerator / rate.denominator, 12);
}

function checkInvariants(report: DeliveryReport): void {
  for (const [path, value] of numbers(report)) expect(Number.isFinite(value), `${path} = ${value}`).toBe(true);
  checkRate(report.changeFailureRate, 'change failure rate');
  checkRate(report.rollbacks.successRate, 'rollback success rate');
  checkRate(report.migrations, 'migration success rate');
  const cfr = report.changeFailureRate;
  expect(cfr.rolledBack + cfr.aborted + cfr.degraded + cfr.rolledBackLater).toBe(cfr.numerator);
  const rollbacks = report.rollbacks;
  expect(rollbacks.records).toHaveLength(rollbacks.count);
  expect(rollbacks.automatic + rollbacks.abort + rollbacks.manual).toBe(rollbacks.count);
  expect(rollbacks.successRate.denominator + rollbacks.unfinished).toBe(rollbacks.count);
  const production = report.deploymentFrequency.byEnvironment.filter((each) => each.production);
  expect(production.reduce((sum, each) => sum + each.count, 0)).toBe(report.deploymentFrequency.count);
  expect(report.leadTime.count).toBe(report.deploymentFrequency.count);
  expect(report.recovery.mttd.count).toBe(report.recovery.incidents.length);
  expect(report.recovery.mttr.count).toBe(report.recovery.incidents.length);
  for (const each of report.recovery.incidents) {
    expect(each.mttdMs).toBeGreaterThanOrEqual(0);
    expect(each.mttrMs).toBeGreaterThanOrEqual(0);
  }
  for (const summary of [report.leadTime, report.recovery.mttd, report.recovery.mttr]) {
    if (summary.count === 0) expect(summary).toEqual({ count: 0, medianMs: null, meanMs: null, p90Ms: null, maxMs: null });
    else {
      expect(summary.medianMs!).toBeLessThanOrEqual(summary.p90Ms! + 1e-6);
      expect(summary.p90Ms!).toBeLessThanOrEqual(summary.maxMs! + 1e-6);
      expect(summary.meanMs!).toBeLessThanOrEqual(summary.maxMs! + 1e-6);
    }
  }
  const phases = Object.values(report.migrations.byPhase);
  expect(report.migrations.byPhase.expand.succeeded + report.migrations.byPhase.expand.failed + report.migrations.byPhase.contract.succeeded + report.migrations.byPhase.contract.failed).toBe(report.migrations.denominator);
  expect(phases.every((each) => each.succeeded >= 0 && each.failed >= 0)).toBe(true);
  expect(report.integrity.verifyFailed).toBeLessThanOrEqual(report.integrity.verifySteps);
}

describe('deliveryReport properties', () => {
  it('rates stay within [0, 1], counts add up, and no figure is NaN or infinite, for any history', () => {
    fc.assert(
      fc.property(history, (input) => {
        checkInvariants(deliveryReport(build(input).input, { ...period, app: 'shop' }));
      }),
      { seed: 20261123, numRuns: 300 },
    );
  });

  it('an empty history gives counts of zero and null ("no data") for every rate and duration', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 400 }), (days) => {
        const report = deliveryReport(new History().environments('shop', ENVIRONMENTS).input, { since: period.since, until: new Date(at(days * DAY)) });
        checkInvariants(report);
        expect([report.changeFailureRate.value, report.rollbacks.successRate.value, report.migrations.value, report.leadTime.medianMs, report.recovery.mttd.meanMs]).toEqual([null, null, null, null, null]);
        expect(report.deploymentFrequency.count + report.rollbacks.count).toBe(0);
      }),
      { seed: 7, numRuns: 20 },
    );
  });

  it('a period that ends earlier never counts more deployments or rollbacks', () => {
    fc.assert(
      fc.property(history, fc.integer({ min: 1, max: 9 }), (input, days) => {
        const h = build(input);
        const whole = deliveryReport(h.input, period);
        const part = deliveryReport(h.input, { since: period.since, until: new Date(at(days * DAY)) });
        expect(part.deploymentFrequency.count).toBeLessThanOrEqual(whole.deploymentFrequency.count);
        expect(part.rollbacks.count).toBeLessThanOrEqual(whole.rollbacks.count);
      }),
      { seed: 11, numRuns: 100 },
    );
  });
});
