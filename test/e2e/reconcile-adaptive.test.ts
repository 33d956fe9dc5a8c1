/**
 * reconcile's adaptive localisation and its row hash: dense drift read row by row without splitting
 * every range, a key repeated through a whole range (a split that cannot make progress), the two hash
 * functions finding the same rows, and hashtextextended never blind to a case-insensitive collation.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reconcile } from '../../src/integrity/reconcile.js';
import { createTestDatabase } from '../helpers/database.js';

let pool: pg.Pool;

beforeAll(async () => {
  pool = new pg.Pool({ connectionString: (await createTestDatabase()).url, max: 6 });
});
afterAll(async () => {
  await pool.end();
});

async function pair(name: string, rows: number, primaryKey = true): Promise<void> {
  for (const side of ['a', 'b']) {
    await pool.query(`drop table if exists ${name}_${side}; create table ${name}_${side} (id bigint ${primaryKey || side === 'a' ? 'primary key' : 'not null'}, v text, n numeric)`);
    await pool.query(`insert into ${name}_${side} select g, 'v' || g, g / 4.0 from generate_series(1, $1::int) g`, [rows]);
  }
}

const queries = (report: { source: { queries: number }; target: { queries: number } }) => report.source.queries + report.target.queries;

describe('reconcile localisation', () => {
  it('reads dense drift row by row at once instead of splitting every differing range', async () => {
    await pair('dense', 20_000);
    // every 5th row changed: every chunk and nearly every sub-range differs
    await pool.query(`update dense_b set v = v || '!' where id % 5 = 0`);
    // chunks of 2000 rows read as 4 sub-ranges of 500: larger than leafRows, so a differing one is split
    // (into 8 leaves) unless the drift is dense
    const options = { chunkRows: 2000, leafRows: 64, bisectionFactor: 4, recheck: { delayMs: 0, rounds: 1 } };
    const report = await reconcile({ source: { pool, table: 'dense_a' }, target: { pool, table: 'dense_b' }, ...options });
    expect(report.counts).toEqual({ missing: 0, extra: 0, different: 4000, duplicate: 0 });
    expect(report.differences.every((difference) => Number(difference.key[0]) % 5 === 0 && difference.columns?.join() === 'v')).toBe(true);
    expect(report.source.rowsChecked).toBe(20_000);
    // 2 surveys, 2 x 10 chunk statements; every sub-range of the first chunk differs (dense), so all
    // 40 differing sub-ranges are read row by row at once, in one batch of 20 000 rows per side, none
    // split; the re-check reads the 4000 keys in two reads per side
    expect(queries(report)).toBe(2 + 20 + 2 + 4);
    expect(report.differingRanges).toBe(40);
    // the same tables with sparse drift: every differing chunk is split, only differing leaves are read
    await pool.query(`update dense_b set v = 'v' || id where id % 5 = 0 and id % 2000 <> 0`);
    const sparse = await reconcile({ source: { pool, table: 'dense_a' }, target: { pool, table: 'dense_b' }, ...options });
    expect(sparse.differences.map((difference) => difference.key[0])).toEqual(['2000', '4000', '6000', '8000', '10000', '12000', '14000', '16000', '18000', '20000']);
    // one differing sub-range of 500 rows in each chunk, split into 4 (bisectionFactor) of 125, one
    // of them into 2 of 63: one differing leaf each, all ten leaves read in one batch
    expect(sparse.differingRanges).toBe(30);
    expect(queries(sparse)).toBe(2 + 20 + 10 * 2 * 3 + 2 + 2);
  });

  it('terminates and reports a key repeated through a whole range', async () => {
    await pair('repeat', 3000, false);
    await pool.query(`insert into repeat_b select 1500, 'v1500', 375 from generate_series(1, 700)`);
    const report = await reconcile({ source: { pool, table: 'repeat_a' }, target: { pool, table: 'repeat_b' }, key: ['id'], chunkRows: 1000, leafRows: 16, recheck: { delayMs: 0 } });
    expect(report.differences).toEqual([{ kind: 'duplicate', key: ['1500'], rows: { source: 1, target: 701 } }]);
    expect(report.target).toMatchObject({ rows: 3700, rowsChecked: 3700 });
  });

  it('finds the same rows with hashtextextended and with md5', async () => {
    await pair('hashes', 5000);
    await pool.query(`delete from hashes_b where id = 7; update hashes_b set n = null where id = 4000; update hashes_b set v = '' where id = 4001; insert into hashes_b values (9999, 'x', 1)`);
    const auto = await reconcile({ source: { pool, table: 'hashes_a' }, target: { pool, table: 'hashes_b' }, chunkRows: 1000, recheck: { delayMs: 0 } });
    const md5 = await reconcile({ source: { pool, table: 'hashes_a' }, target: { pool, table: 'hashes_b' }, chunkRows: 1000, hash: 'md5', recheck: { delayMs: 0 } });
    expect(auto.hash).toBe('hashtextextended');
    expect(md5.hash).toBe('md5');
    expect(auto.differences).toEqual(md5.differences);
    expect(auto.differences.map((difference) => `${difference.kind} ${difference.key.join()}`)).toEqual(['missing 7', 'different 4000', 'different 4001', 'extra 9999']);
  });

  it('hashes text under "C": a case-insensitive collation does not hide a changed letter case', async () => {
    const icu = await pool.query(`select 1 from pg_collation where collprovider = 'i' limit 1`);
    if (icu.rowCount === 0) return; // a server without ICU cannot declare the collation
    await pool.query(`drop collation if exists promote_ci; create collation promote_ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false)`);
    for (const side of ['a', 'b']) {
      await pool.query(`drop table if exists ci_${side}; create table ci_${side} (id int primary key, v text collate promote_ci)`);
      await pool.query(`insert into ci_${side} select g, 'Name ' || g from generate_series(1, 100) g`);
    }
    await pool.query(`update ci_b set v = lower(v) where id = 42`);
    const report = await reconcile({ source: { pool, table: 'ci_a' }, target: { pool, table: 'ci_b' }, recheck: { delayMs: 0 } });
    expect(report.differences).toEqual([{ kind: 'different', key: ['42'], columns: ['v'] }]);
  });
});
