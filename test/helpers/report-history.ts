/**
 * Builds report input by hand, event by event, the way the engine records a rollout: tests of the
 * delivery report write a history whose figures they computed on paper.
 */
import type { ReportInput } from '../../src/report/input.js';

export const T0 = Date.parse('2026-01-01T00:00:00.000Z');
export const MIN = 60_000;
export const HOUR = 60 * MIN;
export const DAY = 24 * HOUR;
export const at = (ms: number) => new Date(T0 + ms).toISOString();

export class History {
  readonly input: ReportInput = { environments: [], releases: [], rollouts: [], events: [], measurements: [] };
  private seq = 0;

  environments(app: string, names: string[]): this {
    this.input.environments.push({ app, names });
    return this;
  }

  release(app: string, version: string, createdMs: number): number {
    const id = this.input.releases.length + 1;
    this.input.releases.push({ id, app, version, createdAt: at(createdMs) });
    return id;
  }

  /** A rollout created at `createdMs`, Progressing at once. */
  rollout(options: { app?: string; environment: string; version: string; stable?: string; createdMs: number; manual?: boolean }): number {
    const app = options.app ?? 'shop';
    const releaseOf = (version: string) => this.input.releases.find((release) => release.app === app && release.version === version)!.id;
    const id = this.input.rollouts.length + 1;
    this.input.rollouts.push({ id, app, environment: options.environment, releaseId: releaseOf(options.version), stableReleaseId: options.stable === undefined ? null : releaseOf(options.stable), createdAt: at(options.createdMs) });
    this.event(id, 'rollout.created', { version: options.version, ...(options.manual ? { rollback: true } : {}) }, options.createdMs);
    this.event(id, 'rollout.phase', { from: 'Pending', to: 'Progressing' }, options.createdMs);
    return id;
  }

  event(rolloutId: number | null, type: string, data: Record<string, unknown>, ms: number, app: string | null = 'shop'): this {
    const rollout = this.input.rollouts.find((each) => each.id === rolloutId);
    this.input.events.push({ seq: ++this.seq, type, app: rollout?.app ?? app, environment: rollout?.environment ?? null, rolloutId, data, createdAt: at(ms) });
    return this;
  }

  phase(rolloutId: number, to: string, ms: number): this {
    return this.event(rolloutId, 'rollout.phase', { to }, ms);
  }

  /** An action recorded as started and finished at `ms` (the engine records both; only the end matters here). */
  action(rolloutId: number, id: string, action: Record<string, unknown>, status: 'succeeded' | 'failed', ms: number, evidence?: unknown): this {
    this.event(rolloutId, 'action.started', { action: { id, ...action } }, ms);
    return this.event(rolloutId, `action.${status}`, { action: id, outcome: { status, ...(evidence === undefined ? {} : { evidence }) } }, ms);
  }

  measurement(rolloutId: number, template: string, verdict: string, reason: string, ms: number): this {
    this.input.measurements.push({ rolloutId, template, verdict, reason, takenAt: at(ms) });
    return this;
  }
}
