import pg from 'pg';
import { wrapError } from '../../errors.js';
import { ident } from '../../migrations/sql.js';

/**
 * Runs `work` in a READ ONLY transaction with a statement timeout on a connection of its own: a check
 * can read anything and change nothing, and a slow one gives up instead of holding the rollout.
 */
export async function readOnly<T>(url: string, timeoutMs: number, doing: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, application_name: 'promote-verify', connectionTimeoutMillis: 10_000 });
  client.on('error', () => undefined); // a dropped connection fails the query below, which says what it was doing
  try {
    await client.connect();
  } catch (error) {
    throw wrapError(`connecting to the app database for ${doing}`, error);
  }
  try {
    await client.query('begin transaction isolation level repeatable read read only');
    await client.query(`set local statement_timeout = ${Math.max(1, Math.round(timeoutMs))}`);
    const result = await work(client);
    await client.query('commit');
    return result;
  } catch (error) {
    await client.query('rollback').catch(() => undefined);
    throw wrapError(doing, error);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** `name` or `schema.name` as a quoted SQL name; a name already quoted is taken as written. */
export function tableName(name: string): string {
  return name.includes('"') ? name : name.split('.').map(ident).join('.');
}

export function columnName(name: string): string {
  return name.includes('"') ? name : ident(name);
}
