import fc from 'fast-check';
import pg from 'pg';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { afterFile } from '../../test/helpers/cleanup.js';
import { createTestDatabase } from '../../test/helpers/database.js';
import type { MigrationStage } from '../flags/migration-stages.js';
import { createDualWriter } from './dual-write.js';
import { installOutbox } from './outbox.js';
import { applyRows, outboxNames, pendingRows, type OutboxRow } from './outbox-steps.js';

/** Legacy keeps a quantity and a deleted mark (deletes are upserts); next keeps it times ten. */
interface Item {
  id: number;
  qty: number;
  deleted: boolean;
}
interface NextItem {
  id: number;
  quantity: number;
  deleted: boolean;
}
const translate = (item: Item): NextItem => ({ id: item.id, quantity: item.qty * 10, deleted: item.deleted });

let legacyUrl: string;
let nextUrl: string;
let legacyPool: pg.Pool;
let nextPool: pg.Pool;

function openPool(url: string): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max: 6 });
  // the crash test terminates a connection on purpose; the drop after the file terminates the rest
  pool.on('error', () => undefined);
  afterFile('closing an outbox test pool', async () => pool.end());
  return pool;
}

beforeAll(async () => {
  legacyUrl = (await createTestDatabase()).url;
  nextUrl = (await createTestDatabase()).url;
  legacyPool = openPool(legacyUrl);
  nextPool = openPool(nextUrl);
  await legacyPool.query('create table items (id int primary key, qty int not null, deleted boolean not null)');
  // every apply leaves a line in apply_log, so an apply made twice shows as an extra line
  await nextPool.query(`create table next_items (id int primary key, quantity int not null, deleted boolean not null);
    create table apply_log (seq bigserial primary key, id int not null, quantity int not null)`);
  await installOutbox(legacyPool, nextPool);
});

beforeEach(async () => {
  await legacyPool.query('truncate items, promote_outbox');
  await nextPool.query('truncate next_items, apply_log, promote_outbox_applied');
});

function writer(stage: () => MigrationStage, pools: { legacy: pg.Pool; next: pg.Pool } = { legacy: legacyPool, next: nextPool }) {
  const counts = new Map<string, number>();
  const dual = createDualWriter<Item, NextItem, number, Item>({
    name: 'items',
    flag: 'items-move',
    flags: { migrationStage: stage },
    legacy: {
      pool: pools.legacy,
      write: async (client, item) => {
        await client.query('insert into items values ($1, $2, $3) on conflict (id) do update set qty = excluded.qty, deleted = excluded.deleted', [item.id, item.qty, item.deleted]);
      },
      read: async (client, id) => (await client.query<Item>('select * from items where id = $1', [id])).rows[0],
    },
    next: {
      pool: pools.next,
      write: async (client, row) => {
        await client.query('insert into next_items values ($1, $2, $3) on conflict (id) do update set quantity = excluded.quantity, deleted = excluded.deleted', [row.id, row.quantity, row.deleted]);
        await client.query('insert into apply_log (id, quantity) values ($1, $2)', [row.id, row.quantity]);
      },
      read: async (client, id) => (await client.query<Item>('select id, quantity / 10 as qty, deleted from next_items where id = $1', [id])).rows[0],
    },
    translate,
    reporter: { count: (name, n = 1) => counts.set(name, (counts.get(name) ?? 0) + n), observe: () => undefined },
  });
  return { dual, counts };
}

const count = async (pool: pg.Pool, sql: string) => Number((await pool.query<{ n: string }>(sql)).rows[0]!.n);
const applyCount = () => count(nextPool, 'select count(*) as n from apply_log');

/** next equals translate(legacy) for every key, read with SQL on both sides */
async function expectNextMatchesLegacy(): Promise<void> {
  const legacy = (await legacyPool.query<Item>('select id, qty, deleted from items order by id')).rows;
  const next = (await nextPool.query<NextItem>('select id, quantity, deleted from next_items order by id')).rows;
  expect(next).toEqual(legacy.map(translate));
}

async function queue(n: number, ids = (i: number) => i): Promise<void> {
  const { dual } = writer(() => 'dual-write');
  for (let i = 0; i < n; i += 1) await dual.write({}, { id: ids(i), qty: i, deleted: false });
}

/** The worker's first steps by hand: apply every pending row and record its key on the next side, commit, and stop before marking. */
async function applyWithoutMarking(): Promise<{ rows: OutboxRow[]; applied: number }> {
  const names = outboxNames('promote_outbox', 'test');
  const rows = await pendingRows(legacyPool, names, 'items', 100);
  const client = await nextPool.connect();
  try {
    await client.query('begin');
    const applied = await applyRows(client, names, 'items', rows, async (c, payload) => {
      const row = payload as NextItem;
      await c.query('insert into next_items values ($1, $2, $3)', [row.id, row.quantity, row.deleted]);
      await c.query('insert into apply_log (id, quantity) values ($1, $2)', [row.id, row.quantity]);
    });
    await client.query('commit');
    return { rows, applied };
  } finally {
    client.release();
  }
}

describe('the outbox', () => {
  it('installOutbox is idempotent, also when instances run it at once, and checks the table name', async () => {
    await Promise.all([installOutbox(legacyPool, nextPool), installOutbox(legacyPool, nextPool), installOutbox(legacyPool, nextPool, 'other_outbox')]);
    await installOutbox(legacyPool, nextPool, 'other_outbox');
    expect(await count(legacyPool, `select count(*) as n from pg_tables where tablename in ('other_outbox', 'promote_outbox')`)).toBe(2);
    expect(await count(nextPool, `select count(*) as n from pg_tables where tablename in ('other_outbox_applied', 'promote_outbox_applied')`)).toBe(2);
    await expect(installOutbox(legacyPool, nextPool, 'x"; drop table items; --')).rejects.toThrow(/installOutbox: the outbox table name must be a plain identifier/);
  });

  it('a missing outbox table is an error that says how to create it', async () => {
    const dual = createDualWriter<Item, NextItem, number, Item>({ ...writerOptions(), outboxTable: 'never_installed' });
    const failure = (await dual.write({}, { id: 1, qty: 1, deleted: false }).then(
      () => new Error('the write succeeded'),
      (error: unknown) => error,
    )) as Error & { hint?: string };
    expect(failure.message).toMatch(/dual writer "items": .*queueing the write in the outbox: relation "never_installed" does not exist/);
    expect(failure.hint).toMatch(/installOutbox/);
    expect(await count(legacyPool, 'select count(*) as n from items')).toBe(0);
  });

  it('the worker applies in id order, in batches, and marks rows applied', async () => {
    // ids out of order and repeated, so id order of the outbox is not the order of item ids
    await queue(23, (i) => (i * 7) % 10);
    const { dual, counts } = writer(() => 'dual-write');
    const worker = dual.worker({ batchSize: 4 });
    expect(await worker.pending()).toBe(23);
    expect(await worker.drain()).toBe(23);
    expect(await worker.pending()).toBe(0);
    const queued = (await legacyPool.query<{ payload: NextItem }>('select payload from promote_outbox order by id')).rows.map((row) => [row.payload.id, row.payload.quantity]);
    const applied = (await nextPool.query<{ id: number; quantity: number }>('select id, quantity from apply_log order by seq')).rows.map((row) => [row.id, row.quantity]);
    expect(applied).toEqual(queued);
    expect(counts.get('dual_write.applied')).toBe(23);
    expect(counts.get('dual_write.items.applied')).toBe(23);
    await expectNextMatchesLegacy();
    expect(await worker.drain()).toBe(0);
  });

  it('a worker that died after the next-side commit but before marking applies nothing twice when run again', async () => {
    await queue(5);
    expect((await applyWithoutMarking()).applied).toBe(5);
    const { dual, counts } = writer(() => 'dual-write');
    const worker = dual.worker();
    expect(await worker.pending()).toBe(5);
    expect(await worker.drain()).toBe(0);
    expect(await worker.pending()).toBe(0);
    expect(await applyCount()).toBe(5);
    expect(counts.get('dual_write.apply_skipped')).toBe(5);
    await expectNextMatchesLegacy();
  });

  it('prune forgets old applied writes, but keeps the applied record of a row still pending so it is never applied twice', async () => {
    await queue(6);
    // rows 1-3 applied and marked; rows 4-6 applied on the next side but never marked (a worker died)
    const { rows } = await applyWithoutMarking();
    await legacyPool.query('update promote_outbox set applied_at = now() where id = any($1::bigint[])', [rows.slice(0, 3).map((row) => row.id)]);
    await Promise.all([legacyPool.query(`update promote_outbox set created_at = created_at - interval '8 days', applied_at = applied_at - interval '8 days'`), nextPool.query(`update promote_outbox_applied set applied_at = applied_at - interval '8 days'`)]);
    const { dual } = writer(() => 'dual-write');
    // nothing younger than the window goes
    expect(await dual.prune({ olderThanMs: 30 * 24 * 3600_000 })).toEqual({ outbox: 0, applied: 0 });
    // the three marked rows go; every applied record at or after the first pending row stays
    expect(await dual.prune()).toEqual({ outbox: 3, applied: 3 });
    const worker = dual.worker();
    expect(await worker.pending()).toBe(3);
    expect(await worker.drain()).toBe(0);
    expect(await applyCount()).toBe(6);
    await expectNextMatchesLegacy();
    await expect(dual.prune({ olderThanMs: -1 })).rejects.toThrow(/prune olderThanMs must be a number of milliseconds >= 0, got -1/);
  });

  it('a worker whose connection is terminated while marking rows applied re-runs without applying twice', async () => {
    await queue(6);
    // the server ends the worker's own session the moment it marks rows: the next side has committed by then
    await legacyPool.query(`create function kill_marker() returns trigger language plpgsql as $$
      begin perform pg_terminate_backend(pg_backend_pid()); return new; end $$;
      create trigger kill_marker before update on promote_outbox for each row execute function kill_marker()`);
    const { dual, counts } = writer(() => 'dual-write');
    try {
      await expect(dual.worker({ batchSize: 4 }).drain()).rejects.toThrow(/dual writer "items": outbox rows \d+\.\.\d+ are applied on the next side but could not be marked applied/);
    } finally {
      await legacyPool.query('drop trigger kill_marker on promote_outbox; drop function kill_marker()');
    }
    expect(counts.get('dual_write.apply_failure')).toBe(1);
    expect(await applyCount()).toBe(4);
    expect(await dual.worker().pending()).toBe(6);
    // the terminated session's lock went with it: a new worker gets it, skips the 4, applies the 2 others
    expect(await dual.worker({ batchSize: 4 }).drain()).toBe(2);
    expect(await applyCount()).toBe(6);
    await expectNextMatchesLegacy();
  });

  it('two workers racing (each with its own pools, as two processes) apply every row once', async () => {
    await queue(150, (i) => i % 40);
    const other = { legacy: openPool(legacyUrl), next: openPool(nextUrl) };
    const [a, b] = [writer(() => 'dual-write').dual.worker({ batchSize: 7 }), writer(() => 'dual-write', other).dual.worker({ batchSize: 7 })];
    const [appliedA, appliedB] = await Promise.all([a.drain(), b.drain()]);
    expect(appliedA + appliedB).toBe(150);
    expect(await applyCount()).toBe(150);
    await expectNextMatchesLegacy();

    // the background loops racing while writes arrive
    const { dual } = writer(() => 'live');
    const loops = [dual.worker({ pollMs: 5, batchSize: 3 }), writer(() => 'live', other).dual.worker({ pollMs: 5, batchSize: 3 })];
    loops.forEach((loop) => loop.start());
    await Promise.all(Array.from({ length: 4 }, async (_, writerIndex) => {
      for (let i = 0; i < 25; i += 1) await dual.write({}, { id: 1000 + writerIndex * 100 + (i % 5), qty: i, deleted: i % 3 === 0 });
    }));
    const deadline = Date.now() + 10_000;
    while ((await loops[0]!.pending()) > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    await Promise.all(loops.map((loop) => loop.stop()));
    expect(await applyCount()).toBe(250);
    expect(await count(nextPool, 'select count(*) as n from promote_outbox_applied')).toBe(250);
    await expectNextMatchesLegacy();
  });

  it('in complete, writes queue behind pending rows so the order per key holds, then go straight to next', async () => {
    let stage: MigrationStage = 'ramp-down';
    const { dual } = writer(() => stage);
    await dual.write({}, { id: 1, qty: 1, deleted: false });
    stage = 'complete';
    expect(await dual.write({}, { id: 1, qty: 2, deleted: false })).toEqual({ stage: 'complete', legacy: false, next: 'queued', duplicate: false });
    expect(await dual.worker().drain()).toBe(2);
    expect(await dual.read({}, 1)).toEqual({ id: 1, qty: 2, deleted: false });
    expect(await dual.write({}, { id: 1, qty: 3, deleted: true })).toEqual({ stage: 'complete', legacy: false, next: 'written', duplicate: false });
    expect((await nextPool.query('select quantity, deleted from next_items where id = 1')).rows).toEqual([{ quantity: 30, deleted: true }]);
    // legacy kept the last write made before complete
    expect((await legacyPool.query('select qty from items where id = 1')).rows).toEqual([{ qty: 1 }]);
  });

  it('a background loop reports a failing row and keeps trying; it applies once the cause is gone', async () => {
    const { dual, counts } = writer(() => 'dual-write');
    await nextPool.query('alter table next_items add constraint small check (quantity < 1000)');
    await dual.write({}, { id: 1, qty: 500, deleted: false });
    const errors: string[] = [];
    const loop = dual.worker({ pollMs: 10, onError: (error) => errors.push(error.message) });
    loop.start();
    try {
      const deadline = Date.now() + 5000;
      while (errors.length < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
      expect(errors[0]).toMatch(/dual writer "items": applying outbox rows \d+\.\.\d+ to the next database: .*check constraint "small"/);
      expect(counts.get('dual_write.apply_failure')).toBeGreaterThanOrEqual(2);
      await nextPool.query('alter table next_items drop constraint small');
      while ((await loop.pending()) > 0 && Date.now() < deadline + 5000) await new Promise((resolve) => setTimeout(resolve, 10));
    } finally {
      await loop.stop();
    }
    expect(await applyCount()).toBe(1);
  });

  it('property: after any sequence of writes, updates and deletes, drain() leaves next = translate(legacy) for every key', async () => {
    const both: MigrationStage[] = ['dual-write', 'shadow', 'live', 'ramp-down'];
    const op = fc.oneof(
      fc.record({ kind: fc.constant('write' as const), id: fc.integer({ min: 1, max: 4 }), qty: fc.integer({ min: 0, max: 1000 }), deleted: fc.boolean(), stage: fc.constantFrom(...both) }),
      fc.record({ kind: fc.constant('burst' as const), ids: fc.uniqueArray(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 4 }), qty: fc.integer({ min: 0, max: 1000 }) }),
      fc.constant({ kind: 'drain' as const }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 25 }), fc.boolean(), async (ops, background) => {
        await legacyPool.query('truncate items, promote_outbox');
        await nextPool.query('truncate next_items, apply_log, promote_outbox_applied');
        let stage: MigrationStage = 'dual-write';
        const { dual } = writer(() => stage);
        const worker = dual.worker({ batchSize: 3, pollMs: 3 });
        if (background) worker.start();
        try {
          for (const step of ops) {
            if (step.kind === 'write') {
              stage = step.stage;
              await dual.write({}, { id: step.id, qty: step.qty, deleted: step.deleted });
            } else if (step.kind === 'burst') {
              // concurrent writes to different keys commit in any order relative to their outbox ids
              await Promise.all(step.ids.map((id, i) => dual.write({}, { id, qty: step.qty + i, deleted: false })));
            } else {
              await worker.drain();
            }
          }
        } finally {
          await worker.stop();
        }
        await worker.drain();
        expect(await worker.pending()).toBe(0);
        await expectNextMatchesLegacy();
        expect(await applyCount()).toBe(await count(legacyPool, 'select count(*) as n from promote_outbox'));
      }),
      { numRuns: 40 },
    );
  });
});

function writerOptions() {
  return {
    name: 'items',
    flag: 'items-move',
    flags: { migrationStage: (): MigrationStage => 'dual-write' },
    legacy: {
      pool: legacyPool,
      write: async (client: pg.PoolClient, item: Item) => {
        await client.query('insert into items values ($1, $2, $3)', [item.id, item.qty, item.deleted]);
      },
      read: () => Promise.resolve(undefined),
    },
    next: { pool: nextPool, write: () => Promise.resolve(), read: () => Promise.resolve(undefined) },
    translate,
  };
}
