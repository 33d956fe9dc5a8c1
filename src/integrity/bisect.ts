/**
 * Localising the rows behind a differing range, in few statements:
 *
 * - a differing range of at most `leafRows` rows is a leaf: both sides' (key, hash) pairs are read
 *   and compared. Leaves wait in a batch and are read together, several ranges in one statement per
 *   side (up to LEAF_BATCH_ROWS rows), so many small differing ranges cost two statements, not two each;
 * - a larger range is split at once into as many sub-ranges as it takes to reach leaf size (at most
 *   `bisectionFactor`): one statement chooses the boundaries on the larger side, one per side counts
 *   and sums every sub-range (not one per sub-range), and only the differing sub-ranges go on;
 * - dense drift: when more than half of the sub-ranges split so far differed, splitting saves little
 *   (most sub-ranges would be read anyway), so a differing range of at most DENSE_ROWS rows is read
 *   row by row at once.
 *
 * Every row of a differing range ends up in exactly one leaf that is compared row by row, so nothing
 * the sums flagged is dropped; a split only ever skips sub-ranges whose count and sum are equal.
 */
import type pg from 'pg';
import type { Candidate, ScanResult } from './scan.js';
import type { KeyedRow, RangeStat, SideReader } from './side.js';
import type { Key } from './types.js';

export interface Side {
  reader: SideReader;
  db: pg.ClientBase;
}

export interface DifferingRange {
  lo: Key | undefined;
  hi: Key | undefined;
  source: RangeStat;
  target: RangeStat;
}

/** Rows one leaf read takes at most (one leaf larger than this is read alone). */
export const LEAF_BATCH_ROWS = 20_000;
/** Under dense drift, differing ranges of at most this many rows are read row by row without splitting. */
export const DENSE_ROWS = 65_536;

export class Bisector {
  private pending: DifferingRange[] = [];
  private pendingRows = 0;
  /** sub-ranges made by splits so far, and how many of them differed: how dense the drift is */
  private subRanges = 0;
  private differingSubRanges = 0;

  constructor(
    private readonly source: Side,
    private readonly target: Side,
    private readonly options: { leafRows: number; bisectionFactor: number },
    private readonly result: ScanResult,
  ) {}

  get dense(): boolean {
    return this.subRanges > 0 && this.differingSubRanges * 2 > this.subRanges;
  }

  /** A range whose count or sum differed: compared row by row now or later, or split. */
  async differs(range: DifferingRange): Promise<void> {
    this.result.differingRanges += 1;
    const most = Math.max(range.source.rows, range.target.rows);
    if (most <= this.options.leafRows || (this.dense && most <= DENSE_ROWS)) await this.leaf(range, most);
    else await this.split(range, most);
  }

  /** Reads and compares the leaves still waiting; the scan calls it once at the end. */
  async flush(): Promise<void> {
    if (this.pending.length === 0) return;
    const ranges = this.pending.map((range) => [range.lo, range.hi] as const);
    this.pending = [];
    this.pendingRows = 0;
    const [sourceRows, targetRows] = await Promise.all([this.source.reader.rowHashes(this.source.db, ranges), this.target.reader.rowHashes(this.target.db, ranges)]);
    this.result.candidates.push(...compareRows(sourceRows, targetRows));
  }

  private async leaf(range: DifferingRange, most: number): Promise<void> {
    if (this.pending.length > 0 && this.pendingRows + most > LEAF_BATCH_ROWS) await this.flush();
    this.pending.push(range);
    this.pendingRows += most;
  }

  private async split(range: DifferingRange, most: number): Promise<void> {
    const larger = range.target.rows > range.source.rows ? this.target : this.source;
    const parts = Math.max(2, Math.min(this.options.bisectionFactor, Math.ceil(most / this.options.leafRows)));
    const starts = await larger.reader.boundaries(larger.db, range.lo, range.hi, Math.ceil(most / parts));
    const [sourceStats, targetStats] = await Promise.all([
      this.source.reader.rangeStats(this.source.db, range.lo, range.hi, starts),
      this.target.reader.rangeStats(this.target.db, range.lo, range.hi, starts),
    ]);
    const subs = rangesFrom(range.lo, starts, range.hi);
    this.subRanges += subs.length;
    for (const [index, [lo, hi]] of subs.entries()) {
      const sub = { lo, hi, source: sourceStats[index] ?? { rows: 0, sum: '0' }, target: targetStats[index] ?? { rows: 0, sum: '0' } };
      if (sub.source.rows === sub.target.rows && sub.source.sum === sub.target.sum) continue;
      this.differingSubRanges += 1;
      const subMost = Math.max(sub.source.rows, sub.target.rows);
      if (subMost < most) {
        await this.differs(sub);
      } else {
        // no progress (one key repeated through the whole range): compare it row by row
        this.result.differingRanges += 1;
        await this.leaf(sub, subMost);
      }
    }
  }
}

/** Consecutive ranges [lo, starts[0]), [starts[0], starts[1]), ..., [starts[n-1], hi). */
export function rangesFrom(lo: Key | undefined, starts: readonly Key[], hi: Key | undefined): [Key | undefined, Key | undefined][] {
  const edges = [lo, ...starts, hi];
  return edges.slice(0, -1).map((edge, index) => [edge, edges[index + 1]]);
}

/** Row-level differences between two lists of (key, hash). */
export function compareRows(sourceRows: readonly KeyedRow[], targetRows: readonly KeyedRow[]): Candidate[] {
  const group = (rows: readonly KeyedRow[]) => {
    const byKey = new Map<string, { key: Key; hashes: string[] }>();
    for (const row of rows) {
      const id = JSON.stringify(row.key);
      const entry = byKey.get(id);
      if (entry === undefined) byKey.set(id, { key: row.key, hashes: [row.hash] });
      else entry.hashes.push(row.hash);
    }
    return byKey;
  };
  const sourceKeys = group(sourceRows);
  const targetKeys = group(targetRows);
  const candidates: Candidate[] = [];
  for (const [id, entry] of sourceKeys) {
    const other = targetKeys.get(id);
    if (other === undefined) candidates.push({ kind: entry.hashes.length > 1 ? 'duplicate' : 'missing', key: entry.key });
    else if (entry.hashes.length > 1 || other.hashes.length > 1) candidates.push({ kind: 'duplicate', key: entry.key });
    else if (entry.hashes[0] !== other.hashes[0]) candidates.push({ kind: 'different', key: entry.key });
  }
  for (const [id, entry] of targetKeys) {
    if (!sourceKeys.has(id)) candidates.push({ kind: entry.hashes.length > 1 ? 'duplicate' : 'extra', key: entry.key });
  }
  return candidates;
}
