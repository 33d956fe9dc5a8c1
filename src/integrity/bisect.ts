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
import { type HashedRow, parseKey, type RangeStat, type SideReader } from './side.js';
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
  private subRangeCount = 0;
  private differingSubRanges = 0;

  constructor(
    private readonly source: Side,
    private readonly target: Side,
    private readonly options: { leafRows: number; bisectionFactor: number },
    private readonly result: ScanResult,
  ) {}

  get dense(): boolean {
    return this.subRangeCount > 0 && this.differingSubRanges * 2 > this.subRangeCount;
  }

  /**
   * A range whose count or sum differed: compared row by row now or later, or split. Called in key
   * order (the scan walks its chunks in order, a split its sub-ranges): a leaf batch is read within
   * its first range's start and its last range's end.
   */
  async differs(range: DifferingRange): Promise<void> {
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
    this.result.differingRanges += 1;
    if (this.pending.length > 0 && this.pendingRows + most > LEAF_BATCH_ROWS) await this.flush();
    this.pending.push(range);
    this.pendingRows += most;
  }

  private async split(range: DifferingRange, most: number): Promise<void> {
    this.result.differingRanges += 1;
    const larger = range.target.rows > range.source.rows ? this.target : this.source;
    const parts = Math.max(2, Math.min(this.options.bisectionFactor, Math.ceil(most / this.options.leafRows)));
    const starts = await larger.reader.boundaries(larger.db, range.lo, range.hi, Math.ceil(most / parts));
    const [sourceStats, targetStats] = await Promise.all([
      this.source.reader.rangeStats(this.source.db, range.lo, range.hi, starts),
      this.target.reader.rangeStats(this.target.db, range.lo, range.hi, starts),
    ]);
    await this.subRanges(range.lo, starts, range.hi, sourceStats, targetStats, most);
  }

  /**
   * The sub-ranges of lo..hi cut at `starts`, with both sides' stats: the differing ones go on. The
   * scan's first level passes each chunk's sub-ranges here too (`most` absent: no parent to compare).
   */
  async subRanges(lo: Key | undefined, starts: readonly Key[], hi: Key | undefined, sourceStats: readonly RangeStat[], targetStats: readonly RangeStat[], most = Infinity): Promise<void> {
    const differing = rangesFrom(lo, starts, hi)
      .map(([subLo, subHi], index) => ({ lo: subLo, hi: subHi, source: sourceStats[index] ?? { rows: 0, sum: '0' }, target: targetStats[index] ?? { rows: 0, sum: '0' } }))
      .filter((sub) => sub.source.rows !== sub.target.rows || sub.source.sum !== sub.target.sum);
    // counted before any goes on, so this range's own density decides for its sub-ranges
    this.subRangeCount += starts.length + 1;
    this.differingSubRanges += differing.length;
    for (const sub of differing) {
      const subMost = Math.max(sub.source.rows, sub.target.rows);
      if (subMost < most) {
        await this.differs(sub);
      } else {
        // no progress (one key repeated through the whole range): compare it row by row
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
export function compareRows(sourceRows: readonly HashedRow[], targetRows: readonly HashedRow[]): Candidate[] {
  const group = (rows: readonly HashedRow[]) => {
    const byKey = new Map<string, string[]>();
    for (const row of rows) {
      const hashes = byKey.get(row.id);
      if (hashes === undefined) byKey.set(row.id, [row.hash]);
      else hashes.push(row.hash);
    }
    return byKey;
  };
  const sourceKeys = group(sourceRows);
  const targetKeys = group(targetRows);
  const candidates: Candidate[] = [];
  for (const [id, hashes] of sourceKeys) {
    const other = targetKeys.get(id);
    if (other === undefined) candidates.push({ kind: hashes.length > 1 ? 'duplicate' : 'missing', key: parseKey(id) });
    else if (hashes.length > 1 || other.length > 1) candidates.push({ kind: 'duplicate', key: parseKey(id) });
    else if (hashes[0] !== other[0]) candidates.push({ kind: 'different', key: parseKey(id) });
  }
  for (const [id, hashes] of targetKeys) {
    if (!sourceKeys.has(id)) candidates.push({ kind: hashes.length > 1 ? 'duplicate' : 'extra', key: parseKey(id) });
  }
  return candidates;
}
