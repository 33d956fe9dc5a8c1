/**
 * An app doing gated writes and dual writes (one database; two databases through the outbox) is
 * SIGKILLed at seeded random points, again and again, until well over a thousand writes of each kind
 * were acknowledged. Afterwards the outbox is drained and reconciliation finds zero divergence: no
 * gated write half persisted, no failed new path left a row, no dual write reached one store only,
 * and every write the app acknowledged is there.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { reconcile } from '../../src/integrity/reconcile.js';
import { installOutbox } from '../../src/sdk/outbox.js';
import { afterFile } from '../helpers/cleanup.js';
import { createTestDatabase } from '../helpers/database.js';
import { seededRandom } from '../../src/system/seeded-random.js';

const writer = fileURLToPath(new URL('../fixtures/gated-writer.mjs', import.meta.url));
const MIN_ACKS = 1000;
const MIN_KILLS = 20;

type Ack = { kind: string; id: number; path: string };

function runWriter(env: Record<string, string>, killAfterMs: number | undefined, args: string[] = []): Promise<{ acks: Ack[]; killed: boolean }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [writer, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = killAfterMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      const acks = stdout
        .split('\n')
        .filter((line) => line.startsWith('ack '))
        .map((line) => {
          const [, kind, id, path] = line.split(' ');
          return { kind: kind!, id: Number(id), path: path! };
        });
      if (signal === 'SIGKILL') resolve({ acks, killed: true });
      else if (code === 0 && killAfterMs === undefined) resolve({ acks, killed: false });
      else reject(new Error(`the writer exited with ${code ?? signal} before it was killed: ${stderr.slice(-2000)}`));
    });
  });
}

let legacy: pg.Pool;
let next: pg.Pool;
let env: Record<string, string>;

beforeAll(async () => {
  const [legacyDb, nextDb] = [await createTestDatabase(), await createTestDatabase()];
  legacy = new pg.Pool({ connectionString: legacyDb.url, max: 4 });
  next = new pg.Pool({ connectionString: nextDb.url, max: 4 });
  afterFile('closing the writer test pools', () => Promise.all([legacy.end(), next.end()]));
  env = { LEGACY_URL: legacyDb.url, NEXT_URL: nextDb.url };
  await legacy.query(`create table gated_orders (id bigint primary key, amount int not null);
    create table gated_order_lines (order_id bigint primary key, amount int not null);
    create table legacy_orders (id bigint primary key, amount int not null);
    create table customers_v1 (id bigint primary key, name text not null, email text not null);
    create table customers_v2 (id bigint primary key, full_name text not null, email_lower text not null);
    create table accounts_v1 (id bigint primary key, balance_cents bigint not null)`);
  await next.query('create table accounts_v2 (id bigint primary key, balance numeric(14, 2) not null)');
  await installOutbox(legacy, next);
});

describe('gated writes and dual writes under SIGKILL', () => {
  it('leave zero divergence and every acknowledged write in place', async () => {
    // seeded: the kill points are the same on every run
    const random = seededRandom(20261123);
    const acks: Ack[] = [];
    const count = (kind: string) => acks.filter((ack) => ack.kind === kind).length;
    let kills = 0;
    for (let run = 1; kills < MIN_KILLS || ['gate', 'customers', 'accounts'].some((kind) => count(kind) < MIN_ACKS); run += 1) {
      expect(run, 'runs needed to reach the acknowledged writes').toBeLessThan(400);
      // from just after start-up (connecting, no write yet) to well into the writes
      const outcome = await runWriter({ ...env, RUN: String(run) }, 150 + Math.floor(random() * 900));
      acks.push(...outcome.acks);
      if (outcome.killed) kills += 1;
    }
    await runWriter({ ...env, RUN: '0' }, undefined, ['drain']);

    // a gated write is all or nothing: an order without its line (or the reverse) would differ
    const gated = await reconcile({ source: { pool: legacy, table: 'gated_orders' }, target: { pool: legacy, query: 'select order_id as id, amount from gated_order_lines' } });
    expect(gated.differences).toEqual([]);
    expect(gated.equal).toBe(true);
    expect(gated.source.rowsChecked).toBe(gated.source.rows);
    // the new path's failure for every seventh write left nothing of it behind
    const failedNewPaths = await legacy.query<{ count: string }>('select count(*) from gated_orders where (id % 1000000) % 7 = 0');
    expect(Number(failedNewPaths.rows[0]!.count)).toBe(0);

    const customers = await reconcile({ source: { pool: legacy, query: 'select id, name as full_name, lower(email) as email_lower from customers_v1' }, target: { pool: legacy, table: 'customers_v2' } });
    expect(customers.differences).toEqual([]);
    const accounts = await reconcile({ source: { pool: legacy, query: 'select id, (balance_cents::numeric / 100)::numeric(14, 2) as balance from accounts_v1' }, target: { pool: next, table: 'accounts_v2' } });
    expect(accounts.differences).toEqual([]);
    expect(accounts.source.rows).toBeGreaterThan(0);

    // every acknowledged write is there, on the path it was acknowledged for
    const present = async (pool: pg.Pool, table: string, column = 'id') => new Set((await pool.query<{ id: string }>(`select ${column} as id from ${table}`)).rows.map((row) => Number(row.id)));
    const [newOrders, legacyOrders, customerIds, accountIds] = await Promise.all([present(legacy, 'gated_orders'), present(legacy, 'legacy_orders'), present(legacy, 'customers_v2'), present(next, 'accounts_v2')]);
    const lost = acks.filter((ack) => {
      if (ack.kind === 'gate') return !(ack.path === 'new' ? newOrders : legacyOrders).has(ack.id);
      return !(ack.kind === 'customers' ? customerIds : accountIds).has(ack.id);
    });
    expect(lost).toEqual([]);
    expect(acks.some((ack) => ack.kind === 'gate' && ack.path === 'legacy')).toBe(true);
    expect(kills).toBeGreaterThanOrEqual(MIN_KILLS);
  }, 300_000);
});
