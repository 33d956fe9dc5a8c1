/**
 * The outbox's statements, one function each, so the worker and the dual writer read as steps and a
 * test can stop between two of them (the worker's crash window).
 *
 * Legacy side: `<table>` holds one row per queued write (stream, idempotency key unique per stream,
 * payload = the translated row as JSON, applied_at once the next side has it). Next side:
 * `<table>_applied` records every key applied there, in the same transaction as the apply, so a row
 * whose apply committed but whose `applied_at` was never set is recognised and skipped.
 */
import type pg from 'pg';
import { PromoteError, wrapError } from '../errors.js';
import { checkOut } from '../system/pool-checkout.js';

/** A plain lower-case identifier, short enough that `<table>_applied` and `<table>_pending` fit PostgreSQL's 63 bytes. */
export const OUTBOX_TABLE = /^[a-z_][a-z0-9_]{0,49}$/;
export const DEFAULT_OUTBOX_TABLE = 'promote_outbox';

export interface OutboxNames {
  outbox: string;
  applied: string;
  pendingIndex: string;
}

export interface OutboxRow {
  id: string;
  idempotencyKey: string;
  payload: unknown;
}

export function outboxNames(table: string, where: string): OutboxNames {
  if (typeof table !== 'string' || !OUTBOX_TABLE.test(table)) {
    throw new PromoteError(`${where}: the outbox table name must be a plain identifier matching ${String(OUTBOX_TABLE)} (lower case, at most 50 characters, no schema); got ${JSON.stringify(table)}`);
  }
  // the pattern leaves nothing to escape; quoting keeps reserved words (e.g. "order") usable
  return { outbox: `"${table}"`, applied: `"${table}_applied"`, pendingIndex: `"${table}_pending"` };
}

async function run<R extends pg.QueryResultRow>(client: pg.ClientBase | pg.Pool, doing: string, text: string, values: unknown[], hint?: string): Promise<pg.QueryResult<R>> {
  try {
    return await client.query<R>(text, values);
  } catch (error) {
    const missing = (error as { code?: string }).code === '42P01';
    throw wrapError(doing, error, missing || hint !== undefined ? { hint: hint ?? 'create the outbox tables with installOutbox(legacyPool, nextPool, table)' } : {});
  }
}

/** Whether this key was queued already (applied or not). */
export async function outboxHasKey(client: pg.ClientBase, names: OutboxNames, stream: string, key: string): Promise<boolean> {
  const result = await run(client, 'looking up the idempotency key in the outbox', `select 1 from ${names.outbox} where stream = $1 and idempotency_key = $2`, [stream, key]);
  return result.rowCount !== 0;
}

/**
 * Queues one row; false when the key is there already (a concurrent duplicate waits for the first
 * one's transaction, then finds its key). `appliedNow` records a key whose write needs no worker.
 */
export async function insertOutboxRow(client: pg.ClientBase, names: OutboxNames, row: { stream: string; key: string; payload: string | null; appliedNow: boolean }): Promise<boolean> {
  const result = await run(
    client,
    'queueing the write in the outbox',
    `insert into ${names.outbox} (stream, idempotency_key, payload, applied_at) values ($1, $2, $3::jsonb, case when $4::boolean then now() end)
     on conflict (stream, idempotency_key) do nothing returning id`,
    [row.stream, row.key, row.payload, row.appliedNow],
  );
  return result.rowCount !== 0;
}

/** Records a key as applied on the next side; false when it was applied before. */
export async function recordApplied(client: pg.ClientBase, names: OutboxNames, stream: string, key: string, outboxId: string | null): Promise<boolean> {
  const result = await run(
    client,
    'recording the applied key on the next side',
    `insert into ${names.applied} (stream, idempotency_key, outbox_id) values ($1, $2, $3) on conflict (stream, idempotency_key) do nothing returning 1`,
    [stream, key, outboxId],
  );
  return result.rowCount !== 0;
}

/** The oldest rows not yet applied, in id order, up to id `upTo` when given. */
export async function pendingRows(client: pg.ClientBase | pg.Pool, names: OutboxNames, stream: string, limit: number, upTo?: string): Promise<OutboxRow[]> {
  // the text copy has a name of its own: `order by id` must sort the bigint, not its text
  const result = await run<{ outbox_id: string; idempotency_key: string; payload: unknown }>(
    client,
    'reading pending outbox rows',
    `select id::text as outbox_id, idempotency_key, payload from ${names.outbox}
     where stream = $1 and applied_at is null and ($3::bigint is null or id <= $3::bigint) order by id limit $2`,
    [stream, limit, upTo ?? null],
  );
  return result.rows.map((row) => ({ id: row.outbox_id, idempotencyKey: row.idempotency_key, payload: row.payload }));
}

/** The largest id queued so far: a pass stops there, so a steady stream of writes cannot keep it going. */
export async function lastQueuedId(client: pg.ClientBase, names: OutboxNames, stream: string): Promise<string | undefined> {
  const result = await run<{ id: string | null }>(client, 'reading the last outbox id', `select max(id)::text as id from ${names.outbox} where stream = $1 and applied_at is null`, [stream]);
  return result.rows[0]?.id ?? undefined;
}

export async function countPending(client: pg.ClientBase | pg.Pool, names: OutboxNames, stream: string): Promise<number> {
  const result = await run<{ n: string }>(client, 'counting pending outbox rows', `select count(*) as n from ${names.outbox} where stream = $1 and applied_at is null`, [stream]);
  return Number(result.rows[0]?.n ?? 0);
}

export async function hasPending(client: pg.ClientBase, names: OutboxNames, stream: string): Promise<boolean> {
  const result = await run(client, 'checking the outbox for pending rows', `select 1 from ${names.outbox} where stream = $1 and applied_at is null limit 1`, [stream]);
  return result.rowCount !== 0;
}

/** Marks rows applied: only ever after the next side's transaction that applied them committed. */
export async function markApplied(client: pg.ClientBase | pg.Pool, names: OutboxNames, ids: string[]): Promise<void> {
  await run(client, 'marking outbox rows applied', `update ${names.outbox} set applied_at = now() where id = any($1::bigint[]) and applied_at is null`, [ids]);
}

/**
 * Applies rows in order inside the caller's next-side transaction: each key is recorded first, and
 * a key recorded before (the worker died before marking it) is skipped. Returns how many were applied.
 */
export async function applyRows(client: pg.ClientBase, names: OutboxNames, stream: string, rows: OutboxRow[], apply: (client: pg.ClientBase, payload: unknown) => Promise<void>): Promise<number> {
  let applied = 0;
  for (const row of rows) {
    if (!(await recordApplied(client, names, stream, row.idempotencyKey, row.id))) continue;
    await apply(client, row.payload);
    applied += 1;
  }
  return applied;
}

/** The session advisory lock that makes one worker per outbox stream the applier. */
export function workerLockName(table: string, stream: string): string {
  return `promote_outbox:${table}:${stream}`;
}

export async function installOutboxTables(pool: pg.Pool, names: OutboxNames, side: 'legacy' | 'next'): Promise<void> {
  const client = await checkOut(pool).catch((error: unknown) => Promise.reject(wrapError(`installing the outbox (${side} side): connecting`, error)));
  let broken: Error | undefined;
  try {
    await client.query('begin');
    // concurrent CREATE ... IF NOT EXISTS can still collide on the catalog; one installer at a time
    await client.query(`select pg_advisory_xact_lock(hashtextextended('promote_outbox_install', 0))`);
    if (side === 'legacy') {
      await client.query(`create table if not exists ${names.outbox} (
        id bigint generated always as identity primary key,
        stream text not null,
        idempotency_key text not null,
        payload jsonb,
        created_at timestamptz not null default now(),
        applied_at timestamptz,
        unique (stream, idempotency_key)
      )`);
      await client.query(`create index if not exists ${names.pendingIndex} on ${names.outbox} (stream, id) where applied_at is null`);
    } else {
      await client.query(`create table if not exists ${names.applied} (
        stream text not null,
        idempotency_key text not null,
        outbox_id bigint,
        applied_at timestamptz not null default now(),
        primary key (stream, idempotency_key)
      )`);
    }
    await client.query('commit');
  } catch (error) {
    await client.query('rollback').catch((rollbackError: unknown) => {
      broken = rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError));
    });
    throw wrapError(`installing the outbox (${side} side)`, error);
  } finally {
    client.release(broken);
  }
}

/** The lowest id of the stream's rows not yet marked applied; none pending: undefined. */
export async function firstPendingId(client: pg.ClientBase | pg.Pool, names: OutboxNames, stream: string): Promise<string | undefined> {
  const result = await run<{ id: string | null }>(client, 'finding the first pending outbox row', `select min(id)::text as id from ${names.outbox} where stream = $1 and applied_at is null`, [stream]);
  return result.rows[0]?.id ?? undefined;
}

/**
 * Forgets what was applied longer than `olderThanMs` ago. A `<table>_applied` record is what stops a
 * re-apply, so it goes only once every outbox row up to its id is marked applied (below `beforeId`).
 */
export async function pruneApplied(next: pg.Pool, legacy: pg.Pool, names: OutboxNames, stream: string, olderThanMs: number, beforeId: string | undefined): Promise<{ outbox: number; applied: number }> {
  const age = `${Math.floor(olderThanMs)} milliseconds`;
  const applied = await run(next, 'pruning old records of applied outbox keys', `delete from ${names.applied} where stream = $1 and applied_at < now() - $2::interval and ($3::bigint is null or outbox_id is null or outbox_id < $3::bigint)`, [stream, age, beforeId ?? null]);
  const outbox = await run(legacy, 'pruning old applied outbox rows', `delete from ${names.outbox} where stream = $1 and applied_at < now() - $2::interval`, [stream, age]);
  return { outbox: outbox.rowCount ?? 0, applied: applied.rowCount ?? 0 };
}
