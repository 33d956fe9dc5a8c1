/**
 * End to end: a gate whose new path keeps failing pulls the kill switch on a real Promote server, and
 * every instance's real flags client sees the flag go off; a human turning it on again lifts the
 * gate's local kill.
 */
import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { afterFile } from '../../test/helpers/cleanup.js';
import { createTestDatabase } from '../../test/helpers/database.js';
import { PRODUCTION, TOKEN, startServingFixture, waitFor } from '../../test/helpers/flag-serving.js';
import { enableFlag, flagHistory, putFlag } from '../flags/store.js';
import { createFlagsClient, type FlagsClient } from './flags.js';
import { createGate } from './gate.js';

describe('the gate and the kill switch, end to end', () => {
  let store: pg.Pool;
  let api: FastifyInstance;
  let base: string;
  let app: pg.Pool;
  const clients: FlagsClient[] = [];
  const flagsClient = async () => {
    const client = createFlagsClient({ url: base, token: TOKEN, reconnectMaxMs: 400, fetchTimeoutMs: 1000 });
    clients.push(client);
    expect(await client.ready()).toBe('server');
    return client;
  };
  beforeAll(async () => {
    ({ pool: store, api, base } = await startServingFixture());
    const { url } = await createTestDatabase();
    app = new pg.Pool({ connectionString: url, max: 4 });
    afterFile('closing the app pool', async () => app.end());
    await app.query('create table orders (id int primary key, amount int not null)');
    await putFlag(store, PRODUCTION, { name: 'new-orders', enabled: true, strategies: [{ name: 'default' }] }, { actor: 'test' });
  });
  afterAll(async () => {
    await Promise.all(clients.map((client) => client.close()));
    await api.close();
  });

  it('turns the flag off for everyone after repeated failures, records who and why, and follows a re-enable', async () => {
    const mine = await flagsClient();
    const elsewhere = await flagsClient(); // another instance of the app, which never failed
    const failures: Error[] = [];
    const gate = createGate({ flags: mine, pool: app, disableAfter: { failures: 3, withinMs: 60_000 }, killSwitch: { url: base, token: TOKEN, instance: 'web-7' }, onFailure: (error) => failures.push(error) });
    const legacy = () => Promise.resolve('legacy');
    let attempts = 0;
    const broken = async (client: pg.PoolClient) => {
      attempts++;
      await client.query('insert into orders values ($1, 1)', [attempts]);
      throw new Error('the new pricing rejects every order');
    };
    expect(elsewhere.isEnabled('new-orders', { userId: 'u1' })).toBe(true);
    for (let i = 0; i < 3; i++) expect(await gate('new-orders', { userId: 'u1' }, broken, legacy)).toBe('legacy');
    expect(gate.killed('new-orders')).toBe(true);
    // off here at once, before the server has even answered
    expect(await gate('new-orders', { userId: 'u1' }, broken, legacy)).toBe('legacy');
    expect(attempts).toBe(3);

    await waitFor(() => !elsewhere.isEnabled('new-orders', { userId: 'u1' }), 5000, 'the other instance seeing the flag off');
    await waitFor(() => !mine.isEnabled('new-orders', { userId: 'u1' }), 5000, "the gate's own flags client seeing the flag off");
    const [change] = await flagHistory(store, PRODUCTION, 'new-orders', { limit: 1 });
    expect(change).toMatchObject({ action: 'disabled', actor: 'sdk:web-7' });
    expect(change!.reason).toMatch(/gate: 3 failures of the new path within 60000 ms; the last: .*the new pricing rejects every order/);
    expect((await app.query('select count(*)::int as n from orders')).rows[0]).toEqual({ n: 0 });
    expect(failures).toHaveLength(3); // the kill switch itself worked: no failure of its own

    // still killed at the revision the server answered; a human turning the flag on lifts it
    expect(gate.killed('new-orders')).toBe(true);
    const revision = mine.revision()!;
    await enableFlag(store, PRODUCTION, 'new-orders', { actor: 'alice', reason: 'pricing fixed' });
    await waitFor(() => mine.revision()! > revision, 5000, 'the re-enabled ruleset');
    const works = async (client: pg.PoolClient) => {
      await client.query('insert into orders values (100, 1)');
      return 'new';
    };
    expect(await gate('new-orders', { userId: 'u1' }, works, legacy)).toBe('new');
    expect(gate.killed('new-orders')).toBe(false);
    expect(gate.stats()).toMatchObject({ success: 1, failure: 3, disabled: 1, killed: [] });
  });
});
