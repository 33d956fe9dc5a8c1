/**
 * A short-lived pool on the app's database for one migration command or rollout step: checked with
 * one query first, so a wrong URL fails with what Promote was doing, and always closed afterwards.
 */
import pg from 'pg';
import { wrapError } from '../errors.js';

export async function withAppDatabase<T>(url: string, doing: string, work: (pool: pg.Pool) => Promise<T>, onIdleError: (error: Error) => void = () => undefined): Promise<T> {
  const pool = new pg.Pool({ connectionString: url, max: 4 });
  // an idle connection that dies is replaced; the next query through it reports the failure
  pool.on('error', onIdleError);
  try {
    await pool.query('select 1');
  } catch (error) {
    await pool.end();
    throw wrapError(doing, error);
  }
  try {
    return await work(pool);
  } finally {
    await pool.end();
  }
}
