import type pg from 'pg';

const ignore = (): void => undefined;

/**
 * `pool.connect()` for code that holds a client across several queries. pg reports a broken connection
 * twice: it rejects the query in flight and it emits 'error' on the client, and pg-pool takes its own
 * listener off while the client is checked out. Without one, a reset between two queries of a
 * transaction crashes the whole process. The rejection is where the failure is handled; the pool drops
 * the dead client when it comes back (it is no longer queryable), so the listener only has to exist.
 */
export async function checkOut(pool: pg.Pool): Promise<pg.PoolClient> {
  const client = await pool.connect();
  client.on('error', ignore);
  const release = client.release.bind(client);
  client.release = (error?: Error | boolean) => {
    client.removeListener('error', ignore);
    release(error);
  };
  return client;
}
