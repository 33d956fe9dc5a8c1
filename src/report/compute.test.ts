import { describe, expect, it } from 'vitest';
import { at, DAY, History, HOUR, MIN } from '../../test/helpers/report-history.js';
import { deliveryReport } from './compute.js';
import { formatReport } from './format.js';

/**
 * Ten days of shop's history, every figure worked out by hand:
 *   R1 1.0.0 production, Healthy the day before the period (outside it)
 *   R2 1.1.0 staging Healthy day 1          R3 1.1.0 production Healthy day 1 +5h (release created day 1)
 *   R4 1.2.0 production: expand, 10% traffic, error-rate fails, rolled back (traffic back after 1 min)
 *   R5 1.3.0 production: expand, verify fails 2 of 3 checks, returning traffic fails: Degraded
 *   R6 `promote rollback` to 1.0.0 on day 4: undoes R3 (Healthy, serving 1.1.0)
 *   R7 1.3.0 staging aborted day 5          R8 1.3.0 production Healthy day 6 +1h (release created day 3)
 *   a reconcile repair of 3 rows on day 7 (no app); R9 created after the period (unseen)
 */
function shopHistory(): History {
  const h = new History().environments('shop', ['staging', 'production']);
  h.release('shop', '1.0.0', -DAY - 2 * HOUR);
  h.release('shop', '1.1.0', DAY);
  h.release('shop', '1.2.0', 2 * DAY);
  h.release('shop', '1.3.0', 3 * DAY);
  const r1 = h.rollout({ environment: 'production', version: '1.0.0', createdMs: -DAY + HOUR });
  h.phase(r1, 'Healthy', -DAY + 2 * HOUR);
  const r2 = h.rollout({ environment: 'staging', version: '1.1.0', createdMs: DAY + HOUR });
  h.phase(r2, 'Healthy', DAY + 2 * HOUR);
  const r3 = h.rollout({ environment: 'production', version: '1.1.0', stable: '1.0.0', createdMs: DAY + 3 * HOUR });
  h.action(r3, 'r3.a1.s0.setTraffic', { kind: 'setTraffic', weights: { '1.1.0': 10, '1.0.0': 90 } }, 'succeeded', DAY + 3 * HOUR + MIN);
  h.phase(r3, 'Healthy', DAY + 5 * HOUR);

  const d2 = 2 * DAY + HOUR;
  const r4 = h.rollout({ environment: 'production', version: '1.2.0', stable: '1.1.0', createdMs: d2 });
  h.action(r4, 'r4.a1.s0.migrate', { kind: 'migrate', phase: 'expand' }, 'succeeded', d2 + MIN);
  h.action(r4, 'r4.a1.s1.setTraffic', { kind: 'setTraffic', weights: { '1.2.0': 10, '1.1.0': 90 } }, 'succeeded', d2 + 2 * MIN);
  h.measurement(r4, 'latency', 'Successful', 'fine', d2 + 3 * MIN);
  h.measurement(r4, 'error-rate', 'Failed', 'errors 5%', d2 + 5 * MIN);
  h.event(r4, 'rollout.failing', { reason: 'analysis failed: error-rate', step: 2 }, d2 + 6 * MIN);
  h.action(r4, 'r4.a1.rollback.setTraffic', { kind: 'setTraffic', weights: { '1.1.0': 100, '1.2.0': 0 } }, 'succeeded', d2 + 7 * MIN);
  h.action(r4, 'r4.a1.rollback.migrate', { kind: 'migrate', phase: 'rollback' }, 'succeeded', d2 + 7 * MIN + 30_000);
  h.phase(r4, 'RolledBack', d2 + 8 * MIN);

  const d3 = 3 * DAY + HOUR;
  const r5 = h.rollout({ environment: 'production', version: '1.3.0', stable: '1.1.0', createdMs: d3 });
  h.action(r5, 'r5.a1.s0.migrate', { kind: 'migrate', phase: 'expand' }, 'succeeded', d3 + MIN);
  h.action(r5, 'r5.a1.s1.setTraffic', { kind: 'setTraffic', weights: { '1.3.0': 10, '1.1.0': 90 } }, 'succeeded', d3 + 2 * MIN);
  h.action(r5, 'r5.a1.s2.verify', { kind: 'verify', checks: ['a', 'b', 'c'] }, 'failed', d3 + 3 * MIN, { passed: false, checks: [{ passed: false }, { passed: true }, { passed: false }] });
  h.event(r5, 'rollout.failing', { reason: 'integrity checks failed' }, d3 + 3 * MIN);
  h.action(r5, 'r5.a1.rollback.setTraffic', { kind: 'setTraffic', weights: { '1.1.0': 100, '1.3.0': 0 } }, 'failed', d3 + 4 * MIN);
  h.phase(r5, 'Degraded', d3 + 4 * MIN);

  const r6 = h.rollout({ environment: 'production', version: '1.0.0', stable: '1.1.0', createdMs: 4 * DAY, manual: true });
  h.phase(r6, 'Healthy', 4 * DAY + 10 * MIN);
  const r7 = h.rollout({ environment: 'staging', version: '1.3.0', stable: '1.1.0', createdMs: 5 * DAY });
  h.event(r7, 'rollout.aborting', { reason: 'aborted by ann' }, 5 * DAY + MIN);
  h.phase(r7, 'Aborted', 5 * DAY + 2 * MIN);
  const r8 = h.rollout({ environment: 'production', version: '1.3.0', stable: '1.0.0', createdMs: 6 * DAY });
  h.phase(r8, 'Healthy', 6 * DAY + HOUR);
  h.event(null, 'reconcile.repaired', { differences: [{ key: ['1'] }, { key: ['2'] }, { key: ['3'] }] }, 7 * DAY, null);
  const r9 = h.rollout({ environment: 'production', version: '1.3.0', createdMs: 11 * DAY });
  h.event(r9, 'rollout.failing', { reason: 'late' }, 11 * DAY + MIN);
  return h;
}

const period = { since: new Date(at(0)), until: new Date(at(10 * DAY)) };

describe('deliveryReport on a hand-computed history', () => {
  const report = deliveryReport(shopHistory().input, { ...period, app: 'shop' });

  it('counts production deployments of new releases, per day and week, and per environment', () => {
    expect(report.production).toEqual(['shop/production']);
    expect(report.deploymentFrequency).toMatchObject({ count: 2, perDay: 0.2 });
    expect(report.deploymentFrequency.perWeek).toBeCloseTo(1.4, 10);
    expect(report.deploymentFrequency.byEnvironment.map((each) => [each.environment, each.count, each.production])).toEqual([
      ['staging', 1, false],
      ['production', 2, true],
    ]);
  });

  it('measures lead time from release creation to production Healthy', () => {
    // R3: 5 h; R8: day 6 +1h - day 3 = 73 h
    expect(report.leadTime).toMatchObject({ count: 2, medianMs: 39 * HOUR, meanMs: 39 * HOUR, maxMs: 73 * HOUR });
    expect(report.leadTime.p90Ms).toBeCloseTo(5 * HOUR + 0.9 * 68 * HOUR, 3);
  });

  it('counts change failures, including a Healthy rollout undone by promote rollback', () => {
    expect(report.changeFailureRate).toEqual({ value: 0.75, numerator: 3, denominator: 4, rolledBack: 1, aborted: 0, degraded: 1, rolledBackLater: 1 });
  });

  it('lists rollbacks of every kind with their results', () => {
    const { records, ...rollbacks } = report.rollbacks;
    expect(rollbacks).toMatchObject({ count: 4, automatic: 2, abort: 1, manual: 1, unfinished: 0, successRate: { value: 0.75, numerator: 3, denominator: 4 } });
    expect(rollbacks.perWeek).toBeCloseTo(2.8, 10);
    expect(records.map((each) => [each.rolloutId, each.kind, each.result])).toEqual([
      [4, 'automatic', 'succeeded'],
      [5, 'automatic', 'failed'],
      [6, 'manual', 'succeeded'],
      [7, 'abort', 'succeeded'],
    ]);
  });

  it('times detection and recovery of the production regression from its events', () => {
    expect(report.recovery.incidents).toEqual([
      expect.objectContaining({ rolloutId: 4, version: '1.2.0', mttdMs: 4 * MIN, mttrMs: MIN, reason: 'error-rate: errors 5%' }),
    ]);
    expect(report.recovery.mttd).toMatchObject({ count: 1, medianMs: 4 * MIN, meanMs: 4 * MIN });
    expect(report.recovery.mttr).toMatchObject({ count: 1, medianMs: MIN });
  });

  it('counts migrate steps, an expand undone by its rollout counting as rolled back', () => {
    expect(report.migrations).toEqual({
      value: 0.5,
      numerator: 1,
      denominator: 2,
      rolledBack: 1,
      byPhase: { expand: { succeeded: 2, failed: 0 }, contract: { succeeded: 0, failed: 0 }, rollback: { succeeded: 1, failed: 0 } },
    });
  });

  it('counts failed integrity checks; a reconcile repair without an app is left out of one app\'s report', () => {
    expect(report.integrity).toMatchObject({ verifySteps: 1, verifyFailed: 1, checksFailed: 2, reconcileDifferences: 0, reconcileBatches: 0 });
    const everyApp = deliveryReport(shopHistory().input, period);
    expect(everyApp.integrity).toMatchObject({ reconcileDifferences: 3, reconcileBatches: 1 });
  });

  it('sees nothing at or after until: a report of an earlier period does not change', () => {
    const early = deliveryReport(shopHistory().input, { since: period.since, until: new Date(at(2 * DAY + HOUR + 7 * MIN)), app: 'shop' });
    // R4 has traffic back but is not RolledBack yet: its rollback is unfinished, its incident timed
    expect(early.rollbacks.records).toEqual([expect.objectContaining({ rolloutId: 4, result: 'unfinished' })]);
    expect(early.changeFailureRate).toMatchObject({ numerator: 0, denominator: 1 });
    expect(early.recovery.incidents).toEqual([]);
  });

  it('prints every figure with what it was computed from', () => {
    const text = formatReport(report).join('\n');
    expect(text).toContain('change failure rate     75.0%');
    expect(text).toMatch(/lead time\s+median 39\.0 h, p90 2\.8 d, max 3\.0 d/);
    expect(text).toMatch(/MTTD\s+median 4\.0 min, mean 4\.0 min/);
    expect(text).toContain('#4 1.2.0 → production: detected 4.0 min after first traffic, recovered 60.0 s later (error-rate: errors 5%)');
  });
});

describe('deliveryReport on an empty history', () => {
  it('says no data rather than zero or NaN', () => {
    const report = deliveryReport(new History().environments('shop', ['production']).input, period);
    expect(report.changeFailureRate.value).toBeNull();
    expect(report.leadTime).toEqual({ count: 0, medianMs: null, meanMs: null, p90Ms: null, maxMs: null });
    expect(report.deploymentFrequency).toMatchObject({ count: 0, perDay: 0, perWeek: 0 });
    expect(report.rollbacks.successRate.value).toBeNull();
    expect(formatReport(report).join('\n')).toMatch(/change failure rate\s+no data/);
  });
});
