import { UsageError } from '../errors.js';
import { appendEvent } from '../store/events.js';
import { checkLimit, checkName, query, toDate, toId, toNullableId, type Queryable, type TransactionClient } from '../store/queryable.js';
import type { FlagScope } from './source.js';
import { FlagNotFoundError } from './store-errors.js';
import { changedPaths } from './store-diff.js';

/** The channel flag servers LISTEN on; the payload is `{ app, environment, revision }` as JSON. */
export const FLAGS_CHANNEL = 'promote_flags';

/** Who changes something and why; `expectedVersion` makes the change conditional on what was read. */
export interface ChangeOptions {
  actor: string;
  reason?: string;
  /** the version the caller read; 0 means "it must not exist yet" */
  expectedVersion?: number;
}

/** One entry of a flag's or segment's history. */
export interface FlagChange {
  id: number;
  app: string;
  /** null for a segment: segments belong to every environment of the app */
  environment: string | null;
  subject: 'flag' | 'segment';
  name: string;
  /** created, updated, enabled, disabled, rollout, variants, archived, restored, deleted */
  action: string;
  actor: string;
  reason: string | null;
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
  /** the JSON paths that differ between before and after (`strategies[0].parameters.rollout`) */
  diff: string[];
  /** the flag's or segment's version after the change */
  version: number | null;
  /** set when a scheduled change made it */
  scheduleId: number | null;
  createdAt: Date;
}

interface ChangeRow {
  id: string;
  app: string;
  environment: string | null;
  subject: 'flag' | 'segment';
  name: string;
  action: string;
  actor: string;
  reason: string | null;
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
  diff: string[];
  version: number | null;
  schedule_id: string | null;
  created_at: Date;
}

const CHANGE_COLUMNS = 'id, app, environment, subject, name, action, actor, reason, before, after, diff, version, schedule_id, created_at';

function toChange(row: ChangeRow): FlagChange {
  return {
    id: toId(row.id),
    app: row.app,
    environment: row.environment,
    subject: row.subject,
    name: row.name,
    action: row.action,
    actor: row.actor,
    reason: row.reason,
    before: row.before,
    after: row.after,
    diff: row.diff,
    version: row.version,
    scheduleId: toNullableId(row.schedule_id),
    createdAt: toDate(row.created_at),
  };
}

export function scopeText(scope: FlagScope): string {
  return `${scope.app}/${scope.environment}`;
}

export function checkActor(options: ChangeOptions, doing: string): void {
  if (typeof options.actor !== 'string' || options.actor.trim() === '') throw new UsageError(`${doing}: the change needs an actor (who makes it)`);
  if (options.expectedVersion !== undefined && (!Number.isSafeInteger(options.expectedVersion) || options.expectedVersion < 0)) {
    throw new UsageError(`${doing}: expectedVersion must be a whole number from 0, got ${String(options.expectedVersion)}`);
  }
}

/** Refuses an app or environment the state store does not know, naming which of the two is missing. */
export async function assertScope(db: Queryable, scope: FlagScope): Promise<void> {
  checkName('app', scope.app);
  checkName('environment', scope.environment);
  const result = await query<{ app_known: boolean; environment_known: boolean }>(
    db,
    `checking app ${scope.app} and environment ${scope.environment}`,
    `select exists (select 1 from promote.apps where name = $1) as app_known,
            exists (select 1 from promote.environments where app = $1 and name = $2) as environment_known`,
    [scope.app, scope.environment],
  );
  const row = result.rows[0]!;
  if (!row.app_known) throw new FlagNotFoundError(`the state store has no app "${scope.app}"`, { hint: 'apps and environments are recorded from promote.yaml (promote flags sync, promote deploy)' });
  if (!row.environment_known) throw new FlagNotFoundError(`app "${scope.app}" has no environment "${scope.environment}" in the state store`, { hint: 'environments are recorded from promote.yaml' });
}

export async function assertApp(db: Queryable, app: string): Promise<void> {
  checkName('app', app);
  const result = await query(db, `checking app ${app}`, 'select 1 from promote.apps where name = $1', [app]);
  if (result.rowCount === 0) throw new FlagNotFoundError(`the state store has no app "${app}"`, { hint: 'apps are recorded from promote.yaml (promote flags sync, promote deploy)' });
}

/**
 * Serialises writers of one flag or segment until the transaction ends, including two that create it at
 * once (a row lock cannot, as there is no row yet). Keys that hash alike only wait for each other.
 */
export async function lockSubject(tx: TransactionClient, key: string): Promise<void> {
  await query(tx, `waiting for other writers of ${key}`, `select pg_advisory_xact_lock(hashtextextended($1, 0))`, [`promote.flags:${key}`]);
}

/** Bumps the revision of one scope; its trigger notifies FLAGS_CHANNEL when the transaction commits. */
export async function bumpRevision(tx: TransactionClient, scope: FlagScope): Promise<number> {
  const result = await query<{ revision: string }>(
    tx,
    `bumping the flag revision of ${scopeText(scope)}`,
    `insert into promote.flag_revisions (app, environment, revision) values ($1, $2, 1)
     on conflict (app, environment) do update set revision = promote.flag_revisions.revision + 1, updated_at = now()
     returning revision`,
    [scope.app, scope.environment],
  );
  return toId(result.rows[0]!.revision);
}

/** The scope's revision now: 0 before its first change. */
export async function currentRevision(db: Queryable, scope: FlagScope): Promise<number> {
  const result = await query<{ revision: string }>(db, `reading the flag revision of ${scopeText(scope)}`, 'select revision from promote.flag_revisions where app = $1 and environment = $2', [scope.app, scope.environment]);
  return result.rows[0] ? toId(result.rows[0].revision) : 0;
}

export interface ChangeRecord {
  app: string;
  environment: string | null;
  subject: 'flag' | 'segment';
  name: string;
  action: string;
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
  version: number | null;
  /** computed from before and after when not given */
  diff?: string[];
  scheduleId?: number | null;
  /** the revisions the change produced, per environment, for the audit event */
  revisions: Record<string, number>;
}

/**
 * Appends the change to the history and to the audit trail, in the caller's transaction: a change is
 * never visible (nor announced) without both.
 */
export async function recordChange(tx: TransactionClient, change: ChangeRecord, options: ChangeOptions): Promise<FlagChange> {
  const diff = change.diff ?? changedPaths(change.before ?? {}, change.after ?? {});
  const reason = options.reason?.trim() ? options.reason : null;
  const result = await query<ChangeRow>(
    tx,
    `recording the change of ${change.subject} ${change.name}`,
    `insert into promote.flag_changes (app, environment, subject, name, action, actor, reason, before, after, diff, version, schedule_id)
     values ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9::jsonb, $10::jsonb, $11, $12)
     returning ${CHANGE_COLUMNS}`,
    [change.app, change.environment, change.subject, change.name, change.action, options.actor, reason, json(change.before), json(change.after), JSON.stringify(diff), change.version, change.scheduleId ?? null],
  );
  const stored = toChange(result.rows[0]!);
  await appendEvent(tx, {
    type: change.subject === 'flag' ? 'flag.changed' : 'flag.segment_changed',
    actor: options.actor,
    app: change.app,
    environment: change.environment,
    data: {
      [change.subject]: change.name,
      action: change.action,
      version: change.version,
      diff,
      changeId: stored.id,
      revisions: change.revisions,
      ...(reason ? { reason } : {}),
      ...(change.scheduleId ? { scheduleId: change.scheduleId } : {}),
    },
  });
  return stored;
}

function json(value: unknown): string | null {
  return value === null || value === undefined ? null : JSON.stringify(value);
}

/** A flag's history in one environment (or a segment's, with `subject: 'segment'`), newest first. */
export async function listChanges(db: Queryable, where: { app: string; environment: string | null; subject: 'flag' | 'segment'; name: string; limit?: number }): Promise<FlagChange[]> {
  const limit = checkLimit(where.limit, 100);
  const result = await query<ChangeRow>(
    db,
    `reading the history of ${where.subject} ${where.name}`,
    `select ${CHANGE_COLUMNS} from promote.flag_changes
      where app = $1 and subject = $2 and name = $3 and environment is not distinct from $4
      order by id desc limit $5`,
    [where.app, where.subject, where.name, where.environment, limit],
  );
  return result.rows.map(toChange);
}
