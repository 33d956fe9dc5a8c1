/**
 * reconcile on real PostgreSQL: what it finds (missing, extra, different with columns, duplicates),
 * composite and text keys, a translating query on one side, two databases, the coverage proof, and a
 * property test of the canonical row text (same data hashes the same across types and time zones;
 * any change of one value, NULL to '' included, is found).
 */
import fc from 'fast-check';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PromoteError } from '../../src/errors.js';
import { reconcile } from '../../src/integrity/reconcile.js';
import { createTestDatabase } from '../helpers/database.js';

let pool: pg.Pool;
let other: pg.Pool;

beforeAll(async () => {
  pool = new pg.Pool({ connectionString: (await createTestDatabase()).url, max: 6 });
  other = new pg.Pool({ connectionString: (await createTestDatabase()).url, max: 6 });
});
afterAll(async () => {
  await pool.end();
  await other.end();
});

const FILL = `select g, g % 97, 'name ' || g, g * 1.25, timestamptz '2024-01-01 00:00:00+00' + g * interval '1 minute', case when g % 3 = 0 then null else 'e' || g end from generate_series(1, $1::int) g`;

async function table(db: pg.Pool, name: string, rows: number, primaryKey = true): Promise<void> {
  await db.query(`drop table if exists ${name}; create table ${name} (id bigint ${primaryKey ? 'primary key' : 'not null'}, a int, b text, c numeric, d timestamptz, e text)`);
  await db.query(`insert into ${name} ${FILL}`, [rows]);
}

describe('reconcile', () => {
  it('finds equal tables equal, covering every row, in few queries', async () => {
    await table(pool, 'eq_a', 30_000);
    await table(pool, 'eq_b', 30_000);
    const report = await reconcile({ source: { pool, table: 'eq_a' }, target: { pool, table: 'eq_b' }, chunkRows: 10_000 });
    expect(report).toMatchObject({ equal: true, key: ['id'], columns: ['a', 'b', 'c', 'd', 'e'], consistency: 'snapshot', chunks: 3, differingRanges: 0, differences: [] });
    expect(report.source).toMatchObject({ rows: 30_000, rowsChecked: 30_000 });
    expect(report.target).toMatchObject({ rows: 30_000, rowsChecked: 30_000 });
    // one survey (count and boundaries) and one checksum per chunk on each side
    expect(report.source.queries + report.target.queries).toBe(2 + 2 * 3);
  });

  it('reports missing, extra, different (naming the columns) and duplicate rows, and nothing else', async () => {
    await table(pool, 'kinds_a', 20_000);
    await table(pool, 'kinds_b', 20_000, false);
    await pool.query(`delete from kinds_b where id in (10, 15000);
      insert into kinds_b values (30000, 1, 'new', 1, now(), null);
      update kinds_b set b = 'changed', c = c + 1 where id = 77;
      update kinds_b set e = '' where id = 99;
      insert into kinds_b select * from kinds_b where id = 500`);
    const report = await reconcile({ source: { pool, table: 'kinds_a' }, target: { pool, table: 'kinds_b' }, key: ['id'], chunkRows: 4000 });
    expect(report.differences).toEqual([
      { kind: 'missing', key: ['10'] },
      { kind: 'different', key: ['77'], columns: ['b', 'c'] },
      { kind: 'different', key: ['99'], columns: ['e'] },
      { kind: 'duplicate', key: ['500'], rows: { source: 1, target: 2 } },
      { kind: 'missing', key: ['15000'] },
      { kind: 'extra', key: ['30000'] },
    ]);
    expect(report.counts).toEqual({ missing: 2, extra: 1, different: 2, duplicate: 1 });
    expect(report.target.rowsChecked).toBe(20_000);
  });

  it('compares composite text keys across two databases, sorting text the same on both sides', async () => {
    const make = async (db: pg.Pool) => {
      await db.query(`drop table if exists accounts; create table accounts (region text, code text, balance numeric(12,2), primary key (region, code))`);
      await db.query(`insert into accounts select r, c || '-' || g, g / 100.0 from unnest(array['EU', 'eu', 'Éire', 'us-east', 'US_west', 'a b']) r, unnest(array['Z', 'a', '_', 'ä']) c, generate_series(1, 400) g`);
    };
    await make(pool);
    await make(other);
    await other.query(`update accounts set balance = balance + 0.01 where region = 'Éire' and code = 'ä-7'; delete from accounts where region = 'a b' and code = '_-400'`);
    const report = await reconcile({ source: { pool, table: 'accounts' }, target: { pool: other, table: 'accounts' }, chunkRows: 500, leafRows: 16 });
    expect(report.consistency).toBe('separate');
    expect(report.differences).toEqual([
      { kind: 'missing', key: ['a b', '_-400'] },
      { kind: 'different', key: ['Éire', 'ä-7'], columns: ['balance'] },
    ]);
    expect(report.source.rowsChecked).toBe(6 * 4 * 400);
  });

  it('compares a table with a translating query (the new shape after a migration)', async () => {
    await pool.query(`drop table if exists users_v1, users_v2;
      create table users_v1 (id int primary key, email text not null, first text, last text);
      create table users_v2 (id bigint primary key, email_lower text not null, full_name text);
      insert into users_v1 select g, 'User' || g || '@Example.COM', 'F' || g, case when g % 5 = 0 then null else 'L' || g end from generate_series(1, 5000) g;
      insert into users_v2 select id, lower(email), concat_ws(' ', first, last) from users_v1;
      update users_v2 set full_name = 'wrong' where id = 4321`);
    const report = await reconcile({
      source: { pool, query: `select id, lower(email) as email_lower, concat_ws(' ', first, last) as full_name from users_v1`, label: 'users_v1 translated' },
      target: { pool, table: 'users_v2' },
    });
    expect(report.key).toEqual(['id']);
    expect(report.differences).toEqual([{ kind: 'different', key: ['4321'], columns: ['full_name'] }]);
  });

  it('fails when its ranges do not cover every row, instead of passing over rows it never compared', async () => {
    await table(pool, 'cover_a', 1000);
    await table(pool, 'cover_b', 1000);
    const run = reconcile({
      source: { pool, table: 'cover_a' },
      // a translation that loses the key of one row: no key range holds it
      target: { pool, query: `select case when id = 500 then null else id end as id, a, b, c, d, e from cover_b` },
    });
    await expect(run).rejects.toThrow(PromoteError);
    await expect(run).rejects.toThrow(/did not cover the target .*held 999 row\(s\) but it has 1000/);
  });

  it('hashes the same data the same across column types and server time zones, and finds any changed value', async () => {
    await pool.query(`drop table if exists prop_a, prop_b;
      create table prop_a (id int primary key, n numeric(12,4), i int4, t text, j json, ts timestamptz, f float8, bin bytea);
      create table prop_b (id int8 primary key, n numeric, i int8, t varchar(200), j jsonb, ts timestamptz, f float8, bin bytea)`);
    const text = fc.option(fc.string({ unit: fc.constantFrom('a', ',', ':', '~', '\\', '"', ' ', 'é', '1'), maxLength: 6 }), { nil: null });
    const row = fc.record({
      n: fc.option(fc.integer({ min: -99_999_999, max: 99_999_999 }).map((value) => (value / 10_000).toFixed(4)), { nil: null }),
      i: fc.option(fc.integer(), { nil: null }),
      t: text,
      j: fc.option(fc.dictionary(fc.constantFrom('x', 'y', 'z'), fc.integer({ min: 0, max: 9 })), { nil: null }),
      ts: fc.option(fc.integer({ min: 0, max: 2_000_000_000 }), { nil: null }),
      f: fc.option(fc.double({ noNaN: true, noDefaultInfinity: true }), { nil: null }),
      bin: fc.option(fc.uint8Array({ maxLength: 4 }), { nil: null }),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(row, { minLength: 1, maxLength: 12 }), fc.nat(), fc.constantFrom<'n' | 'i' | 't' | 'j' | 'ts' | 'f'>('n', 'i', 't', 'j', 'ts', 'f'), async (rows, pick, column) => {
        await pool.query('truncate prop_a, prop_b');
        for (const [name, zone] of [['prop_a', 'Asia/Kathmandu'], ['prop_b', 'America/St_Johns']] as const) {
          const client = await pool.connect();
          try {
            await client.query(`set timezone = '${zone}'`);
            for (const [index, value] of rows.entries()) {
              await client.query(`insert into ${name} values ($1, $2, $3, $4, $5, to_timestamp($6), $7, $8)`, [
                index, value.n, value.i, value.t, value.j === null ? null : JSON.stringify(value.j), value.ts, value.f, value.bin === null ? null : Buffer.from(value.bin),
              ]);
            }
          } finally {
            await client.query('reset timezone');
            client.release();
          }
        }
        const same = await reconcile({ source: { pool, table: 'prop_a' }, target: { pool, table: 'prop_b' }, recheck: { delayMs: 0, rounds: 1 } });
        expect(same.differences).toEqual([]);
        const id = pick % rows.length;
        const change: Record<typeof column, string> = {
          n: `n = coalesce(n, 0) + 0.0001`,
          i: `i = coalesce(i, 0) + 1`,
          t: `t = case when t is null then '' else null end`,
          j: `j = coalesce(j, '{}'::jsonb) || '{"w": 1}'`,
          ts: `ts = coalesce(ts, now()) + interval '1 microsecond'`,
          f: `f = case when f is null then 0 else null end`,
        };
        await pool.query(`update prop_b set ${change[column]} where id = $1`, [id]);
        const changed = await reconcile({ source: { pool, table: 'prop_a' }, target: { pool, table: 'prop_b' }, recheck: { delayMs: 0, rounds: 1 } });
        expect(changed.differences).toEqual([{ kind: 'different', key: [String(id)], columns: [column] }]);
      }),
      { numRuns: 40, seed: 20261123 },
    );
  });
});
