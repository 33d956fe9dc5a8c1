/**
 * A database for migration tests, with clients that stand for the two versions of an app: one whose
 * search_path is the app's schema (the old version, before any version schema) and one per version
 * schema. Closed after the file's tests.
 */
import pg from 'pg';
import { afterFile } from './cleanup.js';
import { createTestDatabase } from './database.js';
import { parseMigration, formatMigrationProblem, type Migration } from '../../src/migrations/file.js';
import { ident } from '../../src/migrations/sql.js';

export interface MigrationDatabase {
  pool: pg.Pool;
  url: string;
  /** a client whose search_path starts with the schema (a version schema, or `public` for the old app) */
  clientFor(searchPath: string): Promise<pg.Client>;
  /** an empty `public` again: every version schema and Promote's migration state dropped, then `setup` run */
  reset(setup?: string): Promise<void>;
}

export async function createMigrationDatabase(): Promise<MigrationDatabase> {
  const { url } = await createTestDatabase();
  const pool = new pg.Pool({ connectionString: url, max: 6 });
  const clients: pg.Client[] = [];
  afterFile('closing the migration test connections', async () => {
    await Promise.all(clients.map((client) => client.end().catch(() => undefined)));
    await pool.end();
  });
  return {
    pool,
    url,
    async clientFor(searchPath) {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      clients.push(client);
      await client.query(`set search_path = ${searchPath.split(',').map((name) => ident(name.trim())).join(', ')}`);
      return client;
    },
    async reset(setup) {
      const versions = await pool.query<{ name: string }>(`select nspname as name from pg_namespace where nspname like 'public\\_%'`);
      const drops = versions.rows.map((row) => `drop schema ${ident(row.name)} cascade;`).join(' ');
      await pool.query(`${drops} drop schema if exists public cascade; drop schema if exists promote_migrate cascade; create schema public`);
      if (setup !== undefined) await pool.query(setup);
    },
  };
}

/** A migration from YAML text, named as its file would be; fails the test with the file's problems. */
export function migrationFrom(name: string, yaml: string): Migration {
  const loaded = parseMigration(yaml, `${name}.yaml`);
  if (!loaded.ok) throw new Error(loaded.problems.map(formatMigrationProblem).join('\n'));
  return loaded.migration;
}
