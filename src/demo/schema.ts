/**
 * The orders service's own tables in their v1 shape, and seed rows for the demo.
 *
 * v1 keeps money as numeric dollars (`orders.total`, `order_lines.price`); v2 keeps integer cents
 * (`total_cents`, `price_cents`), which examples/demo/migrations/01_amounts_in_cents.yaml adds beside the dollar
 * columns (expand, with a backfill through its `up` expressions) and later drops the dollars
 * (contract). The HTTP API speaks cents in every version, so a client cannot tell them apart.
 *
 * Run directly, it sets up a database: `node dist/demo/schema.js <database-url> [seed-orders]`.
 */
import { fileURLToPath, pathToFileURL } from 'node:url';
import pg from 'pg';
import { wrapError } from '../errors.js';

/** The demo's configuration folder: its promote.yaml, and migrations/ with the migration v2 needs. */
export const DEMO_EXAMPLE_DIR = fileURLToPath(new URL('../../examples/demo/', import.meta.url));
export const DEMO_MIGRATIONS_DIR = fileURLToPath(new URL('../../examples/demo/migrations/', import.meta.url));

/** The migration v2 needs, and the version schema its views live in (on schema `public`). */
export const AMOUNTS_MIGRATION = '01_amounts_in_cents';
export const AMOUNTS_VERSION_SCHEMA = `public_${AMOUNTS_MIGRATION}`;

/** The v1 tables. Idempotent: tables that exist are left as they are. */
export const V1_TABLES_SQL = `
create table if not exists orders (
  id bigserial primary key,
  user_id text not null,
  status text not null default 'placed' check (status in ('placed', 'cancelled')),
  note text,
  total numeric(12, 2) not null check (total >= 0),
  created_at timestamptz not null default now()
);
create index if not exists orders_by_user on orders (user_id, id);
create table if not exists order_lines (
  id bigserial primary key,
  order_id bigint not null references orders (id),
  line_no integer not null,
  sku text not null,
  qty integer not null check (qty > 0),
  price numeric(10, 2) not null check (price >= 0),
  unique (order_id, line_no)
);
`;

export interface SetupOptions {
  /** orders to insert when the table is empty (each with 1 to 3 lines); default 0 */
  seedOrders?: number;
  /** how many distinct users the seeded orders belong to (`seed-0` …); default 40 */
  seedUsers?: number;
}

export interface SetupOutcome {
  /** orders inserted by this call (0 when the table already had rows) */
  seeded: number;
  /** rows in orders afterwards */
  orders: number;
}

/**
 * Creates the v1 tables if they are missing and, when `orders` is empty, seeds it with deterministic
 * orders (every one with at least one line; one in ten cancelled), all in one transaction.
 */
export async function setupOrdersDatabase(pool: pg.Pool, options: SetupOptions = {}): Promise<SetupOutcome> {
  const seedOrders = options.seedOrders ?? 0;
  const seedUsers = options.seedUsers ?? 40;
  const client = await pool.connect().catch((error: unknown) => {
    throw wrapError('connecting to the orders database to set it up', error);
  });
  try {
    await client.query('begin');
    // two instances starting at once must not both seed
    await client.query(`select pg_advisory_xact_lock(hashtext('promote-demo-orders-setup'))`);
    await client.query(V1_TABLES_SQL);
    const existing = Number((await client.query<{ n: string }>('select count(*) as n from orders')).rows[0]!.n);
    let seeded = 0;
    if (existing === 0 && seedOrders > 0) {
      await client.query(
        `insert into orders (user_id, status, note, total, created_at)
         select 'seed-' || (n % $2::int), case when n % 10 = 0 then 'cancelled' else 'placed' end,
                case when n % 7 = 0 then 'seeded order ' || n end, 0, now() - make_interval(mins => $1::int - n)
         from generate_series(1, $1::int) n`,
        [seedOrders, seedUsers],
      );
      // 1 to 3 lines per order, prices from 0.99 to 50.98 dollars
      await client.query(
        `insert into order_lines (order_id, line_no, sku, qty, price)
         select o.id, l, 'SKU-' || lpad(((o.id * 7 + l * 13) % 500)::text, 3, '0'), 1 + (o.id + l) % 3, ((o.id * 37 + l * 11) % 5000 + 99) / 100.0
         from orders o, generate_series(1, 1 + (o.id % 3)::int) l`,
      );
      await client.query(`update orders o set total = (select sum(qty * price) from order_lines l where l.order_id = o.id)`);
      seeded = seedOrders;
    }
    await client.query('commit');
    return { seeded, orders: existing + seeded };
  } catch (error) {
    await client.query('rollback').catch(() => undefined);
    throw wrapError('setting up the orders tables (v1 shape)', error);
  } finally {
    client.release();
  }
}

async function main(argv: string[]): Promise<void> {
  const [url, seed] = argv;
  if (url === undefined) throw new Error('usage: node dist/demo/schema.js <database-url> [seed-orders]');
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  try {
    const outcome = await setupOrdersDatabase(pool, { seedOrders: seed === undefined ? 0 : Number(seed) });
    process.stdout.write(`orders tables ready: ${outcome.orders} orders (${outcome.seeded} seeded now)\n`);
  } finally {
    await pool.end();
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  });
}
