/**
 * Whether PostgreSQL can add a column with this default without rewriting the table: it can when
 * the default is not volatile, and then stores it once as the column's "missing" value. Asking the
 * server is the only exact answer (the volatility of a function call depends on the catalog), so
 * the column is tried on an empty temporary table in a transaction that is always rolled back.
 */
import type pg from 'pg';
import { wrapError } from '../../errors.js';

export async function defaultIsCheap(pool: pg.Pool, type: string, expression: string): Promise<boolean> {
  let client: pg.PoolClient;
  try {
    client = await pool.connect();
  } catch (error) {
    throw wrapError('connecting to check a column default', error);
  }
  try {
    await client.query('begin');
    try {
      await client.query('create temporary table _promote_fast_default (id int) on commit drop');
      await client.query('insert into _promote_fast_default values (1)');
      await client.query(`alter table _promote_fast_default add column probe ${type} default ${expression}`);
      const result = await client.query<{ missing: boolean }>(
        `select atthasmissing as missing from pg_attribute where attrelid = '_promote_fast_default'::regclass and attname = 'probe'`,
      );
      return result.rows[0]?.missing === true;
    } finally {
      await client.query('rollback');
    }
  } catch (error) {
    throw wrapError(`checking whether the default ${expression} of type ${type} can be added without rewriting the table`, error);
  } finally {
    client.release();
  }
}
