/**
 * The migration state Promote keeps in the app's own database (schema promote_migrate), beside the
 * tables it changes: it must survive exactly what they survive, and a migrator on another machine
 * must find it. One row per migration, with the schema before and after start, so complete and
 * rollback (and a migrator that restarts after a crash) know what start made.
 */
import type pg from 'pg';
import { PromoteError, wrapError } from '../errors.js';
import { withTransaction, type Queryable } from '../store/queryable.js';
import { chainHash, checkChain, GENESIS_CHAIN_HASH, type ChainCheck } from './checksum.js';
import { STATE_SCHEMA } from './names.js';
import { ident, literal } from './sql.js';
import type { VirtualSchema } from './virtual-schema.js';
import type { Operation } from './operations.js';

/**
 * starting, completing, rolling_back, undoing and finalizing are in progress, or were interrupted and
 * are finished by running again. `undoable` is completed with what the contract would have destroyed
 * kept aside until `undoUntil` (undo.ts); `finalizing` drops what was kept, then the run is `completed`.
 */
export const RUN_PHASES = ['starting', 'started', 'completing', 'completed', 'rolling_back', 'rolled_back', 'undoable', 'undoing', 'finalizing'] as const;
export type RunPhase = (typeof RUN_PHASES)[number];
export const IN_FLIGHT_PHASES: readonly RunPhase[] = ['starting', 'started', 'completing', 'rolling_back', 'undoing'];
/** The phases of a run whose new version is the only one: its version schema is the app's. */
export const COMPLETED_PHASES: readonly RunPhase[] = ['completed', 'undoable', 'finalizing'];

export interface MigrationRun {
  id: number;
  schema: string;
  name: string;
  versionSchema: string;
  checksum: string;
  operations: Operation[];
  /** the migrations this run applies together (one, or a release's several), each with its checksum */
  members: RunMember[];
  phase: RunPhase;
  before: VirtualSchema;
  after: VirtualSchema;
  /** logical table names whose rows the backfill visits */
  backfillTables: string[];
  backfilled: boolean;
  startedAt: Date;
  completedAt: Date | null;
  rolledBackAt: Date | null;
  /** why start failed, when it was rolled back for it */
  error: string | null;
  /** set by a complete that kept the removed shape aside: until then the complete can be undone */
  undoUntil: Date | null;
  /** the chain hash of the run before (the genesis hash for the first); null on runs recorded before the chain */
  previousHash: string | null;
  /** sha256(previous hash + name + checksum): editing, removing or reordering a run breaks every later link */
  chainHash: string | null;
}

export interface RunMember {
  name: string;
  checksum: string;
}

const S = ident(STATE_SCHEMA);

export async function ensureState(db: Queryable): Promise<void> {
  const statements = [
    `create schema if not exists ${S}`,
    `grant usage on schema ${S} to public`,
    `create table if not exists ${S}.runs (
       id bigserial primary key,
       schema_name text not null,
       name text not null,
       version_schema text not null,
       checksum text not null,
       operations jsonb not null,
       members jsonb not null,
       phase text not null check (phase in (${RUN_PHASES.map(literal).join(', ')})),
       schema_before jsonb not null,
       schema_after jsonb not null,
       backfill_tables jsonb not null default '[]',
       backfilled boolean not null default false,
       started_at timestamptz not null default now(),
       completed_at timestamptz,
       rolled_back_at timestamptz,
       error text,
       undo_until timestamptz,
       previous_hash text,
       chain_hash text)`,
    `alter table ${S}.runs add column if not exists previous_hash text, add column if not exists chain_hash text`,
    // state made before the undoable contract: the column, and the phases in the check
    `alter table ${S}.runs add column if not exists undo_until timestamptz`,
    `do $promote$ begin
       if not exists (select from pg_constraint where conrelid = '${STATE_SCHEMA}.runs'::regclass and contype = 'c' and pg_get_constraintdef(oid) like '%undoable%') then
         alter table ${S}.runs drop constraint if exists runs_phase_check;
         alter table ${S}.runs add constraint runs_phase_check check (phase in (${RUN_PHASES.map(literal).join(', ')}));
       end if;
     end $promote$`,
    // pgroll's rule, kept for now: one migration in flight per schema (undoing counts since the undoable contract)
    `drop index if exists ${S}.runs_one_in_flight`,
    `create unique index if not exists runs_one_in_flight_2 on ${S}.runs (schema_name) where phase in (${IN_FLIGHT_PHASES.map(literal).join(', ')})`,
    `create unique index if not exists runs_name_once on ${S}.runs (schema_name, name) where phase <> 'rolled_back'`,
    // Which version a write comes from: an explicit promote.version (set per transaction, so it holds
    // behind a transaction pooler) wins; otherwise the first schema on the search_path, as in pgroll.
    `create or replace function ${S}.writes_as(version_schema text) returns boolean language sql stable as $$
       select coalesce(nullif(current_setting('promote.version', true), ''), (current_schemas(false))[1], '') = version_schema
     $$`,
  ];
  try {
    await withTransaction(db, async (client) => {
      // two migrators creating the state at once would race on the catalog: serialise them
      await client.query(`select pg_advisory_xact_lock(hashtext('promote_migrate.ensure_state'))`);
      for (const sql of statements) await client.query(sql);
    });
  } catch (error) {
    throw wrapError(`creating Promote's migration state (schema ${STATE_SCHEMA})`, error);
  }
}

interface RunRow {
  id: string;
  schema_name: string;
  name: string;
  version_schema: string;
  checksum: string;
  operations: Operation[];
  members: RunMember[];
  phase: RunPhase;
  schema_before: VirtualSchema;
  schema_after: VirtualSchema;
  backfill_tables: string[];
  backfilled: boolean;
  started_at: Date;
  completed_at: Date | null;
  rolled_back_at: Date | null;
  error: string | null;
  undo_until: Date | null;
  previous_hash: string | null;
  chain_hash: string | null;
}

function toRun(row: RunRow): MigrationRun {
  return {
    id: Number(row.id),
    schema: row.schema_name,
    name: row.name,
    versionSchema: row.version_schema,
    checksum: row.checksum,
    operations: row.operations,
    members: row.members,
    phase: row.phase,
    before: row.schema_before,
    after: row.schema_after,
    backfillTables: row.backfill_tables,
    backfilled: row.backfilled,
    startedAt: row.started_at,
    completedAt: row.completed_at,
    rolledBackAt: row.rolled_back_at,
    error: row.error,
    undoUntil: row.undo_until,
    previousHash: row.previous_hash,
    chainHash: row.chain_hash,
  };
}

export async function inFlightRun(db: Queryable, schema: string): Promise<MigrationRun | undefined> {
  const result = await read(db, `select * from ${S}.runs where schema_name = $1 and phase = any($2) order by id desc limit 1`, [schema, IN_FLIGHT_PHASES], 'reading the migration in flight');
  return result[0];
}

/** The newest completed migration of the schema (before run `beforeId`): its version schema is the one the current app uses. */
export async function lastCompletedRun(db: Queryable, schema: string, beforeId?: number): Promise<MigrationRun | undefined> {
  const result = await read(
    db,
    `select * from ${S}.runs where schema_name = $1 and phase = any($2) and id < $3 order by id desc limit 1`,
    [schema, COMPLETED_PHASES, beforeId ?? Number.MAX_SAFE_INTEGER],
    'reading the last completed migration',
  );
  return result[0];
}

/** The run whose complete kept the removed shape aside (undoable), or whose undo or finalize was interrupted. */
export async function keptRun(db: Queryable, schema: string): Promise<MigrationRun | undefined> {
  const result = await read(db, `select * from ${S}.runs where schema_name = $1 and phase in ('undoable', 'undoing', 'finalizing') order by id desc limit 1`, [schema], 'reading the undoable migration');
  return result[0];
}

export async function listRuns(db: Queryable, schema: string): Promise<MigrationRun[]> {
  return read(db, `select * from ${S}.runs where schema_name = $1 order by id`, [schema], 'reading the migration history');
}

export interface NewRun {
  schema: string;
  name: string;
  versionSchema: string;
  checksum: string;
  operations: Operation[];
  members: RunMember[];
  before: VirtualSchema;
  after: VirtualSchema;
  backfillTables: string[];
}

/** Records a run, chained to the schema's run before it. Call under the migrator lock: the chain has one head. */
export async function insertRun(db: Queryable, run: NewRun): Promise<MigrationRun> {
  try {
    const head = await db.query<{ chain_hash: string | null }>(`select chain_hash from ${S}.runs where schema_name = $1 order by id desc limit 1`, [run.schema]);
    const previousHash = head.rows[0]?.chain_hash ?? GENESIS_CHAIN_HASH;
    const result = await db.query<RunRow>(
      `insert into ${S}.runs (schema_name, name, version_schema, checksum, operations, members, phase, schema_before, schema_after, backfill_tables, previous_hash, chain_hash)
       values ($1, $2, $3, $4, $5, $6, 'starting', $7, $8, $9, $10, $11) returning *`,
      [
        run.schema,
        run.name,
        run.versionSchema,
        run.checksum,
        JSON.stringify(run.operations),
        JSON.stringify(run.members),
        JSON.stringify(run.before),
        JSON.stringify(run.after),
        JSON.stringify(run.backfillTables),
        previousHash,
        chainHash(previousHash, run.name, run.checksum),
      ],
    );
    return toRun(result.rows[0] as RunRow);
  } catch (error) {
    if ((error as { code?: string }).code === '23505') {
      throw new PromoteError(`migration "${run.name}" cannot start on schema "${run.schema}": it has already been applied there, or another migration is in flight`, { cause: error });
    }
    throw wrapError(`recording the start of migration "${run.name}"`, error);
  }
}

/** Recomputes the schema's chain of runs and names the first one that does not follow from those before it. */
export async function verifyRunChain(db: Queryable, schema: string): Promise<ChainCheck & { runs: number }> {
  const runs = (await listRuns(db, schema)).filter((run) => run.chainHash !== null);
  const check = checkChain(runs.map((run) => ({ name: run.name, checksum: run.checksum, previousHash: run.previousHash ?? '', chainHash: run.chainHash ?? '' })));
  return { ...check, runs: runs.length };
}

export interface RunUpdate {
  phase?: RunPhase;
  after?: VirtualSchema;
  backfilled?: boolean;
  error?: string | null;
  /** null: no window (plain contract, or the window is over) */
  undoUntil?: Date | null;
}

export async function updateRun(db: Queryable, id: number, update: RunUpdate): Promise<void> {
  const sets: string[] = [];
  const values: unknown[] = [];
  const set = (column: string, value: unknown) => {
    values.push(value);
    sets.push(`${column} = $${values.length}`);
  };
  if (update.phase !== undefined) {
    set('phase', update.phase);
    if (update.phase === 'completed') sets.push('completed_at = coalesce(completed_at, now())');
    if (update.phase === 'undoable') sets.push('completed_at = now()');
    if (update.phase === 'rolled_back') sets.push('rolled_back_at = now()');
    // an undone complete is started again
    if (update.phase === 'undoing') sets.push('completed_at = null');
  }
  if (update.after !== undefined) set('schema_after', JSON.stringify(update.after));
  if (update.backfilled !== undefined) set('backfilled', update.backfilled);
  if (update.error !== undefined) set('error', update.error);
  if (update.undoUntil !== undefined) set('undo_until', update.undoUntil);
  values.push(id);
  try {
    await db.query(`update ${S}.runs set ${sets.join(', ')} where id = $${values.length}`, values);
  } catch (error) {
    throw wrapError(`recording migration state (${sets.join(', ')})`, error);
  }
}

async function read(db: Queryable, sql: string, values: unknown[], doing: string): Promise<MigrationRun[]> {
  try {
    const result = await db.query<RunRow>(sql, values);
    return result.rows.map(toRun);
  } catch (error) {
    if ((error as { code?: string }).code === '42P01') return [];
    throw wrapError(doing, error);
  }
}

/**
 * A session lock on one connection, so two migrators of one schema never act at once. It waits a
 * little: a migrator killed a moment ago holds it until the server notices its connection is gone.
 */
export async function takeMigratorLock(client: pg.PoolClient | pg.Client, schema: string, waitMs = 10_000): Promise<boolean> {
  try {
    await client.query(`set lock_timeout = ${Math.round(waitMs)}`);
    try {
      await client.query(`select pg_advisory_lock(hashtext('promote_migrate:' || $1))`, [schema]);
      return true;
    } catch (error) {
      if ((error as { code?: string }).code === '55P03') return false;
      throw error;
    } finally {
      await client.query('reset lock_timeout');
    }
  } catch (error) {
    throw wrapError(`taking the migrator lock of schema "${schema}"`, error);
  }
}
