import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import { afterFile } from './cleanup.js';
import { migrateStore } from '../../src/store/migrate.js';

export interface TestDatabase {
  url: string;
  name: string;
}

/**
 * Creates an empty database for the calling test file on the run's server and drops it after the
 * file's tests, so test files can run in parallel without seeing each other's rows.
 */
export async function createTestDatabase(): Promise<TestDatabase> {
  const adminUrl = inject('adminDatabaseUrl');
  const name = `promote_test_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`create database ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  afterFile(`dropping database ${name}`, async () => {
    const client = new pg.Client({ connectionString: adminUrl });
    await client.connect();
    try {
      await client.query(`drop database if exists ${name} with (force)`);
    } finally {
      await client.end();
    }
  });
  return { url: url.toString(), name };
}

/** A fresh database with the store schema applied, and a pool on it closed after the file's tests. */
export async function createStorePool(options: { max?: number } = {}): Promise<{ pool: pg.Pool; url: string }> {
  const { url } = await createTestDatabase();
  const pool = new pg.Pool({ connectionString: url, max: options.max ?? 12 });
  // the database is dropped WITH (FORCE) after the file: a client still closing then is terminated by the
  // server, which is the cleanup working, not a failure of the tests
  pool.on('error', (error) => {
    if ((error as { code?: string }).code !== '57P01') throw error;
  });
  afterFile('closing the store pool', async () => pool.end());
  await migrateStore(pool);
  return { pool, url };
}

/**
 * An app's database for rollout tests: a `users` table of `rows` named users (id, name), a pool on it
 * closed after the file, and the columns of `users` in order (what a migration added or dropped).
 */
export async function createUsersDatabase(rows: number): Promise<{ url: string; pool: pg.Pool; userColumns: () => Promise<string[]> }> {
  const { url } = await createTestDatabase();
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  afterFile('closing the app database pool', () => pool.end());
  await pool.query('create table users (id serial primary key, name text not null)');
  await pool.query(`insert into users (name) select 'User ' || n from generate_series(1, $1::int) n`, [rows]);
  const userColumns = async () =>
    (await pool.query<{ column_name: string }>(`select column_name from information_schema.columns where table_schema = 'public' and table_name = 'users' order by ordinal_position`)).rows.map((row) => row.column_name);
  return { url, pool, userColumns };
}
