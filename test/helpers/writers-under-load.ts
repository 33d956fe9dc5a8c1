/**
 * Writers that stand for an app's versions while a migration phase runs, and a pool for the migrator
 * that lets them write between every two of its transactions, so any state the phase passes through
 * between two transactions is met by a write, whatever the machine's speed. Used by the under-load
 * tests of complete and rollback (src/migrations/*-under-load.test.ts).
 */
import pg from 'pg';
import { createMigrationDatabase, migrationFrom, type MigrationDatabase } from './migrations.js';

export interface Writer {
  /** statements run (or refused) so far */
  readonly attempts: () => number;
  /** each refusal: message (SQLSTATE) */
  readonly errors: string[];
  stop(): Promise<void>;
}

/** Runs the statements, each with $1 = the round's number, one after another, as fast as it can, until stopped; records refusals. */
export function startWriter(client: pg.Client, statements: readonly string[]): Writer {
  let attempts = 0;
  let stopped = false;
  const errors: string[] = [];
  const done = (async () => {
    for (let n = 1; !stopped; n += 1) {
      for (const sql of statements) {
        try {
          await client.query(sql, sql.includes('$1') ? [n] : []);
        } catch (error) {
          const { message, code } = error as { message: string; code?: string };
          errors.push(`${message} (${code ?? '?'})`);
          // no SQLSTATE: the connection is gone (a failed test's cleanup closed it); a writer that went
          // on would spin on rejected promises alone and starve the event loop
          if (code === undefined) stopped = true;
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

export async function waitForAttempts(writer: Writer, attempts: number): Promise<void> {
  while (writer.attempts() < attempts) await new Promise((resolve) => setTimeout(resolve, 5));
}

/** A pool that lets the writers run a few statements before each connection it hands out. */
export class WritersFirstPool extends pg.Pool {
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

/** Runs `phase` on a WritersFirstPool whose connections wait for the writers; the pool is ended after. */
export async function withWritersFirst<T>(url: string, writers: Writer[], phase: (pool: pg.Pool) => Promise<T>): Promise<T> {
  const pool = new WritersFirstPool({ connectionString: url, max: 4 });
  pool.writers = writers;
  try {
    return await phase(pool);
  } finally {
    pool.writers = [];
    await pool.end();
  }
}

/**
 * The demo's migration shape (examples/demo/migrations/01_amounts_in_cents.yaml) on two small
 * tables: a NOT NULL column added with `up` and the column it replaces dropped with `down`, on each.
 */
export const CENTS = migrationFrom(
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

export const SEEDED_ORDERS = 200;

/** The tables CENTS changes, with seeded rows. */
export async function createOrdersTables(db: MigrationDatabase): Promise<void> {
  await db.reset(`create table orders (id bigserial primary key, status text not null default 'placed', total numeric(12, 2) not null);
    create table lines (id bigserial primary key, order_id bigint not null, price numeric(12, 2) not null);
    insert into orders (total) select n * 1.25 from generate_series(1, ${SEEDED_ORDERS}) n;
    insert into lines (order_id, price) select n, n * 0.5 from generate_series(1, ${SEEDED_ORDERS}) n`);
}

/** The old version's writes (base tables, dollars): an order, its line, and a status change of a seeded order, as the demo's v1 cancels one. */
export const OLD_APP_WRITES = [
  'insert into orders (total) values ($1::int * 0.01)',
  'insert into lines (order_id, price) values ($1::int, $1::int * 0.02)',
  `update orders set status = case when status = 'placed' then 'cancelled' else 'placed' end where id = $1::int % ${SEEDED_ORDERS} + 1`,
];

/**
 * The old version's writes as the demo's orders service 1.0.0 makes them (src/demo/orders-store.ts):
 * each request one transaction that sets its schema version (src/sdk/schema-version.ts), an order and
 * its line, or a cancel of a seeded order.
 */
export const OLD_APP_TRANSACTIONS = [
  'begin',
  `select set_config('search_path', 'public', true), set_config('promote.version', '', true)`,
  'insert into orders (total) values ($1::bigint / 100.0)',
  'insert into lines (order_id, price) select $1::int, p / 100.0 from unnest(array[$1::bigint * 2]) as t(p)',
  'commit',
  'begin',
  `select set_config('search_path', 'public', true), set_config('promote.version', '', true)`,
  `update orders set status = 'cancelled' where id = $1::int % ${SEEDED_ORDERS} + 1 and status = 'placed'`,
  'commit',
];

/** The new version's writes (its views, cents). */
export const NEW_APP_WRITES = ['insert into orders (total_cents) values ($1::int)', 'insert into lines (order_id, price_cents) values ($1::int, $1::int * 2)'];

export { createMigrationDatabase, type MigrationDatabase };
