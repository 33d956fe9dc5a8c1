/**
 * The in-flight backfill of a schema as a status display shows it: per table rows done, rows total
 * (an estimate: pg_class.reltuples, or a count when the table was never analysed), a rate and an ETA.
 * Read from the cursors the backfill commits with its batches (progress.ts), so any process that can
 * read the app database sees it, not only the migrator that runs it.
 */
import type pg from 'pg';
import { inFlightRun, type MigrationRun } from '../state.js';
import { findTable } from '../virtual-schema.js';
import { backfillProgress, type BackfillPhase, type BackfillProgressRow } from './progress.js';

export interface BackfillTableStatus {
  /** the table's name as the migration names it */
  table: string;
  /** not started: the backfill has not reached this table yet */
  phase: BackfillPhase | 'pending';
  rowsDone: number;
  /** never below rowsDone; an estimate while the table is being backfilled */
  rowsTotal: number;
  /** rows per second; null until two figures are known */
  rowsPerSecond: number | null;
  /** 'interval': between the last two cursor updates this reader saw; 'average': since the table's backfill began */
  rateBasis: 'interval' | 'average' | null;
  /** seconds left at that rate; 0 when done, null when unknown */
  etaSeconds: number | null;
  batches: number;
  startedAt: Date | null;
  updatedAt: Date | null;
  /** seconds since the table's last committed batch: a large figure means the backfill is paused or stopped */
  idleSeconds: number | null;
}

export interface BackfillStatus {
  migration: string;
  schema: string;
  /** the run's phase (starting, started) */
  runPhase: string;
  startedAt: Date;
  tables: BackfillTableStatus[];
  /** how rowsTotal is known */
  rowsTotalSource: typeof ROWS_TOTAL_SOURCE;
}

export const ROWS_TOTAL_SOURCE = 'pg_class.reltuples, or count(*) when the table was never analysed';

interface Sample {
  rowsDone: number;
  at: number;
  rate: number | null;
}

/**
 * Remembers the last cursor figure of each table, so a poller gets the rate over its last interval
 * rather than an average since the start (which hides a backfill slowed down by throttling).
 */
export class BackfillRateSampler {
  private readonly samples = new Map<string, Sample>();

  rate(key: string, row: BackfillProgressRow): { rowsPerSecond: number | null; basis: 'interval' | 'average' | null } {
    const at = row.updatedAt.getTime();
    const last = this.samples.get(key);
    if (last !== undefined && at > last.at && row.rowsDone >= last.rowsDone) {
      const rate = ((row.rowsDone - last.rowsDone) * 1000) / (at - last.at);
      this.samples.set(key, { rowsDone: row.rowsDone, at, rate });
      return { rowsPerSecond: rate, basis: 'interval' };
    }
    if (last !== undefined && at === last.at && last.rate !== null) return { rowsPerSecond: last.rate, basis: 'interval' };
    this.samples.set(key, { rowsDone: row.rowsDone, at, rate: null });
    const elapsed = at - row.startedAt.getTime();
    return elapsed > 0 && row.rowsDone > 0 ? { rowsPerSecond: (row.rowsDone * 1000) / elapsed, basis: 'average' } : { rowsPerSecond: null, basis: null };
  }

  /** Forgets every table not in `keep` (a finished backfill's figures). */
  retain(keep: ReadonlySet<string>): void {
    for (const key of this.samples.keys()) if (!keep.has(key)) this.samples.delete(key);
  }
}

/** Whether a run is still backfilling: started (or starting) with its backfill unfinished. */
export function isBackfilling(run: MigrationRun): boolean {
  return (run.phase === 'starting' || run.phase === 'started') && !run.backfilled && run.backfillTables.length > 0;
}

/** The schema's in-flight backfill, or undefined when no migration is backfilling. */
export async function readBackfillStatus(pool: pg.Pool, schema: string, sampler: BackfillRateSampler = new BackfillRateSampler(), now = new Date()): Promise<BackfillStatus | undefined> {
  const run = await inFlightRun(pool, schema);
  if (run === undefined || !isBackfilling(run)) {
    sampler.retain(new Set());
    return undefined;
  }
  const cursors = (await backfillProgress(pool, run.name)).filter((row) => row.schema === run.schema);
  const keys = new Set<string>();
  const tables = run.backfillTables.map((name): BackfillTableStatus => {
    // the cursor names the table on disk, the run the table as the migration names it
    const physical = findTable(run.after, name)?.physical ?? name;
    const row = cursors.find((cursor) => cursor.table === physical || cursor.table === name);
    if (row === undefined) {
      return { table: name, phase: 'pending', rowsDone: 0, rowsTotal: 0, rowsPerSecond: null, rateBasis: null, etaSeconds: null, batches: 0, startedAt: null, updatedAt: null, idleSeconds: null };
    }
    const key = `${run.schema}\u0000${run.name}\u0000${row.table}`;
    keys.add(key);
    const rowsTotal = Math.max(row.rowsTotal, row.rowsDone);
    const { rowsPerSecond, basis } = row.done ? { rowsPerSecond: null, basis: null } : sampler.rate(key, row);
    const left = rowsTotal - row.rowsDone;
    const etaSeconds = row.done ? 0 : rowsPerSecond !== null && rowsPerSecond > 0 ? left / rowsPerSecond : null;
    return { table: name, phase: row.phase, rowsDone: row.rowsDone, rowsTotal, rowsPerSecond, rateBasis: basis, etaSeconds, batches: row.batches, startedAt: row.startedAt, updatedAt: row.updatedAt, idleSeconds: row.done ? null : Math.max(0, (now.getTime() - row.updatedAt.getTime()) / 1000) };
  });
  sampler.retain(keys);
  return { migration: run.name, schema: run.schema, runPhase: run.phase, startedAt: run.startedAt, tables, rowsTotalSource: ROWS_TOTAL_SOURCE };
}
