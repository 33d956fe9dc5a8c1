import fc from 'fast-check';
import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { afterFile } from '../../../test/helpers/cleanup.js';
import { backfillPool, checkTable, createBackfillTable, type KeyKind, type TestTable } from '../../../test/fixtures/backfill-table.js';
import { PromoteError } from '../../errors.js';
import { backfillProgress, forgetBackfill, runBackfill, type BackfillOptions, type BackfillProgressEvent } from './backfill.js';

let pool: pg.Pool;
let tables = 0;
const fresh = (options: Parameters<typeof createBackfillTable>[2]) => createBackfillTable(pool, `t${++tables}`, options);
const target = (table: TestTable, migration = `m_${table.table}`) => ({ migration, schema: table.schema, table: table.table, primaryKey: table.primaryKey });
const fixedBatches = (size: number): BackfillOptions => ({ minBatchSize: size, maxBatchSize: size, initialBatchSize: size });

beforeAll(async () => {
  pool = await backfillPool();
});

describe('runBackfill', () => {
  it('visits every row exactly once and reports what it did', async () => {
    const table = await fresh({ rows: 5000 });
    const events: BackfillProgressEvent[] = [];
    const report = await runBackfill(pool, target(table), { ...fixedBatches(700), onProgress: (event) => events.push(event) });
    expect(await checkTable(pool, table)).toEqual({ rows: 5000, notOnce: 0, stillFlagged: 0, wrongValue: 0 });
    expect(report).toMatchObject({ table: 'app.t1', done: true, aborted: false, rowsVisited: 5000, keysetRows: 5000, sweepRows: 0, lockTimeoutRetries: 0, resumedFrom: null });
    // 8 keyset batches (the last one reaches the end key) and the sweep
    expect(report.batches).toBeGreaterThanOrEqual(8);
    expect(report.rowsPerSecond).toBeGreaterThan(0);
    const keyset = events.filter((event) => event.phase === 'keyset');
    expect(keyset.map((event) => event.rowsDone).slice(0, 3)).toEqual([700, 1400, 2100]);
    expect(keyset.at(-1)).toMatchObject({ table: 'app.t1', rowsDone: 5000, rowsTotal: 5000, batchSize: 700 });
    expect(events.at(-1)).toMatchObject({ phase: 'sweep', etaSeconds: 0 });
    expect(await backfillProgress(pool, target(table).migration)).toEqual([
      expect.objectContaining({ schema: 'app', table: 't1', phase: 'done', done: true, rowsDone: 5000, keysetRows: 5000, sweepRows: 0 }),
    ]);

    const again = await runBackfill(pool, target(table));
    expect(again).toMatchObject({ done: true, rowsVisited: 0, batches: 0, resumedFrom: { phase: 'done' } });
    expect(await forgetBackfill(pool, target(table).migration)).toBe(1);
    expect(await backfillProgress(pool, target(table).migration)).toEqual([]);
  });

  it.each<KeyKind>(['text', 'composite', 'uuid', 'timestamptz', 'timestamp', 'float', 'bigint'])('walks %s keys in index order without losing a value', async (key) => {
    const table = await fresh({ rows: 2500, key });
    const report = await runBackfill(pool, target(table), fixedBatches(333));
    expect(report).toMatchObject({ done: true, keysetRows: 2500, sweepRows: 0 });
    expect(await checkTable(pool, table)).toEqual({ rows: 2500, notOnce: 0, stillFlagged: 0, wrongValue: 0 });
  });

  it('resumes a cursor of timestamps in a session with another DateStyle', async () => {
    const table = await fresh({ rows: 1500, key: 'timestamp' });
    const styled = (dateStyle: string) => {
      const styledPool = new pg.Pool({ connectionString: (pool.options as { connectionString: string }).connectionString, max: 2, options: `-c DateStyle=${dateStyle}` });
      afterFile('closing a DateStyle pool', async () => styledPool.end());
      return styledPool;
    };
    const controller = new AbortController();
    const first = { ...fixedBatches(200), signal: controller.signal, onProgress: (event: BackfillProgressEvent) => event.batches === 3 && controller.abort() };
    await runBackfill(styled('SQL,DMY'), target(table), first);
    expect(await runBackfill(styled('SQL,MDY'), target(table), fixedBatches(200))).toMatchObject({ done: true, keysetRows: 900, resumedFrom: { rowsDone: 600 } });
    expect(await checkTable(pool, table)).toEqual({ rows: 1500, notOnce: 0, stillFlagged: 0, wrongValue: 0 });
  });

  it('grows its batches toward the target duration', async () => {
    const table = await fresh({ rows: 20_000 });
    const sizes: number[] = [];
    await runBackfill(pool, target(table), { initialBatchSize: 100, minBatchSize: 100, targetBatchMs: 1000, onProgress: (event) => sizes.push(event.batchSize) });
    expect(sizes.slice(0, 3)).toEqual([100, 200, 400]);
    expect(Math.max(...sizes)).toBeGreaterThanOrEqual(3200);
    expect(await checkTable(pool, table)).toMatchObject({ notOnce: 0, stillFlagged: 0 });
  });

  it('handles an empty table', async () => {
    const table = await fresh({ rows: 0 });
    expect(await runBackfill(pool, target(table))).toMatchObject({ done: true, rowsVisited: 0 });
  });

  it('refuses a table without a primary key, saying why it needs one', async () => {
    await pool.query(`create table app.keyless (email text, _promote_needs_backfill boolean default true)`);
    const attempt = runBackfill(pool, { migration: 'm', schema: 'app', table: 'keyless', primaryKey: [] });
    await expect(attempt).rejects.toThrow(PromoteError);
    await expect(runBackfill(pool, { migration: 'm', schema: 'app', table: 'keyless', primaryKey: [] })).rejects.toThrow(
      'cannot backfill app.keyless: the table has no primary key',
    );
    await expect(runBackfill(pool, { migration: 'm', schema: 'app', table: 'keyless', primaryKey: ['email'] })).rejects.toThrow(
      'cannot backfill app.keyless: no primary key or unique index on (email) in that order',
    );
    await expect(runBackfill(pool, { migration: 'm', schema: 'app', table: 'nowhere', primaryKey: ['id'] })).rejects.toThrow('cannot backfill app.nowhere: no such table');
  });

  it('uses the primary key from the catalog when none is given', async () => {
    const table = await fresh({ rows: 300, key: 'composite' });
    expect(await runBackfill(pool, { ...target(table), primaryKey: [] }, fixedBatches(100))).toMatchObject({ done: true, keysetRows: 300 });
  });

  it('stops between batches when aborted and resumes from its cursor', async () => {
    const table = await fresh({ rows: 3000, key: 'composite' });
    const controller = new AbortController();
    const first = await runBackfill(pool, target(table), {
      ...fixedBatches(250),
      signal: controller.signal,
      onProgress: (event) => event.batches === 4 && controller.abort(),
    });
    expect(first).toMatchObject({ done: false, aborted: true, keysetRows: 1000, batches: 4 });
    expect(await checkTable(pool, table)).toMatchObject({ stillFlagged: 2000 });
    const [saved] = await backfillProgress(pool, target(table).migration);
    expect(saved).toMatchObject({ phase: 'keyset', rowsDone: 1000, done: false, lastKey: [expect.any(String), expect.any(String)] });

    const second = await runBackfill(pool, target(table), fixedBatches(400));
    expect(second).toMatchObject({ done: true, keysetRows: 2000, resumedFrom: { rowsDone: 1000, lastKey: saved!.lastKey } });
    expect(await checkTable(pool, table)).toEqual({ rows: 3000, notOnce: 0, stillFlagged: 0, wrongValue: 0 });
  });

  it('sweeps up rows the keyset pass could not see, without a second full pass', async () => {
    const table = await fresh({ rows: 2000 });
    const controller = new AbortController();
    await runBackfill(pool, target(table), { ...fixedBatches(500), signal: controller.signal, onProgress: (event) => event.batches === 2 && controller.abort() });
    // rows behind the cursor still flagged, as a writer that bypassed the triggers would leave them
    const client = await pool.connect();
    try {
      await client.query(`set session_replication_role = replica`);
      await client.query(`insert into ${table.sql} (id, email) select -g, 'Late' || g || '@X' from generate_series(1, 17) g`);
      await client.query(`update ${table.sql} set _promote_needs_backfill = true, fires = 0 where id in (9007199254740996, 9007199254740999)`);
    } finally {
      await client.query(`reset session_replication_role`);
      client.release();
    }
    const report = await runBackfill(pool, target(table), fixedBatches(500));
    expect(report).toMatchObject({ done: true, keysetRows: 1000, sweepRows: 19 });
    expect(await checkTable(pool, table)).toEqual({ rows: 2017, notOnce: 0, stillFlagged: 0, wrongValue: 0 });
  });

  it('back-fills a partitioned table, sweeping every partition', async () => {
    await pool.query(`
      create schema if not exists app;
      create table app.parted (id int8 primary key, email text not null, new_email text, fires int not null default 0, last_writer text,
        _promote_needs_backfill boolean not null default true) partition by range (id);
      create table app.parted_1 partition of app.parted for values from (minvalue) to (1000);
      create table app.parted_2 partition of app.parted for values from (1000) to (maxvalue);
      insert into app.parted (id, email) select g, 'U' || g || '@X' from generate_series(1, 3000) g;
      create function app.parted_fill() returns trigger language plpgsql as $$
      begin
        new.fires := coalesce(case when tg_op = 'UPDATE' then old.fires end, 0) + 1;
        new.new_email := lower(new.email);
        new._promote_needs_backfill := false;
        return new;
      end $$;
      create trigger parted_fill before insert or update on app.parted for each row execute function app.parted_fill();`);
    const table: TestTable = { schema: 'app', table: 'parted', primaryKey: ['id'], sql: 'app.parted' };
    const controller = new AbortController();
    await runBackfill(pool, target(table), { ...fixedBatches(400), signal: controller.signal, onProgress: (event) => event.batches === 3 && controller.abort() });
    const client = await pool.connect();
    try {
      await client.query(`set session_replication_role = replica`);
      await client.query(`update app.parted set _promote_needs_backfill = true, fires = 0 where id in (5, 1100)`);
    } finally {
      await client.query(`reset session_replication_role`);
      client.release();
    }
    expect(await runBackfill(pool, target(table), fixedBatches(400))).toMatchObject({ done: true, keysetRows: 1800, sweepRows: 2 });
    expect(await checkTable(pool, table)).toEqual({ rows: 3000, notOnce: 0, stillFlagged: 0, wrongValue: 0 });
  });

  it('refuses a second run on the same table while one is running', async () => {
    const table = await fresh({ rows: 2000 });
    let second: Promise<unknown> | undefined;
    await runBackfill(pool, target(table), {
      ...fixedBatches(200),
      onProgress: () => {
        second ??= runBackfill(pool, target(table)).then(
          () => 'ran',
          (error: Error) => error.message,
        );
      },
    });
    expect(await second).toBe(`another backfill of app.${table.table} for migration m_${table.table} is running`);
  });

  it('property: any key set, any batch sizes, any abort points: every row visited exactly once', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(fc.integer({ min: -1_000_000, max: 1_000_000 }), { maxLength: 400 }),
        fc.array(fc.record({ size: fc.integer({ min: 1, max: 120 }), stopAfter: fc.integer({ min: 1, max: 6 }) }), { maxLength: 4 }),
        fc.integer({ min: 1, max: 500 }),
        async (values, interruptions, finalSize) => {
          const table = await fresh({ values });
          for (const { size, stopAfter } of interruptions) {
            const controller = new AbortController();
            await runBackfill(pool, target(table), {
              ...fixedBatches(size),
              signal: controller.signal,
              onProgress: (event) => event.batches >= stopAfter && controller.abort(),
            });
          }
          const report = await runBackfill(pool, target(table), fixedBatches(finalSize));
          expect(report.done).toBe(true);
          expect(await checkTable(pool, table)).toEqual({ rows: values.length, notOnce: 0, stillFlagged: 0, wrongValue: 0 });
          const [progress] = await backfillProgress(pool, target(table).migration);
          expect(progress).toMatchObject({ keysetRows: values.length, sweepRows: 0 });
        },
      ),
      { numRuns: 50 },
    );
  }, 120_000);
});
