/**
 * Which audit events are worth telling a person about, and as what. The audit trail records the
 * engine's bookkeeping (actions started and finished, phases); a notification is one of a handful of
 * moments in a rollout's story. Pure: the caller supplies the phase the rollout was in before the event.
 */
import type { NotificationKind } from '../spec/schema-notifications.js';

/** The parts of an audit event the mapping reads (a PromoteEvent fits). */
export interface AuditEventFacts {
  type: string;
  rolloutId: number | null;
  data: Record<string, unknown>;
}

export interface NotificationFacts {
  kind: NotificationKind;
  /** the rollout's phase once the event happened */
  phase: string;
  step?: { index: number; label?: string };
  reason?: string;
}

/** A rollout starts over from these: its first run, or a retry after it ended badly. */
const STARTING_FROM = new Set(['Pending', 'Aborted', 'RolledBack', 'Degraded']);
const ENDINGS: Readonly<Record<string, NotificationKind>> = {
  Paused: 'rollout.paused',
  Healthy: 'rollout.healthy',
  RolledBack: 'rollout.rolledBack',
  Aborted: 'rollout.aborted',
  Degraded: 'rollout.degraded',
};

const text = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : undefined);
const withReason = (reason: string | undefined) => (reason === undefined ? {} : { reason });

/**
 * The notification an audit event stands for, or undefined when it stands for none.
 *
 *   rollout.phase to Progressing from Pending or an ending  -> rollout.started (a retry starts again)
 *   rollout.phase to Paused / Healthy / RolledBack / Aborted / Degraded -> rollout.<that>
 *   step.completed                                           -> step.completed
 *   action.<outcome> of a startAnalysis with verdict Failed  -> analysis.failed (background ones too)
 */
export function notificationFor(event: AuditEventFacts, phaseBefore: string = 'Pending'): NotificationFacts | undefined {
  if (event.rolloutId === null) return undefined;
  const { data } = event;
  if (event.type === 'rollout.phase') {
    const from = text(data.from) ?? phaseBefore;
    const to = text(data.to);
    if (to === undefined) return undefined;
    const reason = text(data.reason);
    if (to === 'Progressing') return STARTING_FROM.has(from) ? { kind: 'rollout.started', phase: to, ...withReason(reason) } : undefined;
    const kind = ENDINGS[to];
    return kind === undefined ? undefined : { kind, phase: to, ...withReason(reason) };
  }
  if (event.type === 'step.completed') {
    const index = typeof data.step === 'number' ? data.step : undefined;
    const label = text(data.label);
    return { kind: 'step.completed', phase: phaseBefore, ...(index === undefined ? {} : { step: { index, ...(label ? { label } : {}) } }), ...withReason(text(data.summary)) };
  }
  if (event.type.startsWith('action.')) {
    const action = text(data.action);
    const outcome = typeof data.outcome === 'object' && data.outcome !== null ? (data.outcome as Record<string, unknown>) : {};
    const match = action === undefined ? null : /\.s(\d+)\.startAnalysis$/.exec(action);
    if (match === null || outcome.verdict !== 'Failed') return undefined;
    return { kind: 'analysis.failed', phase: phaseBefore, step: { index: Number(match[1]) }, ...withReason(text(outcome.detail)) };
  }
  return undefined;
}

/** The phase a rollout is in after `event`, given the one before: only rollout.phase changes it. */
export function phaseAfter(event: AuditEventFacts, phaseBefore: string): string {
  return event.type === 'rollout.phase' ? (text(event.data.to) ?? phaseBefore) : phaseBefore;
}
