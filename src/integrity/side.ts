/**
 * The reads reconcile makes on one side: counts, range checksums, range boundaries and row hashes on
 * the scan's connection (inside its snapshot), and rows by key on fresh connections for the re-check.
 * Every statement is counted, so a report can say how many queries localising differences took.
 */
import pg from 'pg';
import { wrapError } from '../errors.js';
import { ident } from '../migrations/sql.js';
import { encodedValue, type HashFunction, keyArray, keyOrder, rowHash, SESSION_SETTINGS } from './canonical.js';
import type { ColumnInfo, SideShape } from './describe.js';
import type { Key } from './types.js';

export interface RangeStat {
  rows: number;
  /** the numeric sum of the row hashes, as text */
  sum: string;
}

export interface KeyedRow {
  key: Key;
  hash: string;
  /** encoded value per compared column (only from rowsByKeys) */
  values?: string[];
}

/** A row as the leaves read it: its key as the text of its text[] (one string to group by), and its hash. */
export interface HashedRow {
  id: string;
  hash: string;
}

// 1009 is text[]; its parser is not among the builtins' names the types list
const parseTextArray = (pg.types.getTypeParser as (oid: number, format: 'text') => (text: string) => (string | null)[])(1009, 'text');

/** A HashedRow's id back to the key (only for the few rows that differ). */
export function parseKey(id: string): Key {
  return parseTextArray(id).map((value) => value ?? '');
}

export class SideReader {
  queries = 0;
  private readonly hash: string;
  private readonly keyText: string;
  private readonly order: string;

  constructor(
    readonly which: 'source' | 'target',
    readonly shape: SideShape,
    readonly key: readonly ColumnInfo[],
    readonly columns: readonly ColumnInfo[],
    hash: HashFunction = 'md5',
  ) {
    this.hash = rowHash(key, columns, hash);
    this.keyText = keyArray(key);
    this.order = keyOrder(key);
  }

  /** `lo <= key < hi` with no NULL in the key, either end open when absent; parameters numbered from `first`. */
  range(lo: Key | undefined, hi: Key | undefined, first = 1): { where: string; params: string[] } {
    // a row comparison can hold with a NULL in a later key column: such rows belong to no range, and
    // the coverage proof then fails the run
    const parts: string[] = [this.key.map((column) => `${ident(column.name)} is not null`).join(' and ')];
    const params: string[] = [];
    if (lo !== undefined) parts.push(`${this.order} >= ${this.bound(lo, first, params)}`);
    if (hi !== undefined) parts.push(`${this.order} < ${this.bound(hi, first, params)}`);
    return { where: parts.join(' and '), params };
  }

  /** A key as a row of typed parameters (appended to `params`, numbered from `first`), collated as `order`. */
  private bound(values: Key, first: number, params: string[]): string {
    const casts = this.key.map((column, index) => {
      params.push(values[index] ?? '');
      const cast = `$${first + params.length - 1}::${column.type}`;
      return column.collatable ? `${cast} collate "C"` : cast;
    });
    return `(${casts.join(', ')})`;
  }

  async run<R extends pg.QueryResultRow>(db: pg.ClientBase, doing: string, sql: string, params: unknown[] = []): Promise<R[]> {
    this.queries += 1;
    try {
      return (await db.query<R>(sql, params)).rows;
    } catch (error) {
      throw wrapError(`reconcile: ${doing} on the ${this.which} ${this.shape.label}`, error);
    }
  }

  /**
   * One statement, the first thing the scan reads: count(*) of the side (every row, NULL keys too:
   * the coverage proof's "rows present") and every `step`-th key in key order (the first-level
   * boundaries, should this side be the larger).
   */
  async survey(db: pg.ClientBase, step: number): Promise<{ rows: number; starts: Key[] }> {
    const { where } = this.range(undefined, undefined);
    const keys = this.key.map((column) => ident(column.name)).join(', ');
    const rows = await this.run<{ k: Key | null; n: string | null }>(
      db,
      'counting rows and choosing key boundaries',
      `select k, n from (
         select null::text[] as k, count(*) as n, 0::int8 as o from ${this.shape.from}
         union all
         select ${this.keyText}, null, rn from (select ${keys}, row_number() over (order by ${this.order}) as rn from ${this.shape.from} where ${where}) as promote_keys
          where rn % ${Math.max(1, Math.floor(step))} = 1 and rn > 1
       ) as promote_survey order by o`,
    );
    return { rows: Number(rows[0]?.n ?? 0), starts: rows.slice(1).map((row) => row.k ?? []) };
  }

  /** How many of `bounds` (sorted keys as parameter rows) are <= the row's key: a balanced CASE, log2 comparisons. */
  private bucket(bounds: readonly string[]): string {
    const tree = (from: number, to: number): string => {
      if (from === to) return String(from);
      const middle = Math.ceil((from + to) / 2);
      return `case when ${this.order} < ${bounds[middle - 1] ?? ''} then ${tree(from, middle - 1)} else ${tree(middle, to)} end`;
    };
    return tree(0, bounds.length);
  }

  /** Every `step`-th key of the range, in key order: the starts of sub-ranges after the first. */
  async boundaries(db: pg.ClientBase, lo: Key | undefined, hi: Key | undefined, step: number): Promise<Key[]> {
    const { where, params } = this.range(lo, hi);
    const keys = this.key.map((column) => ident(column.name)).join(', ');
    const rows = await this.run<{ k: Key }>(
      db,
      'choosing key boundaries',
      `select ${this.keyText} as k from (select ${keys}, row_number() over (order by ${this.order}) as n from ${this.shape.from} where ${where}) as promote_keys
        where n % ${Math.max(1, Math.floor(step))} = 1 and n > 1 order by n`,
      params,
    );
    return rows.map((row) => row.k);
  }

  /**
   * Count and hash sum of each sub-range of `lo <= key < hi` cut at `starts` (sorted), in one
   * statement: each row's sub-range is found by a balanced CASE over the starts (log2 comparisons).
   * Returns starts.length + 1 stats, in order.
   */
  async rangeStats(db: pg.ClientBase, lo: Key | undefined, hi: Key | undefined, starts: readonly Key[]): Promise<RangeStat[]> {
    const { where, params } = this.range(lo, hi);
    const bucket = this.bucket(starts.map((start) => this.bound(start, 1, params)));
    const rows = await this.run<{ b: number; n: string; s: string }>(
      db,
      'checksumming sub-ranges',
      `select b, count(*) as n, coalesce(sum(h), 0)::text as s from (select ${bucket} as b, ${this.hash} as h from ${this.shape.from} where ${where}) as promote_rows group by b`,
      params,
    );
    const stats: RangeStat[] = starts.map(() => ({ rows: 0, sum: '0' }));
    stats.push({ rows: 0, sum: '0' });
    for (const row of rows) stats[row.b] = { rows: Number(row.n), sum: row.s };
    return stats;
  }

  /**
   * (key, hash) of every row in any of these ranges (in key order, not overlapping), in one statement:
   * the stretch from the first range's start to the last one's end (an index range scan), less the
   * gaps between the ranges. Adjacent ranges are merged; the edges between them (a range's end, the
   * next one's start, ...) cut the stretch into intervals that alternate in, out, in: a row is in a
   * range when an even number of those edges are <= its key (a balanced CASE, log2 comparisons).
   */
  async rowHashes(db: pg.ClientBase, ranges: readonly (readonly [Key | undefined, Key | undefined])[]): Promise<HashedRow[]> {
    const merged: [Key | undefined, Key | undefined][] = [];
    for (const [lo, hi] of ranges) {
      const last = merged.at(-1);
      if (last !== undefined && last[1] !== undefined && lo !== undefined && JSON.stringify(last[1]) === JSON.stringify(lo)) last[1] = hi;
      else merged.push([lo, hi]);
    }
    const outer = this.range(merged[0]?.[0], merged.at(-1)?.[1]);
    const params = [...outer.params];
    const edges = merged.flatMap(([lo, hi], index) => [...(index === 0 ? [] : [lo]), ...(index === merged.length - 1 ? [] : [hi])]);
    const bounds = edges.map((edge) => this.bound(edge ?? [], 1, params));
    const where = bounds.length === 0 ? outer.where : `${outer.where} and (${this.bucket(bounds)}) % 2 = 0`;
    return this.run<HashedRow>(db, 'reading row hashes', `select (${this.keyText})::text as id, (${this.hash})::text as hash from ${this.shape.from} where ${where}`, params);
  }

  /** The rows with these keys, with each compared column's encoded value, in a fresh read-only transaction. */
  async rowsByKeys(pool: pg.Pool, keys: readonly Key[]): Promise<KeyedRow[]> {
    if (keys.length === 0) return [];
    const params = this.key.map((_column, index) => keys.map((key) => key[index] ?? ''));
    const unnest = `select ${this.key.map((column, index) => `u${index}::${column.type}`).join(', ')} from unnest(${this.key.map((_c, index) => `$${index + 1}::text[]`).join(', ')}) as u(${this.key.map((_c, index) => `u${index}`).join(', ')})`;
    const values = this.columns.length === 0 ? `array[]::text[]` : `array[${this.columns.map((column) => encodedValue(column)).join(', ')}]`;
    const sql = `select ${this.keyText} as key, (${this.hash})::text as hash, ${values} as values from ${this.shape.from}
      where (${this.key.map((column) => ident(column.name)).join(', ')}) in (${unnest})`;
    return readOnly(pool, `reconcile: connecting to the ${this.which} database`, async (client) => this.run<KeyedRow>(client, 're-reading rows by key', sql, params));
  }
}

/** One read-only transaction with the canonical session settings, on a client of `pool`. */
export async function readOnly<T>(pool: pg.Pool, doing: string, work: (client: pg.PoolClient) => Promise<T>, isolation = 'read committed'): Promise<T> {
  let client: pg.PoolClient;
  try {
    client = await pool.connect();
  } catch (error) {
    throw wrapError(doing, error);
  }
  let failed: Error | undefined;
  try {
    await client.query(`begin isolation level ${isolation} read only; ${SESSION_SETTINGS}`);
    const result = await work(client);
    await client.query('commit');
    return result;
  } catch (error) {
    await client.query('rollback').catch((rollbackError: unknown) => {
      failed = rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError));
    });
    throw error;
  } finally {
    client.release(failed ?? false);
  }
}
