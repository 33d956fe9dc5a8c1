import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { afterFile } from '../../test/helpers/cleanup.js';
import { createTestDatabase } from '../../test/helpers/database.js';
import { checkOut } from './pool-checkout.js';

let pool: pg.Pool;
let admin: pg.Pool;

beforeAll(async () => {
  const { url } = await createTestDatabase();
  pool = new pg.Pool({ connectionString: url, max: 2 });
  admin = new pg.Pool({ connectionString: url, max: 1 });
  afterFile('closing the pools', async () => {
    await pool.end();
    await admin.end();
  });
});

describe('checkOut', () => {
  it('survives the connection dying between two queries of a transaction: the next query fails, the process does not', async () => {
    const uncaught: unknown[] = [];
    const onUncaught = (error: unknown) => uncaught.push(error);
    process.on('uncaughtException', onUncaught);
    try {
      const client = await checkOut(pool);
      await client.query('begin');
      const { rows } = await client.query<{ pid: number }>('select pg_backend_pid() as pid');
      const ended = new Promise((resolve) => client.once('end', resolve));
      // the server ends the session while the client sits idle in its transaction, as a reset would
      await admin.query('select pg_terminate_backend($1)', [rows[0]!.pid]);
      await ended;
      await expect(client.query('select 1')).rejects.toThrow();
      client.release();
      expect(client.listenerCount('error')).toBeGreaterThan(0); // the pool's idle listener is back
      expect(uncaught).toEqual([]);
      // the dead client left the pool: the next checkout is a working connection
      const next = await checkOut(pool);
      expect((await next.query<{ one: number }>('select 1 as one')).rows[0]!.one).toBe(1);
      next.release();
    } finally {
      process.removeListener('uncaughtException', onUncaught);
    }
  });

  it('takes its listener off at release, so a long-lived pool does not collect listeners', async () => {
    const first = await checkOut(pool);
    const listeners = first.listenerCount('error');
    first.release();
    for (let round = 0; round < 20; round++) (await checkOut(pool)).release();
    const again = await checkOut(pool);
    expect(again.listenerCount('error')).toBeLessThanOrEqual(listeners);
    again.release();
  });
});
