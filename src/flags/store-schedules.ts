import { UsageError } from '../errors.js';
import { appendEvent } from '../store/events.js';
import { query, rethrow, toDate, toId, withTransaction, type Queryable, type TransactionClient } from '../store/queryable.js';
import type pg from 'pg';
import type { FlagScope } from './source.js';
import { assertScope, checkActor, scopeText, type ChangeOptions } from './store-changes.js';
import { FlagNotFoundError, FlagValidationError, validateFlag } from './store-errors.js';
import { archiveFlag, disableFlag, enableFlag, putFlag, requireFlag, setFlagRollout, setVariantWeights, type FlagWrite } from './store-flags.js';

/** What a schedule does when its time comes: the same operations as the admin API. */
export type ScheduledChange =
  | { action: 'enable' }
  | { action: 'disable' }
  | { action: 'rollout'; percent: number }
  | { action: 'variants'; weights: Record<string, number> }
  | { action: 'put'; flag: Record<string, unknown> }
  | { action: 'archive' };

export const SCHEDULE_STATUSES = ['pending', 'applied', 'cancelled', 'failed'] as const;
export type ScheduleStatus = (typeof SCHEDULE_STATUSES)[number];

export interface FlagSchedule {
  id: number;
  app: string;
  environment: string;
  flag: string;
  applyAt: Date;
  change: ScheduledChange;
  createdBy: string;
  reason: string | null;
  status: ScheduleStatus;
  /** why it failed, when it did */
  error: string | null;
  /** who cancelled it, or who applied it (the one who scheduled it) */
  finishedBy: string | null;
  finishedAt: Date | null;
  createdAt: Date;
}

interface ScheduleRow {
  id: string;
  app: string;
  environment: string;
  flag: string;
  apply_at: Date;
  change: ScheduledChange;
  created_by: string;
  reason: string | null;
  status: ScheduleStatus;
  error: string | null;
  finished_by: string | null;
  finished_at: Date | null;
  created_at: Date;
}

const COLUMNS = 'id, app, environment, flag, apply_at, change, created_by, reason, status, error, finished_by, finished_at, created_at';

function toSchedule(row: ScheduleRow): FlagSchedule {
  return {
    id: toId(row.id),
    app: row.app,
    environment: row.environment,
    flag: row.flag,
    applyAt: toDate(row.apply_at),
    change: row.change,
    createdBy: row.created_by,
    reason: row.reason,
    status: row.status,
    error: row.error,
    finishedBy: row.finished_by,
    finishedAt: row.finished_at ? toDate(row.finished_at) : null,
    createdAt: toDate(row.created_at),
  };
}

/** Checks a change before it is stored, so a schedule fails at its time only for reasons of that time. */
export function checkScheduledChange(flag: string, change: unknown): ScheduledChange {
  const bad = (field: string, message: string) => new FlagValidationError(`the scheduled change of flag "${flag}"`, [{ field, path: field.split('.'), message }]);
  if (typeof change !== 'object' || change === null) throw bad('change', 'expected an object with an action');
  const { action } = change as { action?: unknown };
  const fields = Object.keys(change);
  const only = (...allowed: string[]) => {
    const extra = fields.filter((field) => !['action', ...allowed].includes(field));
    if (extra.length > 0) throw bad(extra[0]!, `unknown field "${extra[0]!}" for action ${String(action)}`);
  };
  switch (action) {
    case 'enable':
    case 'disable':
    case 'archive':
      only();
      return { action };
    case 'rollout': {
      only('percent');
      const { percent } = change as { percent?: unknown };
      if (typeof percent !== 'number' || !Number.isInteger(percent) || percent < 0 || percent > 100) throw bad('percent', `expected a whole number from 0 to 100, got ${JSON.stringify(percent)}`);
      return { action, percent };
    }
    case 'variants': {
      only('weights');
      const { weights } = change as { weights?: unknown };
      if (typeof weights !== 'object' || weights === null || Array.isArray(weights) || Object.keys(weights).length === 0) throw bad('weights', 'expected an object of variant name -> weight out of 1000');
      for (const [name, weight] of Object.entries(weights)) {
        if (typeof weight !== 'number' || !Number.isInteger(weight) || weight < 0 || weight > 1000) throw bad(`weights.${name}`, `expected a whole number from 0 to 1000, got ${JSON.stringify(weight)}`);
      }
      return { action, weights: weights as Record<string, number> };
    }
    case 'put': {
      only('flag');
      const definition = validateFlag((change as { flag?: unknown }).flag);
      if (definition.name !== flag) throw bad('flag.name', `must be "${flag}", the flag this schedule changes, got "${definition.name}"`);
      return { action, flag: definition };
    }
    default:
      throw bad('action', `expected one of enable, disable, rollout, variants, put, archive, got ${JSON.stringify(action)}`);
  }
}

/** Plans a change of a flag for a later time. The flag must exist, unless the change creates it (`put`). */
export async function scheduleFlagChange(db: Queryable, scope: FlagScope, input: { flag: string; applyAt: Date; change: unknown; actor: string; reason?: string }): Promise<FlagSchedule> {
  const doing = `scheduling a change of flag ${input.flag} of ${scopeText(scope)}`;
  checkActor({ actor: input.actor }, doing);
  const change = checkScheduledChange(input.flag, input.change);
  if (!(input.applyAt instanceof Date) || Number.isNaN(input.applyAt.getTime())) throw new UsageError(`${doing}: applyAt must be a valid time`);
  try {
    return await withTransaction(db, async (tx) => {
      await assertScope(tx, scope);
      if (change.action !== 'put') await requireFlag(tx, scope, input.flag);
      const result = await query<ScheduleRow>(
        tx,
        doing,
        `insert into promote.flag_schedules (app, environment, flag, apply_at, change, created_by, reason) values ($1, $2, $3, $4, $5::jsonb, $6, $7) returning ${COLUMNS}`,
        [scope.app, scope.environment, input.flag, input.applyAt, JSON.stringify(change), input.actor, input.reason?.trim() ? input.reason : null],
      );
      const schedule = toSchedule(result.rows[0]!);
      await appendEvent(tx, { type: 'flag.scheduled', actor: input.actor, app: scope.app, environment: scope.environment, data: { flag: input.flag, scheduleId: schedule.id, applyAt: schedule.applyAt.toISOString(), change, ...(schedule.reason ? { reason: schedule.reason } : {}) } });
      return schedule;
    });
  } catch (error) {
    rethrow(doing, error);
  }
}

/** The scope's schedules (of one flag, or with one status), by time. */
export async function listSchedules(db: Queryable, scope: FlagScope, options: { flag?: string; status?: ScheduleStatus } = {}): Promise<FlagSchedule[]> {
  const doing = `listing the scheduled flag changes of ${scopeText(scope)}`;
  try {
    await assertScope(db, scope);
    const result = await query<ScheduleRow>(
      db,
      doing,
      `select ${COLUMNS} from promote.flag_schedules where app = $1 and environment = $2 and ($3::text is null or flag = $3) and ($4::text is null or status = $4) order by apply_at, id`,
      [scope.app, scope.environment, options.flag ?? null, options.status ?? null],
    );
    return result.rows.map(toSchedule);
  } catch (error) {
    rethrow(doing, error);
  }
}

/** Cancels a pending schedule; one that has already run (or been cancelled) is reported as such. */
export async function cancelSchedule(db: Queryable, scope: FlagScope, id: number, options: ChangeOptions): Promise<FlagSchedule> {
  const doing = `cancelling scheduled flag change #${id} of ${scopeText(scope)}`;
  checkActor(options, doing);
  try {
    return await withTransaction(db, async (tx) => {
      const found = (await query<ScheduleRow>(tx, doing, `select ${COLUMNS} from promote.flag_schedules where id = $1 and app = $2 and environment = $3 for update`, [id, scope.app, scope.environment])).rows[0];
      if (!found) throw new FlagNotFoundError(`${scopeText(scope)} has no scheduled flag change #${id}`);
      if (found.status !== 'pending') throw new UsageError(`scheduled change #${id} of flag ${found.flag} is already ${found.status}${found.finished_at ? ` (${toDate(found.finished_at).toISOString()})` : ''}`);
      const result = await query<ScheduleRow>(tx, doing, `update promote.flag_schedules set status = 'cancelled', finished_by = $2, finished_at = now() where id = $1 returning ${COLUMNS}`, [id, options.actor]);
      await appendEvent(tx, { type: 'flag.schedule_cancelled', actor: options.actor, app: scope.app, environment: scope.environment, data: { flag: found.flag, scheduleId: id, ...(options.reason ? { reason: options.reason } : {}) } });
      return toSchedule(result.rows[0]!);
    });
  } catch (error) {
    rethrow(doing, error);
  }
}

function applyChange(tx: TransactionClient, schedule: FlagSchedule): Promise<FlagWrite> {
  const scope = { app: schedule.app, environment: schedule.environment };
  const options = { actor: schedule.createdBy, reason: schedule.reason ?? `scheduled change #${schedule.id}`, scheduleId: schedule.id };
  const change = schedule.change;
  switch (change.action) {
    case 'enable':
      return enableFlag(tx, scope, schedule.flag, options);
    case 'disable':
      return disableFlag(tx, scope, schedule.flag, options);
    case 'rollout':
      return setFlagRollout(tx, scope, schedule.flag, change.percent, options);
    case 'variants':
      return setVariantWeights(tx, scope, schedule.flag, change.weights, options);
    case 'put':
      return putFlag(tx, scope, change.flag, { ...options, name: schedule.flag });
    case 'archive':
      return archiveFlag(tx, scope, schedule.flag, options);
  }
}

export interface ScheduleRun {
  applied: FlagSchedule[];
  failed: FlagSchedule[];
}

/**
 * Applies every pending schedule due at `now`, oldest first, each in its own transaction: the change,
 * its history entry, its audit event and the schedule's new status commit together. A change that
 * fails (the flag was archived meanwhile, the result no longer validates) marks its schedule failed
 * with the reason and the next one still runs. Several processes may run this at once: a schedule is
 * claimed with FOR UPDATE SKIP LOCKED and applied exactly once.
 */
export async function applyDueFlagSchedules(pool: pg.Pool, now: Date = new Date()): Promise<ScheduleRun> {
  const run: ScheduleRun = { applied: [], failed: [] };
  for (;;) {
    const outcome = await withTransaction(pool, async (tx) => {
      const claimed = (await query<ScheduleRow>(tx, 'claiming a due scheduled flag change', `select ${COLUMNS} from promote.flag_schedules where status = 'pending' and apply_at <= $1 order by apply_at, id limit 1 for update skip locked`, [now])).rows[0];
      if (!claimed) return undefined;
      const schedule = toSchedule(claimed);
      const doing = `applying scheduled change #${schedule.id} of flag ${schedule.flag}`;
      try {
        // a savepoint: a failed change is undone, and its failure is still recorded below
        const written = await withTransaction(tx, (inner) => applyChange(inner, schedule));
        const result = await query<ScheduleRow>(tx, doing, `update promote.flag_schedules set status = 'applied', finished_by = created_by, finished_at = now() where id = $1 returning ${COLUMNS}`, [schedule.id]);
        // the schedule's own end, even when the change found the flag already so (no flag.changed then)
        await appendEvent(tx, { type: 'flag.schedule_applied', actor: schedule.createdBy, app: schedule.app, environment: schedule.environment, data: { flag: schedule.flag, scheduleId: schedule.id, changed: written.change !== null, by: 'scheduler' } });
        return { status: 'applied' as const, schedule: toSchedule(result.rows[0]!) };
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        const result = await query<ScheduleRow>(tx, doing, `update promote.flag_schedules set status = 'failed', error = $2, finished_by = created_by, finished_at = now() where id = $1 returning ${COLUMNS}`, [schedule.id, message]);
        await appendEvent(tx, { type: 'flag.schedule_failed', actor: schedule.createdBy, app: schedule.app, environment: schedule.environment, data: { flag: schedule.flag, scheduleId: schedule.id, error: message } });
        return { status: 'failed' as const, schedule: toSchedule(result.rows[0]!) };
      }
    });
    if (!outcome) return run;
    run[outcome.status].push(outcome.schedule);
  }
}
