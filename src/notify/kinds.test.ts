import { describe, expect, it } from 'vitest';
import { notificationFor, phaseAfter, type AuditEventFacts } from './kinds.js';

const event = (type: string, data: Record<string, unknown>, rolloutId: number | null = 7): AuditEventFacts => ({ type, rolloutId, data });
const phase = (from: string, to: string, reason = 'why') => event('rollout.phase', { from, to, reason });

describe('which audit events become notifications', () => {
  it('a rollout starting, and starting again on retry, is rollout.started; resuming is not', () => {
    expect(notificationFor(phase('Pending', 'Progressing', 'rolling out 2.0.0'))).toEqual({ kind: 'rollout.started', phase: 'Progressing', reason: 'rolling out 2.0.0' });
    expect(notificationFor(phase('RolledBack', 'Progressing', 'retried by ann (attempt 2)'))?.kind).toBe('rollout.started');
    expect(notificationFor(phase('Paused', 'Progressing', 'resumed by ann'))).toBeUndefined();
  });

  it('each other phase a rollout reaches is its own kind', () => {
    expect(notificationFor(phase('Progressing', 'Paused', 'paused at step 2 until resumed'))).toEqual({ kind: 'rollout.paused', phase: 'Paused', reason: 'paused at step 2 until resumed' });
    expect(notificationFor(phase('Progressing', 'Healthy'))?.kind).toBe('rollout.healthy');
    expect(notificationFor(phase('Progressing', 'RolledBack'))?.kind).toBe('rollout.rolledBack');
    expect(notificationFor(phase('Paused', 'Aborted'))?.kind).toBe('rollout.aborted');
    expect(notificationFor(phase('Progressing', 'Degraded'))?.kind).toBe('rollout.degraded');
  });

  it('a completed step names its step and carries the phase it happened in', () => {
    expect(notificationFor(event('step.completed', { step: 1, label: 'setWeight 50', summary: '50% of traffic on v2' }), 'Progressing')).toEqual({
      kind: 'step.completed',
      phase: 'Progressing',
      step: { index: 1, label: 'setWeight 50' },
      reason: '50% of traffic on v2',
    });
  });

  it('an analysis whose verdict is Failed is analysis.failed, in the foreground or background; other outcomes are not', () => {
    const outcome = (action: string, verdict: string | undefined, status = 'succeeded') => event(`action.${status}`, { action, outcome: { status, ...(verdict ? { verdict } : {}), detail: 'errors: 3 of 4 measurements failed' } });
    expect(notificationFor(outcome('r7.a1.s2.startAnalysis', 'Failed'), 'Progressing')).toEqual({ kind: 'analysis.failed', phase: 'Progressing', step: { index: 2 }, reason: 'errors: 3 of 4 measurements failed' });
    expect(notificationFor(outcome('r7.a2.s0.startAnalysis', 'Failed'))?.step).toEqual({ index: 0 });
    expect(notificationFor(outcome('r7.a1.s2.startAnalysis', 'Successful'))).toBeUndefined();
    expect(notificationFor(outcome('r7.a1.s2.startAnalysis', 'Inconclusive'))).toBeUndefined();
    expect(notificationFor(outcome('r7.a1.s2.startAnalysis', undefined, 'failed'))).toBeUndefined();
    expect(notificationFor(outcome('r7.a1.s2.runTest', 'Failed', 'failed'))).toBeUndefined();
  });

  it('bookkeeping and events outside rollouts are not notifications', () => {
    for (const type of ['rollout.created', 'action.started', 'rollout.failing', 'rollout.switched', 'approval.recorded']) expect(notificationFor(event(type, { action: 'r7.a1.s0.deploy' }))).toBeUndefined();
    expect(notificationFor(event('rollout.phase', { from: 'Pending', to: 'Progressing' }, null))).toBeUndefined();
  });

  it('tracks the phase through phase changes only', () => {
    expect(phaseAfter(phase('Progressing', 'Paused'), 'Progressing')).toBe('Paused');
    expect(phaseAfter(event('step.completed', { step: 0 }), 'Paused')).toBe('Paused');
  });
});
