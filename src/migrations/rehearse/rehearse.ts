/**
 * `promote migrate rehearse`: runs a migration with the real runner on a scratch copy of the app's
 * schema and reports, per statement, the locks it held and for how long. A linter reads the SQL and
 * guesses; this watches PostgreSQL take the locks. The app database is only read (its catalog and,
 * with `rows`, a sample of each table), so a rehearsal is safe against production.
 */
import pg from 'pg';
import { PromoteError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { runBackfill } from '../backfill/backfill.js';
import type { Migration } from '../file.js';
import { STATE_SCHEMA } from '../names.js';
import { completeMigration, rollbackMigration, startMigration, type Backfiller } from '../runner.js';
import { inFlightRun } from '../state.js';
import { DEFAULT_LOCK_BUDGET, type LockBudget } from '../steps.js';
import { copySchema, type CopyReport } from './copy-schema.js';
import { createScratchDatabase, startScratchServer } from './scratch.js';
import { LockTracer, type StatementTrace } from './trace.js';

export interface RehearseOptions {
  /** the app database: read, never written */
  source: pg.Pool;
  schema?: string;
  /** rows copied per table at most; 0 copies the schema only */
  rows?: number;
  /** also rehearse start then rollback, on a second copy */
  rollback?: boolean;
  lockBudget?: LockBudget;
  /** a PostgreSQL server to make scratch databases on; by default a throwaway embedded one is started */
  scratchAdminUrl?: string;
  log?: Logger;
}

export interface TracedStatement extends StatementTrace {
  /** blocks the app's reads or writes for longer than the lock budget */
  overBudget: boolean;
}

export interface BackfillTrace {
  table: string;
  rows: number;
  ms: number;
}

export interface Rehearsal {
  migration: string;
  schema: string;
  rows: number;
  budgetMs: number;
  copy: CopyReport;
  statements: TracedStatement[];
  backfill: BackfillTrace[];
  /** statements that would block the app longer than the budget; only meaningful with rows */
  overBudget: number;
}

const MIGRATOR_APPLICATION = 'promote-rehearse-migrator';

export async function rehearseMigration(migration: Migration, options: RehearseOptions): Promise<Rehearsal> {
  const schema = options.schema ?? 'public';
  const rows = options.rows ?? 0;
  const budget = options.lockBudget ?? DEFAULT_LOCK_BUDGET;
  await refuseInFlight(options.source, schema);
  const server = options.scratchAdminUrl === undefined ? await startScratchServer(options.log) : undefined;
  const adminUrl = options.scratchAdminUrl ?? (server as NonNullable<typeof server>).adminUrl;
  try {
    const statements: StatementTrace[] = [];
    const backfill: BackfillTrace[] = [];
    const copy = await onScratchCopy(adminUrl, options.source, schema, rows, async (pool, tracer, copied) => {
      tracer.phase = 'start';
      await startMigration(migration, { pool, schema, lockBudget: budget, events: tracer.events, backfill: timedBackfill(backfill) });
      await tracer.flush();
      tracer.phase = 'complete';
      await completeMigration({ pool, schema, lockBudget: budget, events: tracer.events });
      await tracer.flush();
      statements.push(...tracer.statements);
      return copied;
    });
    if (options.rollback === true) {
      await onScratchCopy(adminUrl, options.source, schema, rows, async (pool, tracer) => {
        tracer.muted = true;
        await startMigration(migration, { pool, schema, lockBudget: budget, events: tracer.events });
        await tracer.flush();
        tracer.muted = false;
        tracer.phase = 'rollback';
        await rollbackMigration({ pool, schema, lockBudget: budget, events: tracer.events });
        await tracer.flush();
        statements.push(...tracer.statements);
      });
    }
    const traced = statements.map((statement) => ({ ...statement, overBudget: statement.blocks !== 'nothing' && statement.heldMs > budget.lockTimeoutMs }));
    return {
      migration: migration.name,
      schema,
      rows,
      budgetMs: budget.lockTimeoutMs,
      copy,
      statements: traced,
      backfill,
      overBudget: traced.filter((statement) => statement.overBudget).length,
    };
  } finally {
    await server?.stop();
  }
}

/** A fresh scratch database with the copy, a migrator pool on it and a tracer; all dropped afterwards. */
async function onScratchCopy<T>(
  adminUrl: string,
  source: pg.Pool,
  schema: string,
  rows: number,
  work: (pool: pg.Pool, tracer: LockTracer, copied: CopyReport) => Promise<T>,
): Promise<T> {
  const database = await createScratchDatabase(adminUrl);
  const pool = new pg.Pool({ connectionString: database.url, application_name: MIGRATOR_APPLICATION, max: 4 });
  pool.on('error', () => undefined);
  const tracer = new LockTracer(database.url, MIGRATOR_APPLICATION);
  try {
    const copied = await copySchema(source, pool, { schema, rows });
    await tracer.open();
    return await work(pool, tracer, copied);
  } finally {
    await tracer.close();
    await pool.end();
    await database.drop();
  }
}

function timedBackfill(into: BackfillTrace[]): Backfiller {
  return async (pool, table) => {
    const began = performance.now();
    const report = await runBackfill(pool, table);
    into.push({ table: `${table.schema}.${table.table}`, rows: report.rowsVisited, ms: performance.now() - began });
    return report;
  };
}

/** The copy would not have Promote's state: a rehearsal of the next migration would plan against a half-made schema. */
async function refuseInFlight(source: pg.Pool, schema: string): Promise<void> {
  const state = await source.query<{ present: boolean }>(`select to_regclass($1) is not null as present`, [`${STATE_SCHEMA}.runs`]);
  if (state.rows[0]?.present !== true) return;
  const run = await inFlightRun(source, schema);
  if (run === undefined) return;
  throw new PromoteError(`cannot rehearse on schema "${schema}": migration "${run.name}" is ${run.phase.replace('_', ' ')} there, and a copy of a schema mid-migration would not rehearse what the next one will meet`, {
    hint: 'complete it (promote migrate complete) or roll it back (promote migrate rollback) first',
  });
}
