/**
 * Rollback while the old version keeps writing (a canary that failed its analysis, the stable version
 * under load): the old version must never see a state between two of rollback's steps. drop_column's
 * rollback drops `_promote_needs_backfill`, which add_column's `up` trigger sets on every write of the
 * old version, and add_column's drops its column under a NOT NULL check that only the trigger
 * satisfies; so rollback, like complete, drops each table's triggers and columns in one transaction
 * (its switch). The writers write between every two transactions of the migrator
 * (test/helpers/writers-under-load.ts). Then the same migration is started again, as the next
 * release's rollout does, still under the old version's writes.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import {
  CENTS,
  createMigrationDatabase,
  createOrdersTables,
  NEW_APP_WRITES,
  OLD_APP_TRANSACTIONS,
  OLD_APP_WRITES,
  startWriter,
  waitForAttempts,
  withWritersFirst,
  type MigrationDatabase,
} from '../../test/helpers/writers-under-load.js';
import { rollbackMigration, startMigration } from './runner.js';

let db: MigrationDatabase;

beforeAll(async () => {
  db = await createMigrationDatabase();
});

async function columnsOf(): Promise<string[]> {
  const columns = await db.pool.query<{ table_name: string; column_name: string }>(
    `select table_name, column_name from information_schema.columns where table_schema = 'public' and table_name in ('orders', 'lines') order by table_name, ordinal_position`,
  );
  return columns.rows.map((row) => `${row.table_name}.${row.column_name}`);
}

describe('rollback under the old version\'s writes', () => {
  it('add_column and drop_column of the same tables: no write of the old version is refused during rollback, nor during the same migration\'s start after it', async () => {
    await createOrdersTables(db);
    const { versionSchema } = await startMigration(CENTS, { pool: db.pool });
    const oldApp = startWriter(await db.clientFor('public'), OLD_APP_WRITES);
    const newApp = startWriter(await db.clientFor(versionSchema), NEW_APP_WRITES);
    await waitForAttempts(oldApp, 100);
    await waitForAttempts(newApp, 100);
    // the canary is gone before its migration is rolled back, as a rollout makes it
    await newApp.stop();
    expect(newApp.errors).toEqual([]);

    const before = oldApp.attempts();
    const rolledBack = await withWritersFirst(db.url, [oldApp], (pool) => rollbackMigration({ pool }));
    expect(rolledBack.phase).toBe('rolled_back');
    // rollback ran several transactions, each with writes between it and the next
    expect(oldApp.attempts() - before).toBeGreaterThan(8);
    await waitForAttempts(oldApp, oldApp.attempts() + 20);
    expect(oldApp.errors).toEqual([]);
    expect(await columnsOf()).toEqual(['lines.id', 'lines.order_id', 'lines.price', 'orders.id', 'orders.status', 'orders.total']);

    // the next release expands the same migration again (same version schema), the old version still writing
    const again = await withWritersFirst(db.url, [oldApp], (pool) => startMigration(CENTS, { pool }));
    expect(again.versionSchema).toBe(versionSchema);
    await waitForAttempts(oldApp, oldApp.attempts() + 60);
    await oldApp.stop();
    expect(oldApp.errors).toEqual([]);
    // every row, seeded, written before or after either start, has the up value in the new columns
    const wrong = await db.pool.query(
      `select (select count(*) from orders where _promote_new_total_cents is distinct from round(total * 100)::bigint)::int as orders,
              (select count(*) from lines where _promote_new_price_cents is distinct from round(price * 100)::bigint)::int as lines`,
    );
    expect(wrong.rows[0]).toEqual({ orders: 0, lines: 0 });
  }, 60_000);

  it('expand, roll back, expand again while the old version writes as the demo\'s 1.0.0 does (transactions, cancels of old orders): no write refused in any phase', async () => {
    // the demo once showed 1.0.0 refused with 23514 (_promote_not_null_total_cents) around 3.0.0's
    // expand of the migration 2.0.0 had rolled back: before rollback switched tables whole, these came
    // from the rollback (add_column's up trigger dropped a transaction before its column and check);
    // none came after the second expand
    await createOrdersTables(db);
    const oldApp = startWriter(await db.clientFor('public'), OLD_APP_TRANSACTIONS);
    const refusedIn: Record<string, string[]> = {};
    let seen = 0;
    const phase = async (name: string, work: () => Promise<unknown>) => {
      await work();
      // and a while after it, as the load goes on
      await waitForAttempts(oldApp, oldApp.attempts() + 300);
      refusedIn[name] = oldApp.errors.slice(seen);
      seen = oldApp.errors.length;
    };
    try {
      await phase('start', () => withWritersFirst(db.url, [oldApp], (pool) => startMigration(CENTS, { pool })));
      await phase('rollback', () => withWritersFirst(db.url, [oldApp], (pool) => rollbackMigration({ pool })));
      await phase('start again', () => withWritersFirst(db.url, [oldApp], (pool) => startMigration(CENTS, { pool })));
    } finally {
      await oldApp.stop();
    }
    expect(refusedIn).toEqual({ start: [], rollback: [], 'start again': [] });
    // the second backfill visited every row (the rolled-back run's cursor was forgotten), and the old
    // version's inserts and cancels since got the up value from the trigger
    const wrong = await db.pool.query(
      `select (select count(*) from orders where _promote_new_total_cents is distinct from round(total * 100)::bigint)::int as orders,
              (select count(*) from lines where _promote_new_price_cents is distinct from round(price * 100)::bigint)::int as lines,
              (select count(*) from orders where status = 'cancelled')::int > 0 as cancelled`,
    );
    expect(wrong.rows[0]).toEqual({ orders: 0, lines: 0, cancelled: true });
  }, 60_000);
});
