import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { afterFile } from '../../test/helpers/cleanup.js';
import { createTestDatabase } from '../../test/helpers/database.js';
import { startOrdersService, type InstanceCounters, type OrdersService } from './orders-service.js';
import type { Order } from './orders-store.js';
import { setupOrdersDatabase } from './schema.js';

let url: string;
let pool: pg.Pool;
let v1: OrdersService;

beforeAll(async () => {
  url = (await createTestDatabase()).url;
  pool = new pg.Pool({ connectionString: url, max: 2 });
  afterFile('closing the orders pool', () => pool.end());
  expect(await setupOrdersDatabase(pool, { seedOrders: 30 })).toEqual({ seeded: 30, orders: 30 });
  v1 = await startOrdersService({ databaseUrl: url, release: '1.4.0', port: 0 });
  afterFile('stopping orders v1', () => v1.close());
});

/** what the service answers: an order, a list, health or stats */
type Answer = Partial<Omit<Order, 'status'>> & { status?: string; orders?: Order[]; instance?: InstanceCounters; error?: string };

async function call(method: string, path: string, body?: unknown): Promise<{ status: number; json: Answer }> {
  const response = await fetch(v1.url + path, { method, ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }) });
  return { status: response.status, json: (await response.json()) as Answer };
}

describe('orders service v1 (numeric dollars in the base tables)', () => {
  it('setup is idempotent: a second call neither recreates nor reseeds; every seeded order has lines and a total equal to their sum', async () => {
    expect(await setupOrdersDatabase(pool, { seedOrders: 30 })).toEqual({ seeded: 0, orders: 30 });
    const check = await pool.query(`select count(*)::int as bad from orders o where total <> coalesce((select sum(qty * price) from order_lines l where l.order_id = o.id), -1)`);
    expect(check.rows[0]).toEqual({ bad: 0 });
  });

  it('healthz names the release and the shape', async () => {
    expect(await call('GET', '/healthz')).toEqual({ status: 200, json: { status: 'ok', release: '1.4.0', shape: 'dollars', schemaVersion: null } });
  });

  it('POST /orders answers 201 with the order in cents and stores dollars; GET /orders/:id and ?user= read it back', async () => {
    const created = await call('POST', '/orders', { user: 'ann', items: [{ sku: 'A-1', qty: 2, price: 1999 }, { sku: 'B-2', qty: 1, price: 5 }], note: 'gift' });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({ user: 'ann', status: 'placed', note: 'gift', total: 4003, items: [{ sku: 'A-1', qty: 2, price: 1999 }, { sku: 'B-2', qty: 1, price: 5 }] });
    const id = created.json.id!;
    expect(id).toBeGreaterThan(30);
    const row = await pool.query(`select total::text as total, (select array_agg(price::text order by line_no) from order_lines where order_id = $1) as prices from orders where id = $1`, [id]);
    expect(row.rows[0]).toEqual({ total: '40.03', prices: ['19.99', '0.05'] });

    expect(await call('GET', `/orders/${id}`)).toEqual({ status: 200, json: created.json });
    const second = await call('POST', '/orders', { user: 'ann', items: [{ sku: 'C-3', qty: 3, price: 100 }] });
    const listed = await call('GET', '/orders?user=ann');
    expect(listed.status).toBe(200);
    expect(listed.json.orders!.map((order) => order.id)).toEqual([second.json.id, id]);
    expect(listed.json.orders![0]).toMatchObject({ note: null, total: 300 });
    expect((await call('GET', '/orders?user=ann&limit=1')).json.orders).toHaveLength(1);
    expect((await call('GET', '/orders?user=nobody')).json).toEqual({ orders: [] });
  });

  it('cancel: placed -> cancelled, again is the same answer, a missing order is 404', async () => {
    const created = await call('POST', '/orders', { user: 'bob', items: [{ sku: 'X', qty: 1, price: 250 }] });
    const cancelled = await call('POST', `/orders/${created.json.id}/cancel`);
    expect(cancelled).toEqual({ status: 200, json: { ...created.json, status: 'cancelled' } });
    expect(await call('POST', `/orders/${created.json.id}/cancel`)).toEqual(cancelled);
    expect((await call('POST', '/orders/999999/cancel')).status).toBe(404);
    expect((await call('GET', '/orders/999999')).status).toBe(404);
  });

  it('refuses bad input with 400: no items, a fractional price, a missing user, a non-numeric id', async () => {
    expect((await call('POST', '/orders', { user: 'c', items: [] })).status).toBe(400);
    expect((await call('POST', '/orders', { user: 'c', items: [{ sku: 'a', qty: 1, price: 1.5 }] })).status).toBe(400);
    expect((await call('POST', '/orders', { items: [{ sku: 'a', qty: 1, price: 1 }] })).status).toBe(400);
    expect((await call('GET', '/orders/abc')).status).toBe(400);
    expect((await call('GET', '/orders')).status).toBe(400);
  });

  it('stats agree with the tables and count this instance\'s requests', async () => {
    const stats = await call('GET', '/stats');
    const expected = await pool.query(
      `select count(*)::int as orders, (count(*) filter (where status = 'placed'))::int as placed, (count(*) filter (where status = 'cancelled'))::int as cancelled,
              (sum(round(total * 100)) filter (where status = 'placed'))::int as revenue, (select count(*)::int from order_lines) as lines from orders`,
    );
    expect(stats.status).toBe(200);
    expect(stats.json).toMatchObject({ release: '1.4.0', shape: 'dollars', errorRate: 0, ...expected.rows[0] });
    expect(stats.json.instance!.requests).toBeGreaterThan(10);
    expect(stats.json.instance!.requests).toBeLessThanOrEqual(v1.counters.requests);
  });
});

describe('orders service as a process (node dist/demo/orders-service.js)', () => {
  const script = fileURLToPath(new URL('../../dist/demo/orders-service.js', import.meta.url));

  it('reads PORT, RELEASE and ORDERS_DATABASE_URL from its environment, serves, and exits 0 on SIGTERM', async () => {
    const child = spawn(process.execPath, [script], { env: { ...process.env, PORT: '0', RELEASE: '1.0.0', ORDERS_DATABASE_URL: url, DATABASE_URL: 'postgres://wrong.invalid/none', PROMOTE_SCHEMA_VERSION: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
    afterFile('killing the orders process', () => child.kill('SIGKILL'));
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const listening = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no "listening" line: ${out}`)), 15_000);
      child.stdout.on('data', () => {
        const match = /listening on (http:\/\/\S+)/.exec(out);
        if (match) {
          clearTimeout(timer);
          resolve(match[1]!);
        }
      });
      child.once('exit', (code) => reject(new Error(`exited ${code}: ${out}`)));
    });
    expect(out).toContain('orders service 1.0.0 (dollars)');
    const health = await (await fetch(`${listening}/healthz`)).json();
    expect(health).toMatchObject({ status: 'ok', release: '1.0.0' });
    child.kill('SIGTERM');
    const [code] = (await once(child, 'exit')) as [number | null];
    expect(code).toBe(0);
  });

  it('v2 without the migration refuses to start, naming the missing columns and what to do', async () => {
    const child = spawn(process.execPath, [script], { env: { ...process.env, PORT: '0', RELEASE: '2.0.0', ORDERS_DATABASE_URL: url }, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    const [code] = (await once(child, 'exit')) as [number | null];
    expect(code).toBe(1);
    expect(err).toMatch(/orders service 2\.0\.0 reads orders\.total_cents and order_lines\.price_cents through the base tables, and they are not there: column "total_cents" does not exist/);
    expect(err).toContain('hint: start migration 01_amounts_in_cents');
  });
});
