/**
 * Complete while the new version keeps writing: the app must never see a state between two of
 * complete's steps. add_column's rename of `_promote_new_<col>` and drop_column's drop of the old NOT
 * NULL column both sit between triggers that read or fill those columns, so complete runs each
 * table's drops and renames in one transaction (its switch). The writers are given time to write
 * between every two transactions of complete (the pool that complete uses waits for them before it
 * hands out a connection), so any state in between is seen by them, whatever the machine's speed.
 */
import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { createMigrationDatabase, migrationFrom, type MigrationDatabase } from '../../test/helpers/migrations.js';
import { completeMigration, startMigration } from './runner.js';

let db: MigrationDatabase;

beforeAll(async () => {
  db = await createMigrationDatabase();
});

const CENTS = migrationFrom(
  '03_cents',
  `operations:
  - add_column:
      table: orders
      up: "round(total * 100)::bigint"
      column:
        name: total_cents
        type: bigint
        nullable: false
        check: { name: orders_total_cents_not_negative, constraint: "total_cents >= 0" }
  - drop_column: { table: orders, column: total, down: "total_cents / 100.0" }
  - add_column:
      table: lines
      up: "round(price * 100)::bigint"
      column: { name: price_cents, type: bigint, nullable: false }
  - drop_column: { table: lines, column: price, down: "price_cents / 100.0" }
`,
);

interface Writer {
  /** inserts done (or refused) so far */
  readonly attempts: () => number;
  readonly errors: string[];
  stop(): Promise<void>;
}

/** Inserts one order and one line after another, as fast as it can, until stopped; records refusals. */
function startWriter(client: pg.Client, insertOrder: string, insertLine: string): Writer {
  let attempts = 0;
  let stopped = false;
  const errors: string[] = [];
  const done = (async () => {
    for (let n = 1; !stopped; n += 1) {
      for (const sql of [insertOrder, insertLine]) {
        try {
          await client.query(sql, [n]);
        } catch (error) {
          const { message, code } = error as { message: string; code?: string };
          errors.push(`${message} (${code ?? '?'})`);
        }
        attempts += 1;
      }
    }
  })();
  return {
    attempts: () => attempts,
    errors,
    async stop() {
      stopped = true;
      await done;
    },
  };
}

/** A pool that lets the writers write a few rows before each connection it hands out. */
class WritersFirstPool extends pg.Pool {
  writers: Writer[] = [];

  // pg.Pool's own query() calls connect with a callback: those are passed through untouched
  override connect(...args: unknown[]): never {
    if (args.length > 0) return (super.connect as (...rest: unknown[]) => never)(...args);
    return (async () => {
      const targets = this.writers.map((writer) => writer.attempts() + 4);
      while (this.writers.some((writer, index) => writer.attempts() < targets[index]!)) await new Promise((resolve) => setTimeout(resolve, 1));
      return super.connect();
    })() as never;
  }
}

describe('complete under the new version\'s writes', () => {
  it('add_column and drop_column of the same tables: no write of the new version is refused at any point of complete', async () => {
    await db.reset(`create table orders (id bigserial primary key, total numeric(12, 2) not null);
      create table lines (id bigserial primary key, order_id bigint not null, price numeric(12, 2) not null);
      insert into orders (total) select n * 1.25 from generate_series(1, 200) n;
      insert into lines (order_id, price) select n, n * 0.5 from generate_series(1, 200) n`);
    const { versionSchema } = await startMigration(CENTS, { pool: db.pool });

    const oldApp = startWriter(await db.clientFor('public'), 'insert into orders (total) values ($1::int * 0.01)', 'insert into lines (order_id, price) values ($1::int, $1::int * 0.02)');
    const newApp = startWriter(await db.clientFor(versionSchema), 'insert into orders (total_cents) values ($1::int)', 'insert into lines (order_id, price_cents) values ($1::int, $1::int * 2)');
    const waitFor = async (writer: Writer, attempts: number) => {
      while (writer.attempts() < attempts) await new Promise((resolve) => setTimeout(resolve, 5));
    };
    await waitFor(oldApp, 100);
    await waitFor(newApp, 100);
    // the old version is gone before the contract, as a rollout makes it
    await oldApp.stop();
    expect(oldApp.errors).toEqual([]);

    const pool = new WritersFirstPool({ connectionString: db.url, max: 3 });
    try {
      pool.writers = [newApp];
      const before = newApp.attempts();
      const completed = await completeMigration({ pool });
      expect(completed.phase).toBe('completed');
      // complete ran several transactions, each with writes between it and the next
      expect(newApp.attempts() - before).toBeGreaterThan(20);
    } finally {
      pool.writers = [];
      await pool.end();
    }
    await waitFor(newApp, newApp.attempts() + 20);
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
      'orders.total_cents not null',
    ]);
    // every row has its cents: the seeded ones and the old version's from up, the new version's as written
    const wrong = await db.pool.query(`select (select count(*) from orders where total_cents is null)::int as orders, (select count(*) from lines where price_cents is null)::int as lines`);
    expect(wrong.rows[0]).toEqual({ orders: 0, lines: 0 });
  }, 60_000);
});
