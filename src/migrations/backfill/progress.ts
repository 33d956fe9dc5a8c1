/**
 * The backfill's cursor lives in the app's database, written in the same transaction as the batch it
 * describes: after a crash, a kill or a server restart the cursor and the rows it covers are either
 * both committed or both not, so a resumed run starts exactly after the last committed batch.
 */
import type pg from 'pg';
import { wrapError } from '../../errors.js';
import { STATE_SCHEMA } from '../names.js';
import { ident, literal, qualified } from '../sql.js';

export type BackfillPhase = 'keyset' | 'sweep' | 'done';

export interface BackfillCursor {
  phase: BackfillPhase;
  /** the last key of the last committed keyset batch (as text), null before the first */
  lastKey: string[] | null;
  /** the largest key when the backfill began: the keyset pass ends there */
  endKey: string[] | null;
  /** the next page the sweep reads, and the page it stops before */
  sweepPage: number;
  sweepPages: number | null;
  rowsDone: number;
  rowsTotal: number;
  keysetRows: number;
  sweepRows: number;
  batches: number;
}

export interface BackfillProgressRow extends BackfillCursor {
  migration: string;
  schema: string;
  table: string;
  done: boolean;
  startedAt: Date;
  updatedAt: Date;
}

const TABLE = qualified(STATE_SCHEMA, 'backfill_progress');

/**
 * Idempotent, and safe when two backfills start at once: CREATE ... IF NOT EXISTS can still collide
 * on the catalog's unique index, so creation runs under a transaction-scoped advisory lock.
 */
export async function ensureProgressTable(db: pg.ClientBase): Promise<void> {
  try {
    await db.query(`
      begin;
      select pg_advisory_xact_lock(hashtextextended(${literal(`${STATE_SCHEMA}.backfill_progress`)}, 0));
      create schema if not exists ${ident(STATE_SCHEMA)};
      create table if not exists ${TABLE} (
        migration text not null,
        schema_name text not null,
        table_name text not null,
        phase text not null check (phase in ('keyset', 'sweep', 'done')),
        last_key text[],
        end_key text[],
        sweep_page bigint not null default 0,
        sweep_pages bigint,
        rows_done bigint not null default 0,
        rows_total bigint not null default 0,
        keyset_rows bigint not null default 0,
        sweep_rows bigint not null default 0,
        batches bigint not null default 0,
        started_at timestamptz not null default now(),
        updated_at timestamptz not null default now(),
        primary key (migration, schema_name, table_name)
      );
      commit;`);
  } catch (error) {
    await db.query('rollback').catch(() => undefined);
    throw wrapError(`creating ${STATE_SCHEMA}.backfill_progress`, error);
  }
}

interface ProgressRecord {
  migration: string;
  schema_name: string;
  table_name: string;
  phase: BackfillPhase;
  last_key: string[] | null;
  end_key: string[] | null;
  sweep_page: string;
  sweep_pages: string | null;
  rows_done: string;
  rows_total: string;
  keyset_rows: string;
  sweep_rows: string;
  batches: string;
  started_at: Date;
  updated_at: Date;
}

function fromRecord(row: ProgressRecord): BackfillProgressRow {
  return {
    migration: row.migration,
    schema: row.schema_name,
    table: row.table_name,
    phase: row.phase,
    done: row.phase === 'done',
    lastKey: row.last_key,
    endKey: row.end_key,
    sweepPage: Number(row.sweep_page),
    sweepPages: row.sweep_pages === null ? null : Number(row.sweep_pages),
    rowsDone: Number(row.rows_done),
    rowsTotal: Number(row.rows_total),
    keysetRows: Number(row.keyset_rows),
    sweepRows: Number(row.sweep_rows),
    batches: Number(row.batches),
    startedAt: row.started_at,
    updatedAt: row.updated_at,
  };
}

export interface ProgressKey {
  migration: string;
  schema: string;
  table: string;
}

export async function loadCursor(db: pg.ClientBase, key: ProgressKey): Promise<BackfillProgressRow | undefined> {
  const result = await db.query<ProgressRecord>(`select * from ${TABLE} where migration = $1 and schema_name = $2 and table_name = $3`, [
    key.migration,
    key.schema,
    key.table,
  ]);
  return result.rows[0] ? fromRecord(result.rows[0]) : undefined;
}

/** Called inside the batch's transaction: the cursor commits with the rows it covers. */
export async function saveCursor(db: pg.ClientBase, key: ProgressKey, cursor: BackfillCursor): Promise<void> {
  await db.query(
    `insert into ${TABLE} (migration, schema_name, table_name, phase, last_key, end_key, sweep_page, sweep_pages,
                           rows_done, rows_total, keyset_rows, sweep_rows, batches)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
     on conflict (migration, schema_name, table_name) do update set
       phase = excluded.phase, last_key = excluded.last_key, end_key = excluded.end_key, sweep_page = excluded.sweep_page,
       sweep_pages = excluded.sweep_pages, rows_done = excluded.rows_done, rows_total = excluded.rows_total,
       keyset_rows = excluded.keyset_rows, sweep_rows = excluded.sweep_rows, batches = excluded.batches, updated_at = now()`,
    [
      key.migration,
      key.schema,
      key.table,
      cursor.phase,
      cursor.lastKey,
      cursor.endKey,
      cursor.sweepPage,
      cursor.sweepPages,
      cursor.rowsDone,
      cursor.rowsTotal,
      cursor.keysetRows,
      cursor.sweepRows,
      cursor.batches,
    ],
  );
}

/** undefined_table, invalid_schema_name: nothing was ever backfilled in this database */
const isMissingTable = (error: unknown) => ['42P01', '3F000'].includes(String((error as { code?: unknown }).code));

/** The progress of every table of a migration, for status displays. */
export async function backfillProgress(pool: pg.Pool, migration: string): Promise<BackfillProgressRow[]> {
  try {
    const result = await pool.query<ProgressRecord>(`select * from ${TABLE} where migration = $1 order by schema_name, table_name`, [migration]);
    return result.rows.map(fromRecord);
  } catch (error) {
    if (isMissingTable(error)) return [];
    throw wrapError(`reading the backfill progress of migration ${migration}`, error);
  }
}

/** Drops a migration's cursors once it completed or was rolled back; returns how many there were. */
export async function forgetBackfill(pool: pg.Pool, migration: string): Promise<number> {
  try {
    const result = await pool.query(`delete from ${TABLE} where migration = $1`, [migration]);
    return result.rowCount ?? 0;
  } catch (error) {
    if (isMissingTable(error)) return 0;
    throw wrapError(`forgetting the backfill progress of migration ${migration}`, error);
  }
}
