/**
 * The scan: both sides cut into the same key ranges, a count and a checksum per range on each side,
 * ranges that differ bisected until they are small enough to compare row by row. Both sides are read
 * in one REPEATABLE READ snapshot (exported by the source's connection, imported by the target's) when
 * they live in one database, each in its own otherwise.
 *
 * Coverage is proven, not assumed: the rows the first-level ranges counted must equal a count(*) of
 * each side in the same snapshot. A range predicate that misses rows (a NULL in a key column, a key
 * type that sorts differently) makes the run fail instead of passing over rows it never saw.
 */
import type pg from 'pg';
import { PromoteError, wrapError } from '../errors.js';
import { SESSION_SETTINGS } from './canonical.js';
import { Bisector } from './bisect.js';
import type { SideReader } from './side.js';
import type { DifferenceKind, Key } from './types.js';

export interface ScanOptions {
  chunkRows: number;
  bisectionFactor: number;
  leafRows: number;
  onProgress?: (done: number, total: number) => void;
}

export interface Candidate {
  kind: DifferenceKind;
  key: Key;
}

export interface ScanResult {
  consistency: 'snapshot' | 'separate';
  sourceRows: number;
  targetRows: number;
  sourceChecked: number;
  targetChecked: number;
  chunks: number;
  differingRanges: number;
  candidates: Candidate[];
}

interface Connections {
  source: pg.PoolClient;
  target: pg.PoolClient;
  consistency: 'snapshot' | 'separate';
}

async function identity(client: pg.PoolClient): Promise<string> {
  const result = await client.query<{ id: string }>(`select concat_ws('/', current_database(), inet_server_port(), pg_postmaster_start_time()) as id`);
  return result.rows[0]?.id ?? '';
}

/** Opens the scan's two transactions; one shared snapshot when both sides are in the same database. */
async function begin(sourcePool: pg.Pool, targetPool: pg.Pool): Promise<Connections> {
  const connect = async (pool: pg.Pool, which: string) => {
    try {
      return await pool.connect();
    } catch (error) {
      throw wrapError(`reconcile: connecting to the ${which} database`, error);
    }
  };
  const source = await connect(sourcePool, 'source');
  let target: pg.PoolClient | undefined;
  try {
    target = await connect(targetPool, 'target');
    await source.query(`begin isolation level repeatable read read only; ${SESSION_SETTINGS}`);
    if ((await identity(source)) === (await identity(target))) {
      const exported = await source.query<{ id: string }>('select pg_export_snapshot() as id');
      await target.query(`begin isolation level repeatable read read only; set transaction snapshot '${exported.rows[0]?.id ?? ''}'; ${SESSION_SETTINGS}`);
      return { source, target, consistency: 'snapshot' };
    }
    await target.query(`begin isolation level repeatable read read only; ${SESSION_SETTINGS}`);
    return { source, target, consistency: 'separate' };
  } catch (error) {
    source.release(true);
    target?.release(true);
    throw wrapError('reconcile: opening the read transactions', error);
  }
}

async function end(connections: Connections): Promise<void> {
  for (const client of [connections.source, connections.target]) {
    const ok = await client.query('rollback').then(() => true, () => false);
    client.release(!ok);
  }
}

export async function scan(source: SideReader, target: SideReader, pools: { source: pg.Pool; target: pg.Pool }, options: ScanOptions): Promise<ScanResult> {
  const connections = await begin(pools.source, pools.target);
  try {
    return await scanIn(connections, source, target, options);
  } finally {
    await end(connections);
  }
}

async function scanIn(connections: Connections, source: SideReader, target: SideReader, options: ScanOptions): Promise<ScanResult> {
  const { source: sourceDb, target: targetDb } = connections;
  // a chunk is read as `parts` leaf-sized sub-ranges, their stats in the one statement per side that
  // hashes the chunk: a differing chunk needs no second pass, its differing sub-ranges are leaves
  const parts = Math.max(1, Math.min(options.bisectionFactor, Math.ceil(options.chunkRows / options.leafRows)));
  // both sides count and choose sub-range boundaries at once (one statement each, on their own connections)
  const [sourceSurvey, targetSurvey] = await Promise.all([source.survey(sourceDb, Math.ceil(options.chunkRows / parts)), target.survey(targetDb, Math.ceil(options.chunkRows / parts))]);
  const sourceRows = sourceSurvey.rows;
  const targetRows = targetSurvey.rows;
  // cut by the larger side, so no range is much larger than intended on either
  const starts = targetRows > sourceRows ? targetSurvey.starts : sourceSurvey.starts;
  const chunks = Math.ceil((starts.length + 1) / parts);
  const result: ScanResult = { consistency: connections.consistency, sourceRows, targetRows, sourceChecked: 0, targetChecked: 0, chunks, differingRanges: 0, candidates: [] };
  const bisector = new Bisector({ reader: source, db: sourceDb }, { reader: target, db: targetDb }, options, result);

  for (let chunk = 0; chunk < chunks; chunk += 1) {
    // chunk `chunk` holds sub-ranges chunk * parts ... chunk * parts + parts - 1, cut at starts[sub - 1]
    const first = chunk * parts;
    const lo = first === 0 ? undefined : starts[first - 1];
    const hi = first + parts - 1 < starts.length ? starts[first + parts - 1] : undefined;
    const inner = starts.slice(first, first + parts - 1);
    const [s, t] = await Promise.all([source.rangeStats(sourceDb, lo, hi, inner), target.rangeStats(targetDb, lo, hi, inner)]);
    for (const stat of s) result.sourceChecked += stat.rows;
    for (const stat of t) result.targetChecked += stat.rows;
    await bisector.subRanges(lo, inner, hi, s, t);
    options.onProgress?.(chunk + 1, chunks);
  }
  await bisector.flush();
  for (const [which, present, checked, label] of [
    ['source', sourceRows, result.sourceChecked, source.shape.label],
    ['target', targetRows, result.targetChecked, target.shape.label],
  ] as const) {
    if (present !== checked) {
      throw new PromoteError(`reconcile did not cover the ${which} ${label}: its key ranges held ${checked} row(s) but it has ${present}, so ${Math.abs(present - checked)} row(s) were not compared`, {
        hint: 'rows with NULL in a key column, or a key that sorts differently on the two sides, fall outside every range; compare on a NOT NULL unique key',
      });
    }
  }
  return result;
}
