/**
 * Network faults between the app and PostgreSQL: the demo's orders service reaches its database
 * through the seeded fault proxy while steady load runs. Latency slows it and fails nothing; resets
 * and an outage fail requests (as they must: the database is gone for them) but never an
 * acknowledged write: every order the service said it stored is in the database as acknowledged.
 * Once the faults are cleared the service answers everything again, by itself.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { startLoad } from '../../src/demo/load.js';
import { startOrdersService, type OrdersService } from '../../src/demo/orders-service.js';
import { setupOrdersDatabase } from '../../src/demo/schema.js';
import { afterFile } from '../helpers/cleanup.js';
import { createTestDatabase } from '../helpers/database.js';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js';

let pool: pg.Pool;
let proxy: FaultProxy;
let service: OrdersService;

beforeAll(async () => {
  const { url } = await createTestDatabase();
  pool = new pg.Pool({ connectionString: url, max: 2 });
  afterFile('closing the orders pool', () => pool.end());
  await setupOrdersDatabase(pool, { seedOrders: 200 });
  const target = new URL(url);
  proxy = await startFaultProxy({ target: { host: target.hostname, port: Number(target.port) }, seed: 20261123 });
  service = await startOrdersService({ databaseUrl: proxy.through(url), release: '1.0.0', port: 0, poolSize: 4, logLevel: 'silent' });
  afterFile('stopping the orders service', () => service.close());
});

describe('faults between the app and PostgreSQL', () => {
  it('latency fails nothing; resets and an outage fail requests but lose no acknowledged write; the service recovers by itself', async () => {
    const load = startLoad({ baseUrl: service.url, users: 10, rate: 150, seed: 11, phase: 'clean', timeoutMs: 5_000 });
    await sleep(1_500);
    load.phase('latency');
    await proxy.set({ latency: { ms: 40, jitterMs: 20, direction: 'both' } });
    await sleep(2_000);
    // a request counts in the phase it started in: let the latency phase's last ones finish before
    // the resets begin, or a reset lands on a request counted as latency's
    load.phase('resets');
    await sleep(1_000);
    await proxy.set({ reset: { probability: 0.5, afterBytes: 4_000 } });
    await sleep(2_000);
    load.phase('outage');
    await proxy.set({ down: true });
    await sleep(1_000);
    await proxy.clear();
    // the pool finds its broken connections on their next use and replaces them
    load.phase('settling');
    await sleep(1_000);
    load.phase('recovered');
    await sleep(2_000);
    const report = await load.stop();
    const phase = (name: string) => report.phases.find((each) => each.name === name)!;
    const details = (name: string) => `${name}: ${JSON.stringify(phase(name).failures)} ${phase(name).failureSamples.join('; ')}`;

    expect(phase('clean').failed, details('clean')).toBe(0);
    expect(phase('latency').failed, details('latency')).toBe(0);
    expect(phase('latency').latencyMs.p50).toBeGreaterThan(phase('clean').latencyMs.p50);
    // the faults were real: connections were reset and refused, and requests failed for it
    expect(proxy.stats().faults.reset).toBeGreaterThan(0);
    expect(phase('resets').failed + phase('outage').failed).toBeGreaterThan(0);
    expect(Object.keys(phase('outage').failures)).toEqual(['HTTP 500']);
    expect(phase('recovered').failed, details('recovered')).toBe(0);
    expect(phase('recovered').requests).toBeGreaterThan(100);
    // nothing the service acknowledged was lost or changed, and no read contradicted the ledger
    expect(report.total.mismatches, report.total.mismatchSamples.join('\n')).toBe(0);
    const ledger = await load.verifyLedger(pool);
    expect(ledger.ok, ledger.summary).toBe(true);
    expect(ledger.checked).toBeGreaterThan(100);
  }, 60_000);
});
