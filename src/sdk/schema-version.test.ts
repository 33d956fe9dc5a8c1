import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { afterFile } from '../../test/helpers/cleanup.js';
import { createMigrationDatabase, migrationFrom, type MigrationDatabase } from '../../test/helpers/migrations.js';
import { startMigration } from '../migrations/runner.js';
import { inSchemaVersion, schemaVersionFromEnv, versionConnectionOptions } from './schema-version.js';

let db: MigrationDatabase;
const NEW = { versionSchema: 'public_02_split_name' };
const OLD = { versionSchema: undefined };

beforeAll(async () => {
  db = await createMigrationDatabase();
  await db.pool.query(`create table people (id serial primary key, name text not null); insert into people (name) values ('Ada Lovelace')`);
  const migration = migrationFrom(
    '02_split_name',
    `operations:
  - add_column:
      table: people
      up: split_part(name, ' ', 1)
      column: { name: first_name, type: text, nullable: true }
  - drop_column:
      table: people
      column: name
      down: first_name || ' (from the new version)'
`,
  );
  await startMigration(migration, { pool: db.pool });
});

describe('choosing the schema version per transaction', () => {
  it('keeps each version right on one shared connection, as behind a transaction pooler', async () => {
    // one server connection serves both versions in turn, as PgBouncer in transaction mode would
    const shared = new pg.Pool({ connectionString: db.url, max: 1 });
    afterFile('closing the shared pool', () => shared.end());
    await inSchemaVersion(shared, NEW, (client) => client.query(`insert into people (first_name) values ('Grace')`));
    await inSchemaVersion(shared, OLD, (client) => client.query(`insert into people (name) values ('Alan Turing')`));
    await inSchemaVersion(shared, NEW, (client) => client.query(`update people set first_name = 'Augusta' where first_name = 'Ada'`));

    const seenByOld = await inSchemaVersion(shared, OLD, (client) => client.query<{ name: string }>('select name from people order by id'));
    expect(seenByOld.rows.map((row) => row.name)).toEqual(['Augusta (from the new version)', 'Grace (from the new version)', 'Alan Turing']);
    const seenByNew = await inSchemaVersion(shared, NEW, (client) => client.query<{ first_name: string }>('select first_name from people order by id'));
    expect(seenByNew.rows.map((row) => row.first_name)).toEqual(['Augusta', 'Grace', 'Alan']);
  });

  it('a session whose startup options name the version reads and writes that version', async () => {
    const client = new pg.Client({ connectionString: db.url, options: versionConnectionOptions(NEW) });
    await client.connect();
    afterFile('closing the session client', () => client.end());
    await client.query(`insert into people (first_name) values ('Barbara')`);
    const row = await db.pool.query<{ name: string }>(`select name from public.people where name like 'Barbara%'`);
    expect(row.rows).toEqual([{ name: 'Barbara (from the new version)' }]);
  });

  it('reads the version from PROMOTE_SCHEMA_VERSION, and none when it is empty', () => {
    expect(schemaVersionFromEnv({ PROMOTE_SCHEMA_VERSION: 'public_02_split_name' })).toEqual(NEW);
    expect(schemaVersionFromEnv({ PROMOTE_SCHEMA_VERSION: ' ' })).toEqual(OLD);
  });
});
