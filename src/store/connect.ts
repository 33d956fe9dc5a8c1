import pg from 'pg';
import { PromoteError, describeCause } from '../errors.js';

/** Enough for a slow network, short enough that a wrong DATABASE_URL fails well inside 10 s. */
export const CONNECT_TIMEOUT_MS = 7_000;

export interface DatabaseTarget {
  host: string;
  port: string;
  database: string;
}

export function describeTarget(url: string): DatabaseTarget {
  try {
    const parsed = new URL(url);
    return { host: parsed.hostname || 'localhost', port: parsed.port || '5432', database: decodeURIComponent(parsed.pathname.slice(1)) || '(default)' };
  } catch {
    throw new PromoteError('the database URL is not a valid URL', {
      hint: 'expected postgres://user:password@host:5432/database',
      exitCode: 2,
    });
  }
}

export function assertPostgresUrl(url: string, source: string): void {
  const target = describeTarget(url);
  const protocol = new URL(url).protocol;
  if (protocol !== 'postgres:' && protocol !== 'postgresql:') {
    throw new PromoteError(`${source} must be a postgres:// or postgresql:// URL, got a ${protocol} URL for ${target.host}`, { exitCode: 2 });
  }
}

/** Opens a pool and proves it works with one round trip, naming the server and the reason on failure. */
export async function openPool(url: string, options: { applicationName?: string; max?: number } = {}): Promise<pg.Pool> {
  const target = describeTarget(url);
  const pool = new pg.Pool({
    connectionString: url,
    application_name: options.applicationName ?? 'promote',
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    max: options.max ?? 10,
  });
  // an idle client losing its connection must not crash the process; the next query reports it
  pool.on('error', () => undefined);
  try {
    await pool.query('select 1');
    return pool;
  } catch (error) {
    await pool.end().catch(() => undefined);
    throw new PromoteError(`could not connect to the state store at ${target.host}:${target.port} (database ${target.database}): ${connectReason(error)}`, {
      cause: error,
      hint: 'check DATABASE_URL (or --database-url); without one, Promote starts its own embedded PostgreSQL',
    });
  }
}

function connectReason(error: unknown): string {
  const text = describeCause(error);
  if (/timeout/i.test(text)) return `no answer within ${CONNECT_TIMEOUT_MS / 1000} s (${text})`;
  return text;
}
