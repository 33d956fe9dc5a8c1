import { describe, expect, it } from 'vitest';
import { regressionTiming, regressionTimings, type TimingEvent } from './timing.js';

const at = (seconds: number) => new Date(Date.UTC(2026, 0, 1) + seconds * 1000).toISOString();
const traffic = (id: string, weights: Record<string, number>, seconds: number): TimingEvent[] => [
  { type: 'action.started', data: { action: { id, kind: 'setTraffic', weights } }, createdAt: at(seconds) },
  { type: 'action.succeeded', data: { action: id }, createdAt: at(seconds) },
];
const event = (type: string, seconds: number, data: Record<string, unknown> = {}): TimingEvent => ({ type, data, createdAt: at(seconds) });

describe('regressionTimings', () => {
  it('times first traffic -> decision -> traffic back, with the first failed measurement since first traffic as evidence', () => {
    const events = [...traffic('a', { '2.0.0': 10, '1.0.0': 90 }, 10), ...traffic('b', { '2.0.0': 50, '1.0.0': 50 }, 20), event('rollout.failing', 25, { reason: 'analysis failed' }), ...traffic('c', { '1.0.0': 100, '2.0.0': 0 }, 27), event('rollout.phase', 40, { to: 'RolledBack' })];
    const measurements = [
      { template: 'latency', takenAt: at(5), verdict: 'Failed', reason: 'before any traffic' },
      { template: 'latency', takenAt: at(15), verdict: 'Successful', reason: 'fine' },
      { template: 'error-rate', takenAt: at(24), verdict: 'Failed', reason: '5% errors' },
      { template: 'error-rate', takenAt: at(30), verdict: 'Failed', reason: 'after the decision' },
    ];
    expect(regressionTiming('2.0.0', events, measurements)).toEqual({ trafficAt: at(10), detectedAt: at(25), recoveredAt: at(27), mttdMs: 15_000, mttrMs: 2_000, reason: 'error-rate: 5% errors' });
  });

  it('gives one timing per failed attempt of a retried rollout, each from its own first traffic', () => {
    const events = [
      ...traffic('a1', { '2.0.0': 10, '1.0.0': 90 }, 0),
      event('rollout.failing', 5, { reason: 'first' }),
      ...traffic('a1.back', { '1.0.0': 100, '2.0.0': 0 }, 6),
      ...traffic('a2', { '2.0.0': 10, '1.0.0': 90 }, 100),
      event('rollout.failing', 130, { reason: 'second' }),
      ...traffic('a2.back', { '1.0.0': 100, '2.0.0': 0 }, 140),
    ];
    expect(regressionTimings('2.0.0', events).map((each) => [each.mttdMs, each.mttrMs, each.reason])).toEqual([
      [5_000, 1_000, 'first'],
      [30_000, 10_000, 'second'],
    ]);
  });

  it('has no timing for a failure before any traffic, for an abort, or for a rollback that ended Degraded', () => {
    expect(regressionTimings('2.0.0', [event('rollout.failing', 1), ...traffic('back', { '1.0.0': 100, '2.0.0': 0 }, 2)])).toEqual([]);
    expect(regressionTimings('2.0.0', [...traffic('a', { '2.0.0': 10 }, 0), event('rollout.aborting', 3), ...traffic('back', { '1.0.0': 100, '2.0.0': 0 }, 4)])).toEqual([]);
    expect(regressionTimings('2.0.0', [...traffic('a', { '2.0.0': 100 }, 0), event('rollout.failing', 3), event('rollout.phase', 4, { to: 'Degraded' })])).toEqual([]);
  });

  it('ends the recovery of a first release (nothing to return traffic to) at RolledBack', () => {
    const events = [...traffic('switch', { '1.0.0': 100 }, 0), event('rollout.failing', 8), event('rollout.phase', 9, { to: 'RolledBack' })];
    expect(regressionTiming('1.0.0', events)).toMatchObject({ mttdMs: 8_000, mttrMs: 1_000 });
  });
});
