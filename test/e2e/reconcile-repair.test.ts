/**
 * Repairs and bad input: source-wins makes the target equal in bounded, audited batches and a second
 * run changes nothing; flag changes nothing and records the differences; a repair never runs without
 * a policy; tables without a usable key, mismatched key types and a translation that fails are refused
 * with a clear error before anything is repaired.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PromoteError } from '../../src/errors.js';
import { reconcile } from '../../src/integrity/reconcile.js';
import type { RepairPolicy } from '../../src/integrity/types.js';
import { listEvents, verifyEventChain } from '../../src/store/events.js';
import { createStorePool, createTestDatabase } from '../helpers/database.js';

let app: pg.Pool;
let remote: pg.Pool;
let store: pg.Pool;

beforeAll(async () => {
  app = new pg.Pool({ connectionString: (await createTestDatabase()).url, max: 6 });
  remote = new pg.Pool({ connectionString: (await createTestDatabase()).url, max: 6 });
  store = (await createStorePool()).pool;
});
afterAll(async () => {
  await app.end();
  await remote.end();
});

/** The source `orders` in the app database and a drifted copy `table` in `target`, with a column of its own. */
async function pair(target: pg.Pool, table = 'orders'): Promise<void> {
  for (const [db, name] of [[app, 'orders'], [target, table]] as const) {
    await db.query(`drop table if exists ${name}; create table ${name} (id bigint primary key, customer text not null, total numeric(10,2), note text, created_at timestamptz not null)`);
    await db.query(`insert into ${name} select g, 'c' || (g % 50), g * 0.5, case when g % 4 = 0 then null else 'n' || g end, timestamptz '2024-05-01 00:00:00+00' + g * interval '1 hour' from generate_series(1, 3000) g`);
  }
  await target.query(`alter table ${table} add column audit text default 'kept';
    delete from ${table} where id in (5, 6, 7);
    insert into ${table} (id, customer, total, note, created_at) values (9001, 'ghost', 1, null, now()), (9002, 'ghost', 2, null, now());
    update ${table} set total = total + 1 where id between 100 and 111;
    update ${table} set note = '' where id = 8;
    update ${table} set customer = 'renamed', audit = 'manual fix' where id = 2000`);
}

const sides = (target: pg.Pool) => ({ source: { pool: app, table: 'orders' }, target: { pool: target, table: 'orders' } });
const snapshot = async (db: pg.Pool, table = 'orders'): Promise<unknown[]> => (await db.query<Record<string, unknown>>(`select * from ${table} order by id`)).rows;
const eventCount = async () => (await listEvents(store, { limit: 10_000 })).length;

describe('reconcile repair', () => {
  for (const [name, db, table] of [['in one database', () => app, 'orders_target'], ['across two databases', () => remote, 'orders']] as const) {
    it(`source-wins makes the target equal in bounded audited batches, and a second repair changes nothing (${name})`, async () => {
      await pair(db(), table);
      const target = { pool: db(), table };
      const source = { pool: app, table: 'orders' };
      const before = await reconcile({ source, target });
      expect(before.consistency).toBe(db() === app ? 'snapshot' : 'separate');
      expect(before.counts).toEqual({ missing: 3, extra: 2, different: 14, duplicate: 0 });
      const count = await eventCount();
      const repaired = await reconcile({ source, target, repair: { policy: 'source-wins', store, batchRows: 5, actor: 'test' } });
      expect(repaired.repair).toMatchObject({ policy: 'source-wins', batches: 4, deleted: 2, updated: 14, inserted: 3 });
      const events = (await listEvents(store, { limit: 10_000 })).slice(count);
      expect(events.map((event) => event.type)).toEqual(Array(4).fill('reconcile.repaired'));
      expect(events.flatMap((event) => event.data.differences as unknown[])).toHaveLength(19);
      expect(await verifyEventChain(store)).toMatchObject({ ok: true });
      // the target's own column is left alone on updated rows; inserted rows take its default
      expect((await db().query(`select id, audit from ${table} where id in (2000, 5) order by id`)).rows).toEqual([{ id: '5', audit: 'kept' }, { id: '2000', audit: 'manual fix' }]);
      expect((await reconcile({ source, target })).equal).toBe(true);
      const state = await snapshot(db(), table);
      const again = await reconcile({ source, target, repair: { policy: 'source-wins', store, actor: 'test' } });
      expect(again.repair).toBeUndefined();
      expect(await snapshot(db(), table)).toEqual(state);
      expect(await eventCount()).toBe(count + 4);
    });
  }

  it('flag records the differences in the audit trail and changes no data', async () => {
    await pair(remote);
    const state = await snapshot(remote);
    const report = await reconcile({ ...sides(remote), repair: { policy: 'flag', store, app: 'shop', environment: 'production' } });
    expect(report.repair).toMatchObject({ policy: 'flag', batches: 1, deleted: 0, updated: 0, inserted: 0 });
    const [event] = await listEvents(store, { limit: 10_000 }).then((events) => events.slice(-1));
    expect(event).toMatchObject({ type: 'reconcile.flagged', app: 'shop', environment: 'production', data: { policy: 'flag', source: 'orders', target: 'orders' } });
    expect(event?.data.differences).toContainEqual({ kind: 'different', key: ['2000'], columns: ['customer'] });
    expect(await snapshot(remote)).toEqual(state);
  });

  it('never repairs without a policy, and refuses an unknown one before reading any row', async () => {
    await pair(remote);
    const state = await snapshot(remote);
    const report = await reconcile(sides(remote));
    expect(report.equal).toBe(false);
    expect(report.repair).toBeUndefined();
    await expect(reconcile({ ...sides(remote), repair: { policy: 'target-wins' as RepairPolicy, store } })).rejects.toThrow('repair policy "target-wins" is not one Promote knows: use source-wins or flag');
    await expect(reconcile({ ...sides(remote), repair: { policy: 'source-wins', store, batchRows: 0 } })).rejects.toThrow('repair batchRows 0');
    expect(await snapshot(remote)).toEqual(state);
  });
});

describe('reconcile refuses bad input before anything runs', () => {
  beforeAll(async () => {
    await app.query(`drop table if exists keyless, text_keyed, int_keyed;
      create table keyless (id int, name text); insert into keyless values (1, 'a');
      create table text_keyed (id text primary key, name text); insert into text_keyed values ('1', 'a');
      create table int_keyed (id int primary key, name text); insert into int_keyed values (1, 'a')`);
  });

  it('a table without a usable key', async () => {
    const run = reconcile({ source: { pool: app, table: 'keyless' }, target: { pool: app, table: 'keyless' } });
    await expect(run).rejects.toThrow(PromoteError);
    await expect(run).rejects.toThrow('neither keyless nor keyless has a usable key (a primary key, or a unique index over NOT NULL columns), so rows cannot be matched');
    await expect(reconcile({ source: { pool: app, table: 'keyless' }, target: { pool: app, table: 'keyless' }, key: ['id'] })).rejects.toThrow('neither keyless nor keyless enforces (id) as unique');
  });

  it('key types that differ between the sides', async () => {
    await expect(reconcile({ source: { pool: app, table: 'int_keyed' }, target: { pool: app, table: 'text_keyed' } })).rejects.toThrow(
      'key column id is integer in int_keyed but text in text_keyed: keys of different types do not sort alike, so key ranges would not match',
    );
  });

  it('a missing table, a missing column, an unknown key column', async () => {
    await expect(reconcile({ source: { pool: app, table: 'nowhere' }, target: { pool: app, table: 'int_keyed' } })).rejects.toThrow('the source table nowhere does not exist');
    await expect(reconcile({ source: { pool: app, table: 'int_keyed' }, target: { pool: app, query: 'select id from int_keyed' } })).rejects.toThrow('has no column name that int_keyed has');
    await expect(reconcile({ source: { pool: app, table: 'int_keyed' }, target: { pool: app, table: 'int_keyed' }, key: ['nope'] })).rejects.toThrow('key column nope is not in int_keyed');
  });

  it('a translation that does not run, or fails on a row, stops the run before any repair', async () => {
    await pair(remote);
    const state = await snapshot(remote);
    const count = await eventCount();
    const broken = reconcile({ source: { pool: app, query: 'select id, customer, totl from orders' }, target: { pool: remote, table: 'orders' }, repair: { policy: 'source-wins', store } });
    await expect(broken).rejects.toThrow(/checking the source query \(the translation\) before reconciling: column "totl" does not exist/);
    const throwing = reconcile({
      source: { pool: app, query: `select id, customer, total / (id - 1500) as total, note, created_at from orders` },
      target: { pool: remote, table: 'orders' },
      repair: { policy: 'source-wins', store },
    });
    await expect(throwing).rejects.toThrow(/reconcile: .* on the source .*: division by zero/);
    expect(await snapshot(remote)).toEqual(state);
    expect(await eventCount()).toBe(count);
  });

  it('a source-wins repair onto a query', async () => {
    await expect(reconcile({ source: { pool: app, table: 'int_keyed' }, target: { pool: app, query: 'select * from int_keyed' }, repair: { policy: 'source-wins', store } })).rejects.toThrow(
      'a source-wins repair writes to the target, which must be a table',
    );
  });
});
