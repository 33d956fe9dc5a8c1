import { createServer } from 'node:net';
import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { afterFile } from '../../test/helpers/cleanup.js';
import { createTestDatabase } from '../../test/helpers/database.js';
import { ROUTES, formatLoadReport, startLoad, type LoadReport, type PhaseReport } from './load.js';
import { startOrdersService, type OrdersService } from './orders-service.js';
import { setupOrdersDatabase } from './schema.js';

let url: string;
let pool: pg.Pool;
let v1: OrdersService;

beforeAll(async () => {
  url = (await createTestDatabase()).url;
  pool = new pg.Pool({ connectionString: url, max: 3 });
  afterFile('closing the orders pool', () => pool.end());
  await setupOrdersDatabase(pool, { seedOrders: 100 });
  v1 = await startOrdersService({ databaseUrl: url, release: '1.0.0', port: 0 });
  afterFile('stopping orders v1', () => v1.close());
});

/** Every count of a phase agrees with the others. */
function expectConsistent(phase: PhaseReport): void {
  expect(phase.ok + phase.failed).toBe(phase.requests);
  expect(Object.values(phase.failures).reduce((a, b) => a + b, 0)).toBe(phase.failed);
  expect(ROUTES.reduce((sum, route) => sum + phase.byRoute[route].requests, 0)).toBe(phase.requests);
  expect(ROUTES.reduce((sum, route) => sum + phase.byRoute[route].failed, 0)).toBe(phase.failed);
  expect(phase.latencyMs.count).toBe(phase.requests);
  if (phase.requests > 0) {
    expect(phase.latencyMs.p50).toBeGreaterThan(0);
    expect(phase.latencyMs.p50).toBeLessThanOrEqual(phase.latencyMs.p99);
    expect(phase.latencyMs.p99).toBeLessThanOrEqual(phase.latencyMs.max);
  }
}

function expectPhasesAddUp(report: LoadReport): void {
  for (const phase of [...report.phases, report.total]) expectConsistent(phase);
  const sum = (pick: (phase: PhaseReport) => number) => report.phases.reduce((total, phase) => total + pick(phase), 0);
  expect(sum((phase) => phase.requests)).toBe(report.total.requests);
  expect(sum((phase) => phase.failed)).toBe(report.total.failed);
  expect(sum((phase) => phase.acknowledged.created)).toBe(report.total.acknowledged.created);
  expect(sum((phase) => phase.acknowledged.cancelled)).toBe(report.total.acknowledged.cancelled);
  for (const route of ROUTES) expect(sum((phase) => phase.byRoute[route].requests)).toBe(report.total.byRoute[route].requests);
}

describe('load generator against the orders service', () => {
  it('at steady state: no failures, no mismatches, counters add up across two phases, every route used, the ledger verified in the database', async () => {
    const load = startLoad({ baseUrl: v1.url, users: 12, rate: 300, seed: 42, userPrefix: 'steady' });
    expect(load.currentPhase).toBe('steady');
    await load.waitForRequests(600, 20_000);
    load.phase('second');
    expect(load.currentPhase).toBe('second');
    await load.waitForRequests(1200, 20_000);
    const report = await load.stop();

    expect(report.phases.map((phase) => phase.name)).toEqual(['steady', 'second']);
    expect(report.phases[0]!.endedAt).not.toBeNull();
    expect(report.inFlight).toBe(0);
    expect(report.total.requests).toBeGreaterThanOrEqual(1200);
    expect(report.total.failed, formatLoadReport(report)).toBe(0);
    expect(report.total.mismatches, report.total.mismatchSamples.join('\n')).toBe(0);
    expectPhasesAddUp(report);
    for (const route of ROUTES) expect(report.total.byRoute[route].requests, route).toBeGreaterThan(0);
    // paced: near the target rate, never far above it
    expect(report.total.rate).toBeGreaterThan(120);
    expect(report.total.rate).toBeLessThan(340);

    const ledger = load.ledger();
    expect(ledger.length).toBe(report.total.acknowledged.created);
    expect(report.ledger).toEqual({ orders: ledger.length, cancelled: report.total.acknowledged.cancelled, uncertain: 0 });
    expect(new Set(ledger.map((entry) => entry.id)).size).toBe(ledger.length);
    const inDatabase = await pool.query(`select count(*)::int as n from orders where user_id like 'steady-%'`);
    expect(inDatabase.rows[0]).toEqual({ n: ledger.length });

    const verification = await load.verifyLedger(pool);
    expect(verification.summary).toBe(`all ${ledger.length} acknowledged orders are in the base tables as acknowledged`);
    expect(verification).toMatchObject({ ok: true, checked: ledger.length, missing: [], problems: [] });
    // a second generator after stop: stopping again is the same report, and a new phase is refused
    expect(await load.stop()).toEqual(report);
    expect(() => load.phase('late')).toThrow(/stopped/);
  });

  it('verifyLedger finds an order deleted behind its back, a line changed and a status flipped', async () => {
    const load = startLoad({ baseUrl: v1.url, users: 4, rate: 200, seed: 9, userPrefix: 'victim', mix: { create: 1, get: 0, list: 0, cancel: 0, stats: 0 } });
    await load.waitForRequests(40, 20_000);
    await load.stop();
    const ledger = load.ledger();
    expect(ledger.length).toBeGreaterThanOrEqual(40);
    expect((await load.verifyLedger(pool, { chunk: 7 })).ok).toBe(true);

    const [deleted, changed, flipped] = ledger;
    await pool.query('delete from order_lines where order_id = $1', [deleted!.id]);
    await pool.query('delete from orders where id = $1', [deleted!.id]);
    await pool.query('update order_lines set qty = qty + 1 where order_id = $1 and line_no = 1', [changed!.id]);
    await pool.query(`update orders set status = 'cancelled' where id = $1`, [flipped!.id]);

    const verification = await load.verifyLedger(pool, { chunk: 7 });
    expect(verification.ok).toBe(false);
    expect(verification.checked).toBe(ledger.length);
    expect(verification.missing).toEqual([deleted!.id]);
    expect(verification.problems.map((problem) => [problem.id, problem.field])).toEqual([
      [changed!.id, 'items'],
      [flipped!.id, 'status'],
    ]);
    expect(verification.summary).toContain(`3 of ${ledger.length} acknowledged orders are wrong in the base tables: missing ${deleted!.id}; order ${changed!.id} items is`);
  });

  it('reads that contradict the ledger count as mismatches: notes rewritten behind the users\' backs while they read their orders', async () => {
    const load = startLoad({ baseUrl: v1.url, users: 4, rate: 200, seed: 11, userPrefix: 'reader', mix: { create: 1, get: 2, list: 1, cancel: 0, stats: 0 } });
    await load.waitForRequests(60, 20_000);
    await pool.query(`update orders set note = 'rewritten' where user_id like 'reader-%'`);
    const before = load.report().total.requests;
    await load.waitForRequests(before + 60, 20_000);
    const report = await load.stop();
    expect(report.total.failed).toBe(0);
    expect(report.total.mismatches).toBeGreaterThan(0);
    expect(report.total.mismatchSamples.length).toBeLessThanOrEqual(10);
    expect(report.total.mismatchSamples[0]).toMatch(/^GET \/orders(\/\d+|\?user=): order \d+ note "rewritten" \(acknowledged (null|"note .*")\)$/);
    const { problems } = await load.verifyLedger(pool);
    expect(problems.length).toBeGreaterThan(0);
    expect(problems.every((problem) => problem.field === 'note' && problem.actual === 'rewritten')).toBe(true);
  });

  it('failures are counted by status and by error code: injected 500s on GET /orders/:id only, and a refused connection', async () => {
    const faulty = await startOrdersService({ databaseUrl: url, release: '1.0.1', port: 0, errorRate: 0.2, errorSeed: 5 });
    afterFile('stopping the faulty orders service', () => faulty.close());
    const load = startLoad({ baseUrl: faulty.url, users: 8, rate: 400, seed: 3, userPrefix: 'faulty', mix: { create: 1, get: 3, list: 1, cancel: 0, stats: 0 } });
    await load.waitForRequests(800, 20_000);
    const report = await load.stop();
    expectPhasesAddUp(report);
    const gets = report.total.byRoute.get;
    expect(Object.keys(report.total.failures)).toEqual(['HTTP 500']);
    expect(report.total.failed).toBe(gets.failed);
    expect(report.total.byRoute.create.failed + report.total.byRoute.list.failed).toBe(0);
    expect(gets.failed / gets.requests).toBeGreaterThan(0.12);
    expect(gets.failed / gets.requests).toBeLessThan(0.28);
    expect(faulty.counters.injectedErrors).toBe(gets.failed);
    expect(report.total.mismatches).toBe(0);
    expect((await load.verifyLedger(pool)).ok).toBe(true);

    // a port nobody listens on
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    await new Promise((resolve) => server.close(resolve));
    const refused = startLoad({ baseUrl: `http://127.0.0.1:${port}`, users: 2, rate: 100, seed: 1 });
    await refused.waitForRequests(20, 20_000);
    const failed = await refused.stop();
    expectPhasesAddUp(failed);
    expect(failed.total.ok).toBe(0);
    expect(failed.total.failures).toEqual({ ECONNREFUSED: failed.total.requests });
    expect(refused.ledger()).toEqual([]);
  });
});
