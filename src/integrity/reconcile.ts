/**
 * `reconcile`: compares a source and a target (two tables, or a table and a translating query, in one
 * database or two), reports the rows missing from the target, extra in it, different (with the
 * columns), or held twice, and repairs them only by an explicit policy. See docs/integrity.md.
 *
 *   describe both sides (catalog) -> refuse what cannot be compared -> scan (ranges, checksums,
 *   bisection, coverage proof) -> re-check candidates -> report -> repair by policy, audited
 */
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { PromoteError, wrapError } from '../errors.js';
import { SESSION_SETTINGS } from './canonical.js';
import { describeSide, planComparison, sideLabel } from './describe.js';
import { chooseHash } from './hash.js';
import { recheck } from './recheck.js';
import { checkRepairOptions, runRepair } from './repair.js';
import { scan } from './scan.js';
import { SideReader } from './side.js';
import type { DifferenceKind, ReconcileOptions, ReconcileReport, SideInput } from './types.js';

export type * from './types.js';

const DEFAULTS = { chunkRows: 20_000, bisectionFactor: 128, leafRows: 256, recheckDelayMs: 250, recheckRounds: 2 };

function checkWhole(name: string, value: number | undefined, min: number): void {
  if (value !== undefined && (!Number.isSafeInteger(value) || value < min)) throw new PromoteError(`reconcile ${name} ${value}: expected a whole number, ${min} or more`);
}

interface OpenSide {
  pool: pg.Pool;
  owned: boolean;
}

function openSide(side: SideInput, which: string): OpenSide {
  if (side.pool !== undefined) return { pool: side.pool, owned: false };
  if (side.url === undefined || side.url === '') throw new PromoteError(`the ${which} needs a database (a postgres:// URL)`);
  if (!/^postgres(ql)?:\/\//.test(side.url)) throw new PromoteError(`the ${which} database ${side.url.replace(/:[^:@/]*@/, ':***@')} is not a postgres:// URL`);
  const pool = new pg.Pool({ connectionString: side.url, max: 3, application_name: `promote-reconcile-${which}` });
  pool.on('error', () => undefined);
  return { pool, owned: true };
}

async function describeWith(pool: pg.Pool, side: SideInput, which: 'source' | 'target') {
  let client: pg.PoolClient;
  try {
    client = await pool.connect();
  } catch (error) {
    throw wrapError(`reconcile: connecting to the ${which} database (${sideLabel(side)})`, error);
  }
  try {
    await client.query(`begin read only; ${SESSION_SETTINGS}`);
    return await describeSide(client, side, which);
  } finally {
    await client.query('rollback').catch(() => undefined);
    client.release();
  }
}

export async function reconcile(options: ReconcileOptions): Promise<ReconcileReport> {
  const started = performance.now();
  checkWhole('chunkRows', options.chunkRows, 1);
  checkWhole('bisectionFactor', options.bisectionFactor, 2);
  checkWhole('leafRows', options.leafRows, 1);
  checkWhole('recheck.rounds', options.recheck?.rounds, 1);
  checkWhole('recheck.delayMs', options.recheck?.delayMs, 0);
  const source = openSide(options.source, 'source');
  let target: OpenSide | undefined;
  try {
    target = openSide(options.target, 'target');
    const sourceShape = await describeWith(source.pool, options.source, 'source');
    const targetShape = await describeWith(target.pool, options.target, 'target');
    const plan = planComparison(sourceShape, targetShape, options.key, options.columns);
    if (options.repair !== undefined) checkRepairOptions(options.repair, targetShape);
    if (options.hash !== undefined && options.hash !== 'auto' && options.hash !== 'md5') throw new PromoteError(`reconcile hash ${String(options.hash)}: expected auto or md5`);
    const hash = options.hash === 'md5' ? 'md5' : await chooseHash(source.pool, target.pool);
    const readers = {
      source: new SideReader('source', sourceShape, plan.sourceKey, plan.columns, hash),
      target: new SideReader('target', targetShape, plan.targetKey, plan.targetColumns, hash),
    };
    const pools = { source: source.pool, target: target.pool };
    const scanned = await scan(readers.source, readers.target, pools, {
      chunkRows: options.chunkRows ?? DEFAULTS.chunkRows,
      bisectionFactor: options.bisectionFactor ?? DEFAULTS.bisectionFactor,
      leafRows: options.leafRows ?? DEFAULTS.leafRows,
      ...(options.onProgress === undefined ? {} : { onProgress: (done: number, total: number) => options.onProgress?.({ phase: 'scan', done, total }) }),
    });
    const checked = await recheck(scanned.candidates, readers, pools, {
      delayMs: options.recheck?.delayMs ?? DEFAULTS.recheckDelayMs,
      rounds: options.recheck?.rounds ?? DEFAULTS.recheckRounds,
      ...(options.onProgress === undefined ? {} : { onProgress: (done: number, total: number) => options.onProgress?.({ phase: 'recheck', done, total }) }),
    });
    const counts: Record<DifferenceKind, number> = { missing: 0, extra: 0, different: 0, duplicate: 0 };
    for (const difference of checked.differences) counts[difference.kind] += 1;
    const report: ReconcileReport = {
      equal: checked.differences.length === 0,
      key: plan.key.map((column) => column.name),
      columns: plan.columns.map((column) => column.name),
      consistency: scanned.consistency,
      hash,
      source: { label: sourceShape.label, rows: scanned.sourceRows, rowsChecked: scanned.sourceChecked, queries: readers.source.queries },
      target: { label: targetShape.label, rows: scanned.targetRows, rowsChecked: scanned.targetChecked, queries: readers.target.queries },
      chunks: scanned.chunks,
      differingRanges: scanned.differingRanges,
      candidates: scanned.candidates.length,
      settledOnRecheck: checked.settled,
      differences: checked.differences,
      counts,
      elapsedMs: 0,
    };
    if (options.repair !== undefined && checked.differences.length > 0) {
      report.repair = await runRepair(checked.differences, options.repair, {
        source: { pool: source.pool, shape: sourceShape, key: plan.sourceKey, columns: plan.columns },
        target: { pool: target.pool, shape: targetShape, key: plan.targetKey },
      });
    }
    report.elapsedMs = Math.round(performance.now() - started);
    return report;
  } finally {
    if (source.owned) await source.pool.end().catch(() => undefined);
    if (target?.owned === true) await target.pool.end().catch(() => undefined);
  }
}
