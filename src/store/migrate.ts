import { createHash } from 'node:crypto';
import type pg from 'pg';
import { PromoteError, wrapError } from '../errors.js';
import { appendEvent } from './events.js';
import { storeMigrations, type StoreMigration } from './schema/index.js';

/** All store tables live in their own schema, so the store can share a database with the app. */
export const STORE_SCHEMA = 'promote';
// any constant works; it only has to be the same in every Promote process
const MIGRATION_LOCK_KEY = 0x70726f6d; // "prom"

export interface AppliedMigration {
  version: number;
  name: string;
  checksum: string;
}

export function checksumOf(migration: StoreMigration): string {
  return createHash('sha256').update(migration.sql).digest('hex');
}

/**
 * Brings the store schema up to date. A session advisory lock serialises concurrent starts; each
 * migration and its history row commit in one transaction, so a process killed half-way leaves the
 * schema at the previous version and the next start simply continues.
 */
export async function migrateStore(pool: pg.Pool, migrations: readonly StoreMigration[] = storeMigrations): Promise<AppliedMigration[]> {
  const client = await pool.connect();
  try {
    await client.query('select pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    try {
      await client.query(`create schema if not exists ${STORE_SCHEMA}`);
      await client.query(`create table if not exists ${STORE_SCHEMA}.store_migrations (
        version integer primary key,
        name text not null,
        checksum text not null,
        applied_at timestamptz not null default now()
      )`);
      const applied = await appliedMigrations(client);
      assertHistoryMatches(applied, migrations);
      const newlyApplied: AppliedMigration[] = [];
      // an upgrade of a store in use is a change to record; a store being created has no trail yet to record in
      const upgrading = applied.length > 0;
      for (const migration of migrations) {
        if (applied.some((row) => row.version === migration.version)) continue;
        await applyOne(client, migration, upgrading);
        newlyApplied.push({ version: migration.version, name: migration.name, checksum: checksumOf(migration) });
      }
      return newlyApplied;
    } finally {
      await client.query('select pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => undefined);
    }
  } catch (error) {
    if (error instanceof PromoteError) throw error;
    throw wrapError('migrating the state store schema', error);
  } finally {
    client.release();
  }
}

export async function appliedMigrations(client: pg.PoolClient | pg.Pool): Promise<AppliedMigration[]> {
  const result = await client.query<AppliedMigration>(`select version, name, checksum from ${STORE_SCHEMA}.store_migrations order by version`);
  return result.rows;
}

function assertHistoryMatches(applied: AppliedMigration[], migrations: readonly StoreMigration[]): void {
  for (const row of applied) {
    const known = migrations.find((migration) => migration.version === row.version);
    if (!known) {
      throw new PromoteError(`the state store schema is at version ${row.version} (${row.name}), newer than this Promote knows (${migrations.at(-1)?.version ?? 0})`, {
        hint: 'upgrade Promote; an older version must not write to a newer store',
      });
    }
    if (checksumOf(known) !== row.checksum) {
      throw new PromoteError(`state store migration ${row.version} (${row.name}) was changed after it was applied (checksum ${row.checksum.slice(0, 12)} recorded, ${checksumOf(known).slice(0, 12)} now)`);
    }
  }
}

async function applyOne(client: pg.PoolClient, migration: StoreMigration, record: boolean): Promise<void> {
  try {
    await client.query('begin');
    await client.query(`set local search_path to ${STORE_SCHEMA}`);
    await client.query(migration.sql);
    await client.query(`insert into ${STORE_SCHEMA}.store_migrations (version, name, checksum) values ($1, $2, $3)`, [migration.version, migration.name, checksumOf(migration)]);
    if (record) await appendEvent(client, { type: 'store.migrated', actor: 'promote', data: { version: migration.version, name: migration.name, checksum: checksumOf(migration) } });
    await client.query('commit');
  } catch (error) {
    await client.query('rollback').catch(() => undefined);
    throw wrapError(`applying state store migration ${migration.version} (${migration.name})`, error);
  }
}
