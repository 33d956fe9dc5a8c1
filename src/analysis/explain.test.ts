import { describe, expect, it } from 'vitest';
import type { Measurement } from '../store/analysis.js';
import type { PromoteEvent } from '../store/events.js';
import { explainRollout } from './explain.js';

const at = (second: number) => new Date(Date.UTC(2026, 10, 23, 5, 0, second));
let seq = 0;
const event = (second: number, type: string, data: Record<string, unknown>, actor = 'controller'): PromoteEvent => ({
  seq: ++seq,
  type,
  actor,
  app: 'shop',
  environment: 'staging',
  rolloutId: 4,
  data,
  createdAt: at(second),
  prevHash: '',
  hash: '',
});
const measurement = (second: number, template: string, seqNo: number, verdict: Measurement['verdict'], reason: string, extra: Partial<Measurement> = {}): Measurement => ({
  id: seqNo,
  rolloutId: 4,
  actionId: 'r4.a1.s1.startAnalysis',
  template,
  seq: seqNo,
  takenAt: at(second),
  verdict,
  reason,
  dryRun: false,
  critical: false,
  candidate: { version: 'v2', value: 0.21, events: 42, total: 200, support: 200 },
  baseline: null,
  statistics: {},
  ...extra,
});

describe('explainRollout', () => {
  it('tells the decisions in order, with the measurements behind the analysis that rolled back', () => {
    const lines = explainRollout({
      rollout: { id: 4, app: 'shop', environment: 'staging', phase: 'RolledBack', phaseReason: 'analysis errors failed; traffic is back on v1' },
      events: [
        event(0, 'rollout.created', {}, 'alice'),
        event(1, 'rollout.phase', { from: 'Pending', to: 'Progressing', reason: 'rolling out v2' }),
        event(2, 'step.completed', { step: 0, label: 'setWeight 50', summary: 'v2 at 50%' }),
        event(2, 'action.started', { action: { id: 'r4.a1.s1.startAnalysis' } }),
        event(9, 'action.succeeded', { action: 'r4.a1.s1.startAnalysis', outcome: { status: 'succeeded', verdict: 'Failed', detail: 'errors failed: 2 failed measurement(s)' } }),
        event(9, 'rollout.failing', { step: 1, reason: 'analysis errors failed' }),
        event(10, 'rollout.phase', { from: 'Progressing', to: 'RolledBack', reason: 'analysis errors failed; traffic is back on v1' }),
      ],
      measurements: [
        measurement(4, 'errors', 1, 'Failed', 'value 0.21 is not < 0.05'),
        measurement(5, 'latency', 1, 'Successful', 'no real change', { candidate: { version: 'v2', samples: { n: 300, p50: 12.5, p99: 40.25 } }, baseline: { version: 'v1', samples: { n: 310, p50: 12.1, p99: 39.5 } }, statistics: { test: 'mannWhitney', pValue: 0.41, interval: [-0.5, 1.25], estimate: 0.3 } }),
        measurement(6, 'errors', 2, 'Failed', 'value 0.19 is not < 0.05'),
      ],
    });
    expect(lines).toEqual([
      'rollout #4 of shop to staging: RolledBack, analysis errors failed; traffic is back on v1',
      '',
      '05:00:00  rollout created by alice',
      '05:00:01  Pending -> Progressing: rolling out v2',
      '05:00:02  step 1 (setWeight 50) done: v2 at 50%',
      '05:00:09  analysis r4.a1.s1.startAnalysis: Failed, errors failed: 2 failed measurement(s)',
      '          errors: 2 measurement(s), 2 Failed',
      '            #1 05:00:04 Failed: value 0.21 is not < 0.05',
      '               candidate v2: value 0.21, 42/200',
      '            #2 05:00:06 Failed: value 0.19 is not < 0.05',
      '               candidate v2: value 0.21, 42/200',
      '          latency: 1 measurement(s), 1 Successful',
      '            #1 05:00:05 Successful: no real change',
      '               candidate v2: 300 samples, p50 12.5, p99 40.25; baseline v1: 310 samples, p50 12.1, p99 39.5',
      '               test mannWhitney, pValue 0.41, interval [-0.5, 1.25], estimate 0.3',
      '05:00:09  rolling back at step 2: analysis errors failed',
      '05:00:10  Progressing -> RolledBack: analysis errors failed; traffic is back on v1',
    ]);
  });

  it('shows the measurements of an analysis still running, and only the last few unless asked for all', () => {
    const many = Array.from({ length: 8 }, (_, index) => measurement(index, 'errors', index + 1, 'NoData', `${index} requests, 20 needed`, { candidate: null }));
    const input = { rollout: { id: 4, app: 'shop', environment: 'staging', phase: 'Progressing', phaseReason: null }, events: [], measurements: many };
    const lines = explainRollout(input);
    expect(lines.slice(2, 5)).toEqual(['05:00:00  analysis r4.a1.s1.startAnalysis (still running)', '          errors: 8 measurement(s), 8 NoData', '            ... 3 earlier (--all shows them)']);
    expect(lines.filter((line) => line.includes('requests, 20 needed'))).toHaveLength(5);
    expect(explainRollout({ ...input, all: true }).filter((line) => line.includes('requests, 20 needed'))).toHaveLength(8);
  });
});
