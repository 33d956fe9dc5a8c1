/**
 * How an app's connections choose the schema version they read and write during a migration.
 *
 * Between start and complete two versions of the schema live at once; each version's views are in
 * its version schema (e.g. `public_02_add_email`), and the dual-write triggers need to know which
 * version a write comes from. A connection says so with two settings: `search_path` (which views its
 * queries see) and `promote.version` (which version its writes count as; the triggers read it first
 * and fall back to the first schema on the search_path, as pgroll does).
 *
 * A session-wide `SET` is lost behind a transaction-pooling proxy (PgBouncer in transaction mode
 * hands each transaction a different server connection), so these helpers set both settings per
 * transaction with `set_config(…, true)`, which holds for exactly that transaction wherever it runs.
 * For direct connections and session pooling, `versionConnectionOptions` puts them in the startup
 * packet instead, where they hold for the whole session.
 */
import type pg from 'pg';
import { checkOut } from '../system/pool-checkout.js';

/** The environment variable a Promote process target sets to the version schema of the release it runs. */
export const SCHEMA_VERSION_ENV = 'PROMOTE_SCHEMA_VERSION';

export interface SchemaVersion {
  /** the version schema, e.g. `public_02_add_email`; undefined for the app's own schema (no migration yet) */
  versionSchema: string | undefined;
  /** schemas searched after the version schema, for functions and types; default `public` */
  fallback?: string[];
}

/** The schema version this process was started for, from PROMOTE_SCHEMA_VERSION. */
export function schemaVersionFromEnv(env: Record<string, string | undefined> = process.env): SchemaVersion {
  const value = env[SCHEMA_VERSION_ENV]?.trim();
  return { versionSchema: value === undefined || value === '' ? undefined : value };
}

function searchPath(version: SchemaVersion): string {
  const fallback = version.fallback ?? ['public'];
  return [...(version.versionSchema === undefined ? [] : [version.versionSchema]), ...fallback].map(quoteIdentifier).join(', ');
}

/** Runs `work` in one transaction whose queries use the version's shape and whose writes count as that version's. */
export async function inSchemaVersion<T>(pool: pg.Pool, version: SchemaVersion, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await checkOut(pool);
  let broken: Error | undefined;
  try {
    await client.query('begin');
    try {
      await client.query(`select set_config('search_path', $1, true), set_config('promote.version', $2, true)`, [searchPath(version), version.versionSchema ?? '']);
      const result = await work(client);
      await client.query('commit');
      return result;
    } catch (error) {
      await client.query('rollback').catch((rollbackError: unknown) => {
        broken = rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError));
      });
      throw error;
    }
  } finally {
    client.release(broken);
  }
}

/** `options` for a connection string or pg's `options` setting: the version for a whole session. */
export function versionConnectionOptions(version: SchemaVersion): string {
  const escape = (value: string) => value.replace(/[\\ ]/g, (character) => `\\${character}`);
  return `-c search_path=${escape(searchPath(version))} -c promote.version=${escape(version.versionSchema ?? '')}`;
}

function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
