/**
 * Cross-check with pg_comparator (Debian's postgresql-comparator, installed by .ci/run): on the same
 * two tables with seeded differences, both tools must name the same keys as inserted (missing from the
 * target), deleted (extra in it) and updated. pg_comparator's md5 checksum casts bytea to bit(n)
 * through C functions of its pgcmp extension, built for Debian's own PostgreSQL, not for the embedded
 * server the tests run; the test defines the same cast in SQL (same bytes, same result) instead.
 * Skipped only where the binary is absent.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { reconcile } from '../../src/integrity/reconcile.js';
import { createTestDatabase } from '../helpers/database.js';

const BINARY = ['/usr/bin/pg_comparator', '/usr/local/bin/pg_comparator'].find((path) => existsSync(path));
const run = promisify(execFile);

let pool: pg.Pool;
let url: URL;

beforeAll(async () => {
  const database = await createTestDatabase();
  url = new URL(database.url);
  pool = new pg.Pool({ connectionString: database.url });
});
afterAll(async () => {
  await pool.end();
});

/** mulberry32 */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

it.skipIf(BINARY === undefined)('finds the same differences as pg_comparator on the same tables', async () => {
  await pool.query(`
    create or replace function pgc_bytea_to_bit(b bytea, typmod int, explicit boolean) returns bit language plpgsql immutable strict as $$
      begin return substring((('x' || encode(b, 'hex'))::text::varbit) || repeat('0', greatest(typmod, 0))::text::varbit from 1 for typmod); end $$;
    create cast (bytea as bit) with function pgc_bytea_to_bit(bytea, int, boolean);
    create table left_side (id bigint primary key, name text, amount numeric, tag text);
    insert into left_side select g, 'name ' || g, g * 3, case when g % 2 = 0 then null else 't' || g end from generate_series(1, 20000) g;
    create table right_side (like left_side including all);
    insert into right_side select * from left_side`);
  const next = random(42);
  const expected = { INSERT: new Set<string>(), DELETE: new Set<string>(), UPDATE: new Set<string>() };
  const used = new Set<number>();
  for (let index = 0; index < 300; index += 1) {
    let key = 1 + Math.floor(next() * 20000);
    while (used.has(key)) key = 1 + Math.floor(next() * 20000);
    used.add(key);
    const kind = index % 5;
    if (kind === 0) {
      await pool.query(`delete from right_side where id = $1`, [key]);
      expected.INSERT.add(String(key));
    } else if (kind === 1) {
      await pool.query(`insert into right_side values ($1, 'extra', 0, null)`, [100_000 + index]);
      expected.DELETE.add(String(100_000 + index));
      used.delete(key);
    } else {
      const change = ['name = name || $2', 'amount = amount + 1', `tag = case when tag is null then '' else null end`][kind - 2] ?? '';
      await pool.query(`update right_side set ${change} where id = $1`, kind === 2 ? [key, '!'] : [key]);
      expected.UPDATE.add(String(key));
    }
  }
  const connection = `pgsql://${url.username}:${url.password}@${url.hostname}:${url.port}${url.pathname}`;
  const { stdout } = await run(BINARY ?? '', ['--checksum-function=md5', '--null=hash', '--max-ratio=0.5', `${connection}/left_side?id:name,amount,tag`, `${connection}/right_side?id:name,amount,tag`]);
  const theirs = { INSERT: new Set<string>(), DELETE: new Set<string>(), UPDATE: new Set<string>() };
  for (const line of stdout.split('\n').filter((text) => text.trim() !== '')) {
    const [verb, key] = line.trim().split(/\s+/) as [keyof typeof theirs, string];
    theirs[verb].add(key);
  }
  const report = await reconcile({ source: { pool, table: 'left_side' }, target: { pool, table: 'right_side' } });
  const ours = {
    INSERT: new Set(report.differences.filter((difference) => difference.kind === 'missing').map((difference) => difference.key[0]!)),
    DELETE: new Set(report.differences.filter((difference) => difference.kind === 'extra').map((difference) => difference.key[0]!)),
    UPDATE: new Set(report.differences.filter((difference) => difference.kind === 'different').map((difference) => difference.key[0]!)),
  };
  const sorted = (sets: typeof theirs) => Object.fromEntries(Object.entries(sets).map(([verb, keys]) => [verb, [...keys].map(Number).sort((a, b) => a - b)]));
  expect(sorted(theirs)).toEqual(sorted(expected));
  expect(sorted(ours)).toEqual(sorted(expected));
  expect(report.differences).toHaveLength(300);
}, 60_000);
