/**
 * Complete while the new version keeps writing: the app must never see a state between two of
 * complete's steps. add_column's rename of `_promote_new_<col>` and drop_column's drop of the old NOT
 * NULL column both sit between triggers that read or fill those columns, so complete runs each
 * table's drops and renames in one transaction (its switch). The writers are given time to write
 * between every two transactions of complete (test/helpers/writers-under-load.ts), so any state in
 * between is seen by them, whatever the machine's speed.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import {
  CENTS,
  createMigrationDatabase,
  createOrdersTables,
  NEW_APP_WRITES,
  OLD_APP_WRITES,
  startWriter,
  waitForAttempts,
  withWritersFirst,
  type MigrationDatabase,
} from '../../test/helpers/writers-under-load.js';
import { completeMigration, startMigration } from './runner.js';

let db: MigrationDatabase;

beforeAll(async () => {
  db = await createMigrationDatabase();
});

describe('complete under the new version\'s writes', () => {
  it('add_column and drop_column of the same tables: no write of the new version is refused at any point of complete', async () => {
    await createOrdersTables(db);
    const { versionSchema } = await startMigration(CENTS, { pool: db.pool });

    const oldApp = startWriter(await db.clientFor('public'), OLD_APP_WRITES);
    const newApp = startWriter(await db.clientFor(versionSchema), NEW_APP_WRITES);
    await waitForAttempts(oldApp, 100);
    await waitForAttempts(newApp, 100);
    // the old version is gone before the contract, as a rollout makes it
    await oldApp.stop();
    expect(oldApp.errors).toEqual([]);

    const before = newApp.attempts();
    const completed = await withWritersFirst(db.url, [newApp], (pool) => completeMigration({ pool }));
    expect(completed.phase).toBe('completed');
    // complete ran several transactions, each with writes between it and the next
    expect(newApp.attempts() - before).toBeGreaterThan(20);
    await waitForAttempts(newApp, newApp.attempts() + 20);
    await newApp.stop();
    expect(newApp.errors).toEqual([]);

    const columns = await db.pool.query<{ table_name: string; column_name: string; is_nullable: string }>(
      `select table_name, column_name, is_nullable from information_schema.columns where table_schema = 'public' and table_name in ('orders', 'lines') order by table_name, ordinal_position`,
    );
    expect(columns.rows.map((row) => `${row.table_name}.${row.column_name}${row.is_nullable === 'NO' ? ' not null' : ''}`)).toEqual([
      'lines.id not null',
      'lines.order_id not null',
      'lines.price_cents not null',
      'orders.id not null',
      'orders.status not null',
      'orders.total_cents not null',
    ]);
    // every row has its cents: the seeded ones and the old version's from up, the new version's as written
    const wrong = await db.pool.query(`select (select count(*) from orders where total_cents is null)::int as orders, (select count(*) from lines where price_cents is null)::int as lines`);
    expect(wrong.rows[0]).toEqual({ orders: 0, lines: 0 });
  }, 60_000);
});
