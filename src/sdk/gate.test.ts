import pg from 'pg';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { afterFile } from '../../test/helpers/cleanup.js';
import { createTestDatabase } from '../../test/helpers/database.js';
import { createGate, type GateOptions } from './gate.js';

let pool: pg.Pool;
beforeAll(async () => {
  const { url } = await createTestDatabase();
  pool = new pg.Pool({ connectionString: url, max: 10 });
  pool.on('error', () => undefined); // connections the gate closes on a timeout, and the drop after the file
  afterFile('closing the app pool', async () => pool.end());
  await pool.query(`create table orders (id int primary key, amount int not null);
    create table order_lines (order_id int not null, amount int not null);
    create table parents (id int primary key);
    create table children (id int primary key, parent int not null references parents (id) deferrable initially deferred);
    create table tickets (n int not null)`);
});
beforeEach(async () => {
  await pool.query('truncate orders, order_lines, children, parents, tickets');
});

const count = async (table: string) => Number((await pool.query<{ n: string }>(`select count(*) as n from ${table}`)).rows[0]!.n);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const recorder = () => {
  const counts = new Map<string, number>();
  return { counts, count: (name: string, n = 1) => void counts.set(name, (counts.get(name) ?? 0) + n), observe: () => undefined };
};

/** The flags are not under test here: a one-method object stands in for the flags client. */
function setup(overrides: Partial<GateOptions> = {}, flag = { on: true, revision: 1 }) {
  const reporter = recorder();
  const failures: Error[] = [];
  const gate = createGate({
    flags: { isEnabled: () => flag.on, revision: () => flag.revision },
    pool,
    reporter,
    onFailure: (error) => failures.push(error),
    ...overrides,
  });
  return { gate, reporter, failures, flag };
}

const insertOrder = (id: number) => async (client: pg.PoolClient) => {
  await client.query('insert into orders values ($1, $2)', [id, 10]);
  await client.query('insert into order_lines values ($1, $2)', [id, 10]);
  return 'new';
};
const legacy = () => Promise.resolve('legacy');

describe('the gate', () => {
  it('commits the new path when the flag is on', async () => {
    const { gate, reporter, failures } = setup();
    let legacyCalls = 0;
    expect(await gate('new-orders', { userId: 'u1' }, insertOrder(1), () => Promise.resolve(`legacy ${++legacyCalls}`))).toBe('new');
    expect(legacyCalls).toBe(0);
    expect(await count('orders')).toBe(1);
    expect(await count('order_lines')).toBe(1);
    expect(failures).toEqual([]);
    expect(reporter.counts.get('gate.success')).toBe(1);
    expect(gate.stats()).toMatchObject({ success: 1, failure: 0, legacy: 0 });
  });

  it('flag off: only the legacy path runs; its error is the caller’s', async () => {
    const { gate } = setup({}, { on: false, revision: 1 });
    let newCalls = 0;
    const never = async () => {
      newCalls++;
      return Promise.resolve('new');
    };
    expect(await gate('new-orders', {}, never, legacy)).toBe('legacy');
    const boom = new Error('legacy broke');
    await expect(gate('new-orders', {}, never, () => Promise.reject(boom))).rejects.toBe(boom);
    expect(newCalls).toBe(0);
    expect(gate.stats().legacy).toBe(2);
  });

  it('a thrown error rolls the new path back, falls back to legacy and reports the failure', async () => {
    const { gate, reporter, failures } = setup();
    const result = await gate('new-orders', {}, async (client) => {
      await insertOrder(1)(client);
      throw new Error('pricing service said no');
    }, legacy);
    expect(result).toBe('legacy');
    expect(await count('orders')).toBe(0);
    expect(await count('order_lines')).toBe(0);
    expect(failures[0]!.message).toMatch(/gate new-orders: the new path failed and was rolled back: pricing service said no/);
    expect(reporter.counts.get('gate.failure')).toBe(1);
    expect(reporter.counts.get('gate.fallback')).toBe(1);
  });

  it('a legacy error after a failed new path still reaches the caller', async () => {
    const { gate } = setup();
    const boom = new Error('legacy broke too');
    await expect(gate('new-orders', {}, () => Promise.reject(new Error('new broke')), () => Promise.reject(boom))).rejects.toBe(boom);
  });

  it('a slow statement is cancelled by the statement timeout and rolled back', async () => {
    const { gate, failures } = setup({ timeoutMs: 300 });
    const started = performance.now();
    const result = await gate('new-orders', {}, async (client) => {
      await insertOrder(1)(client);
      await client.query('select pg_sleep(3)');
      return 'new';
    }, legacy);
    expect(result).toBe('legacy');
    expect(performance.now() - started).toBeLessThan(1500);
    expect(await count('orders')).toBe(0);
    // the server's statement_timeout and the budget's own timer fire together; whichever wins, it is the time budget
    expect(failures[0]!.message).toMatch(/^gate new-orders: the new path: timed out after \d+ ms; the transaction was rolled back, nothing was written/);
  });

  it('a new path stuck outside the database is abandoned at the overall timeout; nothing of it persists', async () => {
    const { gate, failures } = setup({ timeoutMs: 300 });
    let lateError: unknown;
    const started = performance.now();
    const result = await gate('new-orders', {}, async (client) => {
      await insertOrder(1)(client);
      await sleep(800);
      // too late: the gate closed this connection, so the write cannot happen or be committed
      await client.query('insert into orders values (2, 20)').catch((error: unknown) => (lateError = error));
      return 'new';
    }, legacy);
    expect(result).toBe('legacy');
    expect(performance.now() - started).toBeLessThan(1000);
    expect(failures[0]!.message).toMatch(/^gate new-orders: the new path: timed out after 300 ms; the transaction was rolled back, nothing was written/);
    await sleep(1000);
    expect(lateError).toBeInstanceOf(Error);
    expect(await count('orders')).toBe(0);
    expect(await count('order_lines')).toBe(0);
    expect(await gate('new-orders', {}, insertOrder(3), legacy)).toBe('new'); // the pool is fine afterwards
  });

  it('a commit that fails (a deferred foreign key) is rolled back and falls back', async () => {
    const { gate, failures } = setup();
    const result = await gate('new-orders', {}, async (client) => {
      await insertOrder(1)(client);
      await client.query('insert into children values (1, 42)'); // no parent 42: checked at commit
      return 'new';
    }, legacy);
    expect(result).toBe('legacy');
    expect(await count('orders')).toBe(0);
    expect(await count('children')).toBe(0);
    expect(failures[0]!.message).toMatch(/foreign key.*23503/);
  });

  /**
   * Two serializable transactions each read every ticket and add the next number: whichever commits
   * second read what the first wrote, a real serialization failure (40001). The first attempts wait
   * for each other after reading, so the conflict happens on every run.
   */
  async function ticketRace(retries: number) {
    const { gate, failures, reporter } = setup({ isolation: 'serializable', retries });
    let attempts = 0;
    let bothRead: () => void = () => undefined;
    const barrier = new Promise<void>((resolve) => (bothRead = resolve));
    let readers = 0;
    const takeTicket = async (client: pg.PoolClient) => {
      const first = attempts++ < 2;
      const { rows } = await client.query<{ n: number }>('select coalesce(max(n), 0) as n from tickets');
      if (first && ++readers === 2) bothRead();
      if (first) await barrier;
      await client.query('insert into tickets values ($1)', [rows[0]!.n + 1]);
      return `ticket ${rows[0]!.n + 1}`;
    };
    const results = await Promise.all([gate('tickets', {}, takeTicket, legacy), gate('tickets', {}, takeTicket, legacy)]);
    const tickets = (await pool.query<{ n: number }>('select n from tickets order by n')).rows.map((row) => row.n);
    return { results, tickets, attempts, failures, reporter, stats: gate.stats() };
  }

  it('retries a real serialization failure, which then succeeds', async () => {
    const { results, tickets, attempts, failures, reporter, stats } = await ticketRace(3);
    expect(results.sort()).toEqual(['ticket 1', 'ticket 2']);
    expect(tickets).toEqual([1, 2]);
    expect(attempts).toBe(3);
    expect(stats).toMatchObject({ success: 2, failure: 0, retries: 1 });
    expect(reporter.counts.get('gate.retry')).toBe(1);
    expect(failures).toEqual([]);
  });

  it('without retries the serialization failure falls back to legacy', async () => {
    const { results, tickets, failures, stats } = await ticketRace(0);
    expect(results.sort()).toEqual(['legacy', 'ticket 1']);
    expect(tickets).toEqual([1]);
    expect(stats).toMatchObject({ success: 1, failure: 1, retries: 0 });
    expect(failures[0]!.message).toMatch(/40001/);
  });

  it('kills the flag locally after the failures within the window; a newer revision with the flag on lifts it', async () => {
    const { gate, reporter, flag } = setup({ disableAfter: { failures: 2, withinMs: 150 } });
    const broken = () => Promise.reject(new Error('broken'));
    await gate('new-orders', {}, broken, legacy);
    await sleep(200); // the first failure leaves the window
    await gate('new-orders', {}, broken, legacy);
    expect(gate.killed('new-orders')).toBe(false);
    await gate('new-orders', {}, broken, legacy);
    expect(gate.killed('new-orders')).toBe(true);
    expect(reporter.counts.get('gate.disabled')).toBe(1);

    let newCalls = 0;
    const works = async (client: pg.PoolClient) => {
      newCalls++;
      return insertOrder(newCalls)(client);
    };
    expect(await gate('new-orders', {}, works, legacy)).toBe('legacy');
    expect(await gate('other-flag', {}, works, legacy)).toBe('new'); // only that flag is killed
    expect(gate.stats()).toMatchObject({ disabled: 1, killed: ['new-orders'], failure: 3 });
    flag.revision = 2;
    flag.on = false;
    expect(await gate('new-orders', {}, works, legacy)).toBe('legacy');
    flag.on = true; // a newer ruleset with the flag on: someone turned it on again
    expect(await gate('new-orders', {}, works, legacy)).toBe('new');
    expect(gate.killed('new-orders')).toBe(false);
    expect(newCalls).toBe(2);
  });

  it('a kill switch server that cannot be reached is reported; the local kill holds until the flag changes', async () => {
    const { gate, failures, reporter, flag } = setup({ disableAfter: { failures: 1, withinMs: 60_000 }, killSwitch: { url: 'http://127.0.0.1:9', token: 'shop:production.x' } });
    await gate('new-orders', {}, () => Promise.reject(new Error('broken')), legacy);
    expect(gate.killed('new-orders')).toBe(true);
    await expect.poll(() => failures.length, { timeout: 6000 }).toBe(2);
    expect(failures[1]!.message).toMatch(/could not turn flag new-orders off on the Promote server/);
    expect(reporter.counts.get('gate.kill_switch_failure')).toBe(1);
    expect(await gate('new-orders', {}, insertOrder(1), legacy)).toBe('legacy');
    flag.revision = 2;
    expect(await gate('new-orders', {}, insertOrder(1), legacy)).toBe('new');
  });

  it('refuses bad options naming the field', () => {
    expect(() => createGate({ flags: { isEnabled: () => true, revision: () => 1 }, pool, timeoutMs: 0 })).toThrow(/timeoutMs must be a positive/);
    expect(() => createGate({ flags: { isEnabled: () => true, revision: () => 1 }, pool, retries: -1 })).toThrow(/retries must be a whole number/);
    expect(() => createGate({ flags: { isEnabled: () => true, revision: () => 1 }, pool, isolation: 'chaos' as 'serializable' })).toThrow(/isolation must be one of/);
    expect(() => createGate({ flags: { isEnabled: () => true, revision: () => 1 }, pool, disableAfter: { failures: 0, withinMs: 1 } })).toThrow(/disableAfter.failures/);
  });
});
