import type pg from 'pg';
import { wrapError } from '../errors.js';
import { STORE_SCHEMA } from './migrate.js';
import { storeMigrations } from './schema/index.js';

export interface StoreSchemaStatus {
  serverVersion: string;
  /** highest applied store migration, 0 for a database Promote never touched */
  schemaVersion: number;
  latestSchemaVersion: number;
  pendingMigrations: number;
}

/** Reads, never writes: `promote db status` must not change the store it reports on. */
export async function readStoreStatus(pool: pg.Pool): Promise<StoreSchemaStatus> {
  try {
    const server = await pool.query<{ server_version: string }>('show server_version');
    const table = await pool.query<{ exists: boolean }>('select to_regclass($1) is not null as exists', [`${STORE_SCHEMA}.store_migrations`]);
    let applied: number[] = [];
    if (table.rows[0]?.exists) {
      applied = (await pool.query<{ version: number }>(`select version from ${STORE_SCHEMA}.store_migrations`)).rows.map((row) => row.version);
    }
    const latest = storeMigrations.at(-1)?.version ?? 0;
    return {
      serverVersion: server.rows[0]?.server_version ?? 'unknown',
      schemaVersion: applied.length > 0 ? Math.max(...applied) : 0,
      latestSchemaVersion: latest,
      pendingMigrations: storeMigrations.filter((migration) => !applied.includes(migration.version)).length,
    };
  } catch (error) {
    throw wrapError('reading the state store status', error);
  }
}
