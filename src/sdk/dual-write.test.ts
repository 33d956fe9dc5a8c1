import pg from 'pg';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { afterFile } from '../../test/helpers/cleanup.js';
import { createTestDatabase } from '../../test/helpers/database.js';
import { PRODUCTION, TOKEN, startServingFixture, waitFor } from '../../test/helpers/flag-serving.js';
import { PromoteError } from '../errors.js';
import { MIGRATION_STAGES, type MigrationStage } from '../flags/migration-stages.js';
import { putFlag } from '../flags/store.js';
import { createDualWriter, type DualWriteOptions } from './dual-write.js';
import { createExperimenter, type ExperimentResult } from './experiment.js';
import { createFlagsClient } from './flags.js';
import { installOutbox } from './outbox.js';

/** The legacy store keeps cents as an integer; the next one keeps a decimal amount. */
interface OrderInput {
  id: number;
  cents: number;
  note?: string | null;
}
interface NextOrder {
  id: number;
  amount: string;
  note: string | null;
}
interface Order {
  id: number;
  cents: number;
}

function openPool(url: string): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max: 8 });
  // the database is dropped WITH (FORCE) after the file, and the timeout test closes a connection on purpose
  pool.on('error', () => undefined);
  afterFile('closing a dual-write test pool', async () => pool.end());
  return pool;
}

let legacyPool: pg.Pool;
let nextPool: pg.Pool;

beforeAll(async () => {
  legacyPool = openPool((await createTestDatabase()).url);
  nextPool = openPool((await createTestDatabase()).url);
  // the legacy database also holds the next table, for one-database mode
  for (const pool of [legacyPool, nextPool]) {
    await pool.query('create table orders (id int primary key, amount numeric(8,2) not null, note text)');
  }
  await legacyPool.query('create table legacy_orders (id int primary key, cents int not null, note text)');
  await installOutbox(legacyPool, legacyPool);
  await installOutbox(legacyPool, nextPool);
});

beforeEach(async () => {
  await legacyPool.query('truncate legacy_orders, orders, promote_outbox, promote_outbox_applied');
  await nextPool.query('truncate orders, promote_outbox_applied');
});

type Mode = 'one database' | 'two databases';
type Options = DualWriteOptions<OrderInput, NextOrder, number, Order>;

function writer(mode: Mode, stage: MigrationStage | Options['flags']['migrationStage'], extra: Partial<Options> = {}) {
  const counts = new Map<string, number>();
  const results: ExperimentResult[] = [];
  const experimenter = createExperimenter({ onResult: (result) => results.push(result) });
  const dual = createDualWriter<OrderInput, NextOrder, number, Order>({
    name: 'orders',
    flag: 'orders-move',
    flags: { migrationStage: typeof stage === 'function' ? stage : () => stage },
    legacy: {
      pool: legacyPool,
      write: async (client, input) => {
        await client.query('insert into legacy_orders values ($1, $2, $3) on conflict (id) do update set cents = excluded.cents, note = excluded.note', [input.id, input.cents, input.note ?? null]);
      },
      read: async (client, id) => (await client.query<Order>('select id, cents from legacy_orders where id = $1', [id])).rows[0],
    },
    next: {
      ...(mode === 'two databases' ? { pool: nextPool } : {}),
      write: async (client, row) => {
        await client.query('insert into orders values ($1, $2, $3) on conflict (id) do update set amount = excluded.amount, note = excluded.note', [row.id, row.amount, row.note]);
      },
      read: async (client, id) => (await client.query<Order>('select id, (amount * 100)::int as cents from orders where id = $1', [id])).rows[0],
    },
    translate: (input) => {
      if (input.cents < 0) throw new RangeError(`negative amount ${input.cents}`);
      return { id: input.id, amount: (input.cents / 100).toFixed(2), note: input.note ?? null };
    },
    reporter: { count: (name, n = 1) => counts.set(name, (counts.get(name) ?? 0) + n), observe: (name) => counts.set(name, (counts.get(name) ?? 0) + 1) },
    experimenter,
    ...extra,
  });
  return { dual, counts, results, experimenter };
}

const countRows = async (pool: pg.Pool, table: string) => Number((await pool.query<{ n: string }>(`select count(*) as n from ${table}`)).rows[0]!.n);
const nextSidePool = (mode: Mode) => (mode === 'two databases' ? nextPool : legacyPool);
const legacyCents = async (id: number) => (await legacyPool.query<{ cents: number }>('select cents from legacy_orders where id = $1', [id])).rows[0]?.cents;
const nextAmount = async (mode: Mode, id: number) => (await nextSidePool(mode).query<{ amount: string }>('select amount from orders where id = $1', [id])).rows[0]?.amount;

const WRITES: Record<MigrationStage, { legacy: boolean; next: boolean }> = {
  off: { legacy: true, next: false },
  'dual-write': { legacy: true, next: true },
  shadow: { legacy: true, next: true },
  live: { legacy: true, next: true },
  'ramp-down': { legacy: true, next: true },
  complete: { legacy: false, next: true },
};
/** what a read answers when legacy holds 100 cents and next 200, and whether it is compared */
const READS: Record<MigrationStage, { cents: number; compared: boolean }> = {
  off: { cents: 100, compared: false },
  'dual-write': { cents: 100, compared: false },
  shadow: { cents: 100, compared: true },
  live: { cents: 200, compared: true },
  'ramp-down': { cents: 200, compared: false },
  complete: { cents: 200, compared: false },
};

describe.each<Mode>(['one database', 'two databases'])('dual writes with %s', (mode) => {
  it.each(MIGRATION_STAGES.map((stage) => [stage]))('%s: writes the sides the stage names', async (stage) => {
    const { dual, counts } = writer(mode, stage);
    const written = await dual.write({}, { id: 1, cents: 1234 });
    const expected = WRITES[stage];
    // complete with an empty outbox writes the next side directly in both modes
    const nextState = !expected.next ? 'skipped' : mode === 'two databases' && stage !== 'complete' ? 'queued' : 'written';
    expect(written).toEqual({ stage, legacy: expected.legacy, next: nextState, duplicate: false });
    if (mode === 'two databases') {
      expect(await nextAmount(mode, 1)).toBe(nextState === 'written' ? '12.34' : undefined);
      expect(await dual.worker().drain()).toBe(nextState === 'queued' ? 1 : 0);
    }
    expect(await legacyCents(1)).toBe(expected.legacy ? 1234 : undefined);
    expect(await nextAmount(mode, 1)).toBe(expected.next ? '12.34' : undefined);
    expect(counts.get('dual_write.success')).toBe(1);
    expect(counts.get('dual_write.orders.success')).toBe(1);
    expect(counts.get('dual_write.write_ms')).toBe(1);
  });

  it.each(MIGRATION_STAGES.map((stage) => [stage]))('%s: reads the side the stage names and compares in shadow and live', async (stage) => {
    await legacyPool.query('insert into legacy_orders values (7, 100, null), (8, 300, null)');
    await nextSidePool(mode).query('insert into orders values (7, 2.00, null), (8, 3.00, null)');
    const { dual, results, experimenter } = writer(mode, stage);
    expect(await dual.read({}, 7)).toEqual({ id: 7, cents: READS[stage].cents });
    expect(await dual.read({}, 8)).toEqual({ id: 8, cents: 300 });
    expect(await dual.read({}, 9)).toBeUndefined();
    await experimenter.settled();
    const outcomes: Record<string, string> = Object.fromEntries(results.map((result) => [result.key ?? '', result.outcome]));
    expect(outcomes).toEqual(READS[stage].compared ? { '7': 'mismatch', '8': 'match', '9': 'match' } : {});
    if (READS[stage].compared) {
      // the control is the side the stage returns
      const seven = results.find((result) => result.key === '7')!;
      expect(seven.control).toEqual({ id: 7, cents: READS[stage].cents });
      expect(seven.candidate).toEqual({ id: 7, cents: READS[stage].cents === 100 ? 200 : 100 });
    }
  });

  it('compare receives (legacy, next) in both shadow and live', async () => {
    await legacyPool.query('insert into legacy_orders values (7, 100, null)');
    await nextSidePool(mode).query('insert into orders values (7, 2.00, null)');
    for (const stage of ['shadow', 'live'] as const) {
      const seen: unknown[] = [];
      const { dual, results, experimenter } = writer(mode, stage, { compare: (legacy, next) => (seen.push([legacy?.cents, next?.cents]), legacy!.cents * 2 === next!.cents) });
      await dual.read({}, 7);
      await experimenter.settled();
      expect(seen).toEqual([[100, 200]]);
      expect(results.map((result) => result.outcome)).toEqual(['match']);
    }
  });

  it('a translation that throws writes nothing and says which dual writer and what threw', async () => {
    for (const stage of ['dual-write', 'complete'] as const) {
      const { dual, counts } = writer(mode, stage);
      const failure = await dual.write({}, { id: 2, cents: -5 }).catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(PromoteError);
      expect((failure as Error).message).toMatch(/^dual writer "orders": translate threw, so nothing was written .*negative amount -5/);
      expect((failure as Error).cause).toBeInstanceOf(RangeError);
      expect(counts.get('dual_write.failure')).toBe(1);
    }
    expect(await legacyCents(2)).toBeUndefined();
    expect(await nextAmount(mode, 2)).toBeUndefined();
    expect(await countRows(legacyPool, 'promote_outbox')).toBe(0);
  });

  it('an idempotency key seen before makes the write a no-op, also when the duplicates race', async () => {
    for (const stage of ['dual-write', 'complete'] as const) {
      const { dual, counts } = writer(mode, stage);
      const first = await dual.write({}, { id: 3, cents: 100 }, { idempotencyKey: `pay-${stage}` });
      expect(first.duplicate).toBe(false);
      const again = await dual.write({}, { id: 3, cents: 999 }, { idempotencyKey: `pay-${stage}` });
      expect(again).toEqual({ stage, legacy: false, next: 'skipped', duplicate: true });
      expect(counts.get('dual_write.duplicate')).toBe(1);
      const racing = await Promise.all(Array.from({ length: 6 }, (_, i) => dual.write({}, { id: 4, cents: 500 + i }, { idempotencyKey: `race-${stage}` })));
      expect(racing.filter((result) => !result.duplicate)).toHaveLength(1);
      if (mode === 'two databases') await dual.worker().drain();
    }
    // dual-write's first write landed on both sides; complete's later ones only on next and never overwrote with 999
    expect(await legacyCents(3)).toBe(100);
    expect(await nextAmount(mode, 3)).toBe('1.00');
  });

  it('a failing next write rolls the legacy write back too (one database) or leaves no outbox row (two)', async () => {
    const { dual } = writer(mode, 'dual-write');
    // 10^6 overflows numeric(8,2) in the next table; in two-database mode it is the worker that hits it
    const failure = await dual.write({}, { id: 5, cents: 100_000_000 }).catch((error: unknown) => error);
    if (mode === 'one database') {
      expect((failure as { code?: string }).code).toBe('22003');
      expect(await legacyCents(5)).toBeUndefined();
    } else {
      expect(failure).toMatchObject({ next: 'queued' });
      await expect(dual.worker().drain()).rejects.toThrow(/dual writer "orders": applying outbox rows \d+\.\.\d+ to the next database: numeric field overflow/);
      expect(await dual.worker().pending()).toBe(1);
      expect(await countRows(nextPool, 'promote_outbox_applied')).toBe(0);
    }
  });
});

describe('dual writes: the stage from a real migration flag', () => {
  it('follows the flag as its stage moves from dual-write to complete', async () => {
    const { pool: store, api, base } = await startServingFixture();
    afterFile('closing the flag server', async () => api.close());
    const stageTo = (stage: MigrationStage) =>
      putFlag(store, PRODUCTION, { name: 'orders-move', type: 'migration', enabled: true, strategies: [{ name: 'default' }], variants: [{ name: stage, weight: 1000, weightType: 'fix' }] }, { actor: 'test' });
    await stageTo('dual-write');
    const flags = createFlagsClient({ url: base, token: TOKEN, reconnectMaxMs: 400 });
    afterFile('closing the flags client', async () => flags.close());
    expect(await flags.ready()).toBe('server');
    const { dual } = writer('one database', (flag, context) => flags.migrationStage(flag, context));
    expect(await dual.write({ userId: 'u-1' }, { id: 30, cents: 100 })).toMatchObject({ stage: 'dual-write', legacy: true, next: 'written' });
    await stageTo('complete');
    await waitFor(() => flags.migrationStage('orders-move') === 'complete', 5000, 'the complete stage');
    expect(await dual.write({ userId: 'u-1' }, { id: 30, cents: 200 })).toMatchObject({ stage: 'complete', legacy: false, next: 'written' });
    expect(await legacyCents(30)).toBe(100);
    expect(await nextAmount('one database', 30)).toBe('2.00');
    expect(await dual.read({ userId: 'u-1' }, 30)).toEqual({ id: 30, cents: 200 });
  });
});

describe('dual writes: retries, timeouts and options', () => {
  it('retries serialization failures and deadlocks, and gives up after `retries`', async () => {
    let attempts = 0;
    const failing = (times: number, code: string): Options['legacy'] => ({
      pool: legacyPool,
      write: async (client, input) => {
        await client.query('insert into legacy_orders values ($1, $2)', [input.id, input.cents]);
        attempts += 1;
        if (attempts <= times) await client.query(`do $$ begin raise exception 'conflict' using errcode = '${code}'; end $$`);
      },
      read: () => Promise.resolve(undefined),
    });
    const { dual, counts } = writer('two databases', 'dual-write', { legacy: failing(2, '40001') });
    expect(await dual.write({}, { id: 10, cents: 1 })).toMatchObject({ legacy: true, next: 'queued' });
    expect(attempts).toBe(3);
    expect(counts.get('dual_write.retry')).toBe(2);
    attempts = 0;
    const stubborn = writer('one database', 'dual-write', { legacy: failing(100, '40P01'), retries: 1 });
    await expect(stubborn.dual.write({}, { id: 11, cents: 1 })).rejects.toMatchObject({ code: '40P01' });
    expect(attempts).toBe(2);
    expect(await legacyCents(11)).toBeUndefined();
  });

  it('a write over its time budget is rolled back, whether it waits in SQL or in JavaScript', async () => {
    const slow = (how: 'sql' | 'js'): Options['legacy'] => ({
      pool: legacyPool,
      write: async (client, input) => {
        await client.query('insert into legacy_orders values ($1, $2)', [input.id, input.cents]);
        if (how === 'sql') await client.query('select pg_sleep(5)');
        else await new Promise(() => undefined);
      },
      read: () => Promise.resolve(undefined),
    });
    for (const [id, how] of [[20, 'sql'], [21, 'js']] as const) {
      const { dual } = writer('one database', 'dual-write', { legacy: slow(how), timeoutMs: 300 });
      const started = Date.now();
      await expect(dual.write({}, { id, cents: 1 })).rejects.toThrow(/^dual writer "orders": writing both sides in one transaction: timed out after 300 ms; the transaction was rolled back, nothing was written$/);
      expect(Date.now() - started).toBeLessThan(2000);
      expect(await legacyCents(id)).toBeUndefined();
      expect(await nextAmount('one database', id)).toBeUndefined();
    }
  });

  it('refuses bad options with the field named', () => {
    const base: Options = {
      name: 'orders',
      flag: 'f',
      flags: { migrationStage: () => 'off' },
      legacy: { pool: legacyPool, write: () => Promise.resolve(undefined), read: () => Promise.resolve(undefined) },
      next: { write: () => Promise.resolve(undefined), read: () => Promise.resolve(undefined) },
      translate: (input) => ({ id: input.id, amount: '0', note: null }),
    };
    const cases: Array<[Partial<Record<keyof Options, unknown>>, RegExp]> = [
      [{ name: 'Orders!' }, /createDualWriter "Orders!": name must match/],
      [{ flag: '' }, /flag must be the name of a migration flag/],
      [{ flags: {} }, /flags must be a flags client/],
      [{ legacy: { pool: legacyPool, read: () => Promise.resolve(undefined) } }, /legacy\.write must be a function/],
      [{ legacy: { write: () => Promise.resolve(undefined), read: () => Promise.resolve(undefined) } }, /legacy\.pool must be a pg\.Pool/],
      [{ next: { write: () => Promise.resolve(undefined) } }, /next\.read must be a function/],
      [{ translate: undefined }, /translate must be a function/],
      [{ outboxTable: 'outbox; drop table users' }, /outboxTable: the outbox table name must be a plain identifier/],
      [{ outboxTable: 'Outbox' }, /plain identifier/],
      [{ timeoutMs: 0 }, /timeoutMs must be a positive number/],
      [{ retries: 1.5 }, /retries must be a whole number/],
    ];
    for (const [change, message] of cases) {
      expect(() => createDualWriter({ ...base, ...change } as Options)).toThrow(message);
    }
    expect(() => createDualWriter(base).worker()).toThrow(/worker\(\) is for two databases/);
  });
});
