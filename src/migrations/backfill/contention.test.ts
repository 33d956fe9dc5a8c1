/**
 * The backfill next to a live app: writers it must not overwrite, locks it must give way to, a
 * latency signal it must wait for, and a connection that dies under it.
 */
import type pg from 'pg';
import { setTimeout as delay } from 'node:timers/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { backfillPool, checkTable, createBackfillTable, type TestTable } from '../../../test/fixtures/backfill-table.js';
import { PromoteError } from '../../errors.js';
import { backfillProgress, runBackfill, type BackfillProgressEvent } from './backfill.js';

let pool: pg.Pool;
let tables = 0;
const fresh = (rows: number) => createBackfillTable(pool, `c${++tables}`, { rows });
const target = (table: TestTable) => ({ migration: `m_${table.table}`, schema: table.schema, table: table.table, primaryKey: table.primaryKey });
const BASE = 9007199254740993n;
const idOf = (g: number) => (BASE + BigInt(g) * 3n).toString();

beforeAll(async () => {
  pool = await backfillPool();
});

/** A deterministic generator, so a failure can be replayed. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

describe('runBackfill under a live app', () => {
  it('never overwrites a row the app wrote, and never visits a row twice', async () => {
    const rows = 20_000;
    const table = await fresh(rows);
    const writes = new Map<string, { count: number; writer: 'old' | 'new'; value: string }>();
    let stop = false;
    let inserted = 0;
    const writer = async (seed: number) => {
      const next = random(seed);
      const client = await pool.connect();
      try {
        while (!stop) {
          const kind = next();
          const writerName = kind < 0.45 ? 'old' : 'new';
          await client.query('begin');
          await client.query(`select set_config('app.writer', $1, true)`, [writerName]);
          if (kind < 0.9) {
            const id = idOf(1 + Math.floor(next() * rows));
            const value = `app-${seed}-${Math.floor(next() * 1e9)}`;
            const result =
              writerName === 'old'
                ? await client.query(`update ${table.sql} set email = $2 where id = $1`, [id, `${value}@OLD`])
                : await client.query(`update ${table.sql} set new_email = $2 where id = $1`, [id, value]);
            await client.query('commit');
            if (result.rowCount === 1) {
              const seen = writes.get(id);
              writes.set(id, { count: (seen?.count ?? 0) + 1, writer: writerName, value });
            }
          } else {
            const id = (BASE * 2n + BigInt(seed) * 1_000_000n + BigInt(++inserted)).toString();
            await client.query(`insert into ${table.sql} (id, email) values ($1, $2)`, [id, `New${id}@X`]);
            await client.query('commit');
            writes.set(id, { count: 1, writer: writerName, value: '' });
          }
        }
      } finally {
        client.release();
      }
    };
    const writers = [writer(1), writer(2), writer(3)];
    const report = await runBackfill(pool, target(table), { initialBatchSize: 200, minBatchSize: 50, maxBatchSize: 500, targetBatchMs: 20, delayMs: 2 });
    stop = true;
    await Promise.all(writers);
    expect(report.done).toBe(true);

    const result = await pool.query<{ id: string; email: string; new_email: string; fires: number; last_writer: string; flagged: boolean }>(
      `select id::text, email, new_email, fires, last_writer, _promote_needs_backfill as flagged from ${table.sql}`,
    );
    const problems: string[] = [];
    let written = 0;
    for (const row of result.rows) {
      const app = writes.get(row.id);
      if (row.flagged) problems.push(`${row.id} still flagged`);
      if (!app) {
        if (row.fires !== 1 || row.last_writer !== 'backfill' || row.new_email !== row.email.toLowerCase()) problems.push(`${row.id}: ${JSON.stringify(row)}`);
        continue;
      }
      written += 1;
      // the backfill may have visited the row before the app wrote it, never after
      if (row.fires - app.count > 1 || row.fires < app.count) problems.push(`${row.id} fired ${row.fires} times for ${app.count} app writes`);
      if (row.last_writer === 'backfill') problems.push(`${row.id}: the backfill wrote after the app`);
      if (app.writer === 'new' && app.value && row.new_email !== app.value) problems.push(`${row.id}: new_email ${row.new_email}, the app wrote ${app.value}`);
    }
    expect(problems.slice(0, 10)).toEqual([]);
    expect(written).toBeGreaterThan(50);
    expect(inserted).toBeGreaterThan(0);
    expect(report.keysetRows + report.sweepRows).toBeLessThanOrEqual(rows);
  }, 60_000);

  it('gives way to a lock the app holds (lock_timeout), retries with smaller batches, and finishes once it is released', async () => {
    const table = await fresh(3000);
    const holder = await pool.connect();
    await holder.query('begin');
    await holder.query(`select * from ${table.sql} where id = $1 for update`, [idOf(1500)]);
    const sizes: number[] = [];
    const running = runBackfill(pool, target(table), {
      initialBatchSize: 400,
      minBatchSize: 25,
      lockTimeoutMs: 50,
      retryBaseMs: 10,
      retryCapMs: 100,
      onProgress: (event) => sizes.push(event.batchSize),
    });
    await delay(1200);
    const [during] = await backfillProgress(pool, `m_${table.table}`);
    await holder.query('commit');
    holder.release();
    const report = await running;
    expect(during!.rowsDone).toBeLessThan(1500);
    expect(report.done).toBe(true);
    expect(report.lockTimeoutRetries).toBeGreaterThan(3);
    expect(Math.min(...sizes)).toBe(25);
    expect(await checkTable(pool, table)).toEqual({ rows: 3000, notOnce: 0, stillFlagged: 0, wrongValue: 0 });
  });

  it('gives up with a clear message when the lock is never released', async () => {
    const table = await fresh(500);
    const holder = await pool.connect();
    await holder.query('begin');
    await holder.query(`lock table ${table.sql} in share mode`);
    try {
      await expect(runBackfill(pool, target(table), { lockTimeoutMs: 20, retryBaseMs: 1, retryCapMs: 5, maxRetries: 5 })).rejects.toThrow(
        /6 batches in a row could not get their locks or finish in time: .*lock timeout/,
      );
    } finally {
      await holder.query('commit');
      holder.release();
    }
  });

  it('waits while the app is slow, records why, and makes its batches smaller', async () => {
    const table = await fresh(2000);
    let calls = 0;
    const events: BackfillProgressEvent[] = [];
    const report = await runBackfill(pool, target(table), {
      initialBatchSize: 800,
      minBatchSize: 100,
      maxBatchSize: 800,
      maxAppP99Ms: 500,
      throttlePollMs: 10,
      appP99Ms: () => Promise.resolve(++calls <= 4 ? 900 : 40),
      onProgress: (event) => events.push(event),
    });
    expect(report.done).toBe(true);
    expect(report.throttleWaits.appP99).toMatchObject({ count: 1 });
    expect(report.throttleWaits.appP99!.ms).toBeGreaterThanOrEqual(25);
    expect(events[0]).toMatchObject({ throttledBy: 'app p99 900 ms (limit 500 ms)', batchSize: 400 });
    expect(events[1]!.throttledBy).toBeUndefined();
    expect(await checkTable(pool, table)).toMatchObject({ notOnce: 0, stillFlagged: 0 });

    // a signal that never recovers slows the backfill down but cannot stop it
    const stuck = await fresh(600);
    const slow = await runBackfill(pool, target(stuck), {
      initialBatchSize: 400,
      minBatchSize: 100,
      maxThrottleWaitMs: 20,
      throttlePollMs: 5,
      appP99Ms: () => Promise.resolve(5000),
    });
    expect(slow.done).toBe(true);
    expect(slow.throttleWaits.appP99!.count).toBe(slow.batches);
  });

  it('throttles on backends waiting for locks of the table', async () => {
    const table = await fresh(1000);
    const holder = await pool.connect();
    const waiters = [await pool.connect(), await pool.connect()];
    await holder.query('begin');
    await holder.query(`select * from ${table.sql} where id = $1 for update`, [idOf(999)]);
    const blocked = waiters.map((client) => client.query(`update ${table.sql} set email = 'w' where id = $1`, [idOf(999)]));
    await delay(200);
    const running = runBackfill(pool, target(table), { initialBatchSize: 300, throttlePollMs: 20, maxThrottleWaitMs: 300, lockTimeoutMs: 50, retryBaseMs: 5, retryCapMs: 20 });
    await delay(500);
    await holder.query('commit');
    holder.release();
    await Promise.all(blocked);
    waiters.forEach((client) => client.release());
    const report = await running;
    expect(report.done).toBe(true);
    expect(report.throttleWaits.lockWaits?.count).toBeGreaterThanOrEqual(1);
  });

  it('survives its connection being killed (as a server restart would): the next run resumes from the last committed batch', async () => {
    const table = await fresh(4000);
    let killing: Promise<unknown> | undefined;
    const first = runBackfill(pool, target(table), {
      minBatchSize: 200,
      maxBatchSize: 200,
      initialBatchSize: 200,
      delayMs: 20,
      onProgress: (event) => {
        // the backfill's session is the one holding its advisory lock
        killing ??=
          event.batches === 5
            ? pool.query(`select pg_terminate_backend(pid) from pg_locks where locktype = 'advisory' and pid <> pg_backend_pid()`)
            : undefined;
      },
    });
    await expect(first).rejects.toThrow(PromoteError);
    await expect(first).rejects.toThrow(/back-filling app\.c\d+: .*terminat/);
    const [saved] = await backfillProgress(pool, target(table).migration);
    expect(saved!.rowsDone).toBeGreaterThanOrEqual(1000);
    const second = await runBackfill(pool, target(table));
    expect(second).toMatchObject({ done: true, resumedFrom: { rowsDone: saved!.rowsDone } });
    expect(await checkTable(pool, table)).toEqual({ rows: 4000, notOnce: 0, stillFlagged: 0, wrongValue: 0 });
  });
});
