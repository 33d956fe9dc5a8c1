/**
 * The lock budget: DDL that needs a table lock waits at most lockTimeoutMs behind a long transaction
 * and then steps back, so the app's writers, which queue behind the DDL's lock request, never wait
 * longer than about the budget. The same migration with a budget longer than the blocking
 * transaction shows what the budget prevents: every writer stuck for the whole transaction.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { afterFile } from '../../test/helpers/cleanup.js';
import { createMigrationDatabase, migrationFrom, type MigrationDatabase } from '../../test/helpers/migrations.js';
import { completeMigration, startMigration } from './runner.js';
import { DEFAULT_LOCK_BUDGET } from './steps.js';

const BLOCK_MS = 2_500;

let db: MigrationDatabase;
let writers: pg.Pool;

beforeAll(async () => {
  db = await createMigrationDatabase();
  writers = new pg.Pool({ connectionString: db.url, max: 4 });
  afterFile('closing the writers', () => writers.end());
});

async function freshTable(): Promise<void> {
  await db.reset();
  await db.pool.query(`create table counters (id int primary key, n int not null default 0); insert into counters (id) select generate_series(1, 100)`);
}

/** Writers update rows while `during` runs, and a reader holds the table for BLOCK_MS; returns the longest write. */
async function longestWriteDuring(during: () => Promise<void>): Promise<number> {
  const blocker = await db.pool.connect();
  await blocker.query('begin');
  await blocker.query('select count(*) from counters');
  const blockerDone = sleep(BLOCK_MS)
    .then(() => blocker.query('commit'))
    .finally(() => blocker.release());
  let running = true;
  let longest = 0;
  const loops = Array.from({ length: 3 }, async () => {
    while (running) {
      const began = performance.now();
      await writers.query('update counters set n = n + 1 where id = $1', [1 + Math.floor(Math.random() * 100)]);
      longest = Math.max(longest, performance.now() - began);
    }
  });
  try {
    await during();
  } finally {
    running = false;
    await Promise.all(loops);
    await blockerDone;
  }
  return longest;
}

const migration = migrationFrom('02_add_label', `operations:\n  - add_column:\n      table: counters\n      column: { name: label, type: text, nullable: true }\n`);

describe('the lock budget', () => {
  it('keeps writers from waiting much longer than the budget while DDL waits behind a long transaction', async () => {
    await freshTable();
    let retries = 0;
    const longest = await longestWriteDuring(async () => {
      await startMigration(migration, { pool: db.pool, lockBudget: { ...DEFAULT_LOCK_BUDGET, lockTimeoutMs: 200 }, events: { onLockRetry: () => (retries += 1) } });
    });
    await completeMigration({ pool: db.pool });
    expect(retries).toBeGreaterThan(0);
    // generous for a shared machine, and still far below the blocking transaction's length
    expect(longest).toBeLessThan(1_200);
  }, 30_000);

  it('without a budget shorter than the blocker, every writer waits for the whole transaction', async () => {
    await freshTable();
    const longest = await longestWriteDuring(async () => {
      await startMigration(migration, { pool: db.pool, lockBudget: { ...DEFAULT_LOCK_BUDGET, lockTimeoutMs: 10_000 } });
    });
    expect(longest).toBeGreaterThan(BLOCK_MS * 0.6);
  }, 30_000);
});
