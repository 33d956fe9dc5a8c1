import { beforeAll, describe, expect, it } from 'vitest';
import { createMigrationDatabase, migrationFrom, type MigrationDatabase } from '../../test/helpers/migrations.js';
import { completeMigration, rollbackMigration, startMigration } from './runner.js';
import { listRuns } from './state.js';

let db: MigrationDatabase;

beforeAll(async () => {
  db = await createMigrationDatabase();
});

const addEmail = migrationFrom(
  '02_add_email',
  `operations:
  - add_column:
      table: users
      up: lower(name) || '@example.com'
      column:
        name: email
        type: text
        nullable: false
`,
);

async function freshUsers(): Promise<void> {
  await db.reset();
  await db.pool.query(`create table users (id serial primary key, name text not null); insert into users (name) select 'User' || n from generate_series(1, 50) n`);
}

describe('a migration through start and complete', () => {
  it('lets the old and the new version write and read each other while both live, then keeps the new shape', async () => {
    await freshUsers();
    const outcome = await startMigration(addEmail, { pool: db.pool });
    expect(outcome.versionSchema).toBe('public_02_add_email');
    const oldApp = await db.clientFor('public');
    const newApp = await db.clientFor('public_02_add_email');

    const existing = await newApp.query('select email from users where id = 1');
    expect(existing.rows[0]).toEqual({ email: 'user1@example.com' });

    const fromOld = await oldApp.query<{ id: number }>(`insert into users (name) values ('Ada') returning id`);
    const fromNew = await newApp.query<{ id: number; email: string }>(`insert into users (name, email) values ('Bob', 'bob@new.example') returning id, email`);
    expect((await newApp.query('select email from users where id = $1', [fromOld.rows[0]?.id])).rows[0]).toEqual({ email: 'ada@example.com' });
    expect((await oldApp.query('select name from users where id = $1', [fromNew.rows[0]?.id])).rows[0]).toEqual({ name: 'Bob' });

    await oldApp.query(`update users set name = 'Ada Lovelace' where id = $1`, [fromOld.rows[0]?.id]);
    expect((await newApp.query('select email from users where id = $1', [fromOld.rows[0]?.id])).rows[0]).toEqual({ email: 'ada lovelace@example.com' });
    // the new version's own value is not overwritten by up when the new version updates the row
    await newApp.query(`update users set email = 'ada@new.example' where id = $1`, [fromOld.rows[0]?.id]);
    expect((await newApp.query('select email from users where id = $1', [fromOld.rows[0]?.id])).rows[0]).toEqual({ email: 'ada@new.example' });

    await completeMigration({ pool: db.pool });
    const columns = await db.pool.query(`select column_name, is_nullable from information_schema.columns where table_schema = 'public' and table_name = 'users' order by ordinal_position`);
    expect(columns.rows).toEqual([
      { column_name: 'id', is_nullable: 'NO' },
      { column_name: 'name', is_nullable: 'NO' },
      { column_name: 'email', is_nullable: 'NO' },
    ]);
    expect((await newApp.query('select count(*)::int as n from users where email is null')).rows[0]).toEqual({ n: 0 });
    await newApp.query(`insert into users (name, email) values ('Cy', 'cy@new.example')`);
    const runs = await listRuns(db.pool, 'public');
    expect(runs.map((run) => [run.name, run.phase])).toEqual([['02_add_email', 'completed']]);
  });

  it('rolls back to the table as it was, and a second rollback finds nothing in flight', async () => {
    await freshUsers();
    const before = await db.pool.query(`select column_name from information_schema.columns where table_schema = 'public' and table_name = 'users' order by ordinal_position`);
    await startMigration(addEmail, { pool: db.pool });
    await rollbackMigration({ pool: db.pool });
    const after = await db.pool.query(`select column_name from information_schema.columns where table_schema = 'public' and table_name = 'users' order by ordinal_position`);
    expect(after.rows).toEqual(before.rows);
    expect((await db.pool.query(`select count(*)::int as n from pg_namespace where nspname = 'public_02_add_email'`)).rows[0]).toEqual({ n: 0 });
    await expect(rollbackMigration({ pool: db.pool })).rejects.toThrow(/no migration is in flight/);
  });

  it('rolls back a start that fails half way and reports why', async () => {
    await freshUsers();
    const broken = migrationFrom(
      '03_broken',
      `operations:
  - add_column:
      table: users
      column: { name: age, type: int, nullable: true }
  - add_column:
      table: users
      up: no_such_function(name)
      column: { name: code, type: text, nullable: true }
  - create_table:
      name: orders
      columns: [{ name: id, type: serial, pk: true }, { name: user_id, type: int, references: { name: fk_user, table: nowhere, column: id } }]
`,
    );
    await expect(startMigration(broken, { pool: db.pool })).rejects.toThrow(/rolled back/);
    const columns = await db.pool.query(`select column_name from information_schema.columns where table_schema = 'public' and table_name = 'users' order by ordinal_position`);
    expect(columns.rows.map((row: { column_name: string }) => row.column_name)).toEqual(['id', 'name']);
    expect((await db.pool.query(`select to_regclass('public.orders') as t`)).rows[0]).toEqual({ t: null });
    const runs = await listRuns(db.pool, 'public');
    expect(runs.at(-1)?.phase).toBe('rolled_back');
    expect(runs.at(-1)?.error).toMatch(/nowhere/);
  });

  it('refuses an operation on a table that does not exist, naming the operation, before touching the database', async () => {
    await freshUsers();
    const missing = migrationFrom('04_missing', `operations:\n  - rename_column: { table: people, from: a, to: b }\n`);
    await expect(startMigration(missing, { pool: db.pool })).rejects.toThrow(/operations\[0\]\.rename_column: table "people" does not exist in schema "public" \(it has: users\)/);
    expect(await listRuns(db.pool, 'public')).toEqual([]);
  });
});
