/**
 * Reads what the delivery report needs from the store. Rollouts are read when they were created before
 * `until` and either finished recently enough to matter or are still open; their events and measurements
 * come whole, so a rollout that started before the period and ended in it is judged on its full story.
 */
import { query, rethrow, toId, type Queryable } from '../store/queryable.js';
import { deliveryReport } from './compute.js';
import type { ReportInput, ReportPeriod } from './input.js';
import type { DeliveryReport } from './types.js';

/** The event types the report reads: the rest of the audit trail (flag changes, traffic) is not needed. */
const EVENT_TYPES = ['rollout.created', 'rollout.phase', 'rollout.failing', 'rollout.aborting', 'action.started', 'action.succeeded', 'action.failed'];
const RECONCILE_TYPES = ['reconcile.repaired', 'reconcile.flagged'];

export async function loadReportInput(db: Queryable, period: ReportPeriod): Promise<ReportInput> {
  const doing = `reading the delivery history${period.app === undefined ? '' : ` of ${period.app}`} for the report`;
  try {
    const app = period.app ?? null;
    const environments = await query<{ app: string; names: string[] }>(
      db,
      doing,
      'select app, array_agg(name order by position) as names from promote.environments where ($1::text is null or app = $1) group by app order by app',
      [app],
    );
    // rollouts touched in the period (updated_at moves with every decision), or created before it and
    // still open then; a `promote rollback` needs the earlier Healthy rollout it undoes, so each
    // environment's rollouts reach back to its last Healthy one before the period
    const rollouts = await query<{ id: string; app: string; environment: string; release_id: string; stable_release_id: string | null; created_at: Date }>(
      db,
      doing,
      `select o.id, o.app, o.environment, o.release_id, o.stable_release_id, o.created_at from promote.rollouts o
        where ($1::text is null or o.app = $1) and o.created_at < $3
          and (o.updated_at >= $2 or o.id >= coalesce((select max(p.id) from promote.rollouts p
                where p.app = o.app and p.environment = o.environment and p.phase = 'Healthy' and p.updated_at < $2), 0))
        order by o.id`,
      [app, period.since, period.until],
    );
    const ids = rollouts.rows.map((row) => toId(row.id));
    const releaseIds = [...new Set(rollouts.rows.map((row) => toId(row.release_id)))];
    const [releases, events, reconciles, measurements] = await Promise.all([
      query<{ id: string; app: string; version: string; created_at: Date }>(db, doing, 'select id, app, version, created_at from promote.releases where id = any($1::bigint[])', [releaseIds]),
      query<EventRow>(db, doing, 'select seq, type, app, environment, rollout_id, data, created_at from promote.events where rollout_id = any($1::bigint[]) and type = any($2::text[]) and created_at < $3 order by seq', [ids, EVENT_TYPES, period.until]),
      query<EventRow>(
        db,
        doing,
        'select seq, type, app, environment, rollout_id, data, created_at from promote.events where type = any($1::text[]) and created_at >= $2 and created_at < $3 and ($4::text is null or app = $4) order by seq',
        [RECONCILE_TYPES, period.since, period.until, app],
      ),
      query<{ rollout_id: string; template: string; taken_at: Date; verdict: string; reason: string }>(
        db,
        doing,
        `select rollout_id, template, taken_at, verdict, reason from promote.analysis_measurements where rollout_id = any($1::bigint[]) and verdict = 'Failed' and taken_at < $2 order by taken_at`,
        [ids, period.until],
      ),
    ]);
    return {
      environments: environments.rows,
      releases: releases.rows.map((row) => ({ id: toId(row.id), app: row.app, version: row.version, createdAt: iso(row.created_at) })),
      rollouts: rollouts.rows.map((row) => ({
        id: toId(row.id),
        app: row.app,
        environment: row.environment,
        releaseId: toId(row.release_id),
        stableReleaseId: row.stable_release_id === null ? null : toId(row.stable_release_id),
        createdAt: iso(row.created_at),
      })),
      events: [...events.rows, ...reconciles.rows].map((row) => ({
        seq: toId(row.seq),
        type: row.type,
        app: row.app,
        environment: row.environment,
        rolloutId: row.rollout_id === null ? null : toId(row.rollout_id),
        data: row.data,
        createdAt: iso(row.created_at),
      })),
      measurements: measurements.rows.map((row) => ({ rolloutId: toId(row.rollout_id), template: row.template, takenAt: iso(row.taken_at), verdict: row.verdict, reason: row.reason })),
    };
  } catch (error) {
    rethrow(doing, error);
  }
}

/** Reads the history and computes the report: what `promote report` and GET /api/report answer. */
export async function buildDeliveryReport(db: Queryable, period: ReportPeriod): Promise<DeliveryReport> {
  return deliveryReport(await loadReportInput(db, period), period);
}

interface EventRow {
  seq: string;
  type: string;
  app: string | null;
  environment: string | null;
  rollout_id: string | null;
  data: Record<string, unknown>;
  created_at: Date;
}

function iso(value: Date | string): string {
  return (value instanceof Date ? value : new Date(value)).toISOString();
}
