import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createMigrationDatabase, migrationFrom, type MigrationDatabase } from '../../../test/helpers/migrations.js';
import { completeMigration, rollbackMigration, startMigration } from '../runner.js';
import { listRuns } from '../state.js';
import { runSteps } from '../steps.js';
import { renameConstraint } from './rename-constraint.js';

let db: MigrationDatabase;

beforeAll(async () => {
  db = await createMigrationDatabase();
});

beforeEach(async () => {
  await db.reset();
  await db.pool.query(`create table people (id serial primary key, name text not null, email text,
    constraint name_length check (length(name) > 2), constraint people_email_key unique (email))`);
  await db.pool.query(`insert into people (name) values ('Ada'), ('Bob')`);
});

const start = (yaml: string, name = '02_rename') => startMigration(migrationFrom(name, yaml), { pool: db.pool });

const renameCheck = `operations:
  - rename_constraint:
      table: people
      from: name_length
      to: name_length_check
`;

async function constraints(): Promise<string[]> {
  const found = await db.pool.query<{ conname: string }>(`select conname from pg_constraint where conrelid = 'public.people'::regclass and contype in ('c', 'u', 'p') order by conname`);
  return found.rows.map((row) => row.conname);
}

async function lastRun() {
  const run = (await listRuns(db.pool, 'public')).at(-1);
  if (run === undefined) throw new Error('no run recorded');
  return run;
}

describe('rename_constraint', () => {
  it('keeps the old name while the old version lives (pgroll example 33), renames on complete, and the check holds throughout', async () => {
    await start(renameCheck);
    expect(await constraints()).toEqual(['name_length', 'people_email_key', 'people_pkey']);
    expect((await lastRun()).after.tables[0]?.constraints.map((each) => each.name)).toContain('name_length_check');
    const oldApp = await db.clientFor('public');
    const newApp = await db.clientFor('public_02_rename');
    const fromOld = await oldApp.query<{ id: number }>(`insert into people (name) values ('Cyd') returning id`);
    const fromNew = await newApp.query<{ id: number }>(`insert into people (name) values ('Dora') returning id`);
    expect((await newApp.query('select name from people where id = $1', [fromOld.rows[0]?.id])).rows).toEqual([{ name: 'Cyd' }]);
    expect((await oldApp.query('select name from people where id = $1', [fromNew.rows[0]?.id])).rows).toEqual([{ name: 'Dora' }]);
    await newApp.query(`update people set name = 'Cydney' where id = $1`, [fromOld.rows[0]?.id]);
    expect((await oldApp.query('select name from people where id = $1', [fromOld.rows[0]?.id])).rows).toEqual([{ name: 'Cydney' }]);
    await expect(oldApp.query(`insert into people (name) values ('E')`)).rejects.toThrow(/name_length/);
    await expect(newApp.query(`insert into people (name) values ('E')`)).rejects.toThrow(/name_length/);

    await completeMigration({ pool: db.pool });
    expect(await constraints()).toEqual(['name_length_check', 'people_email_key', 'people_pkey']);
    await expect(newApp.query(`insert into people (name) values ('E')`)).rejects.toThrow(/name_length_check/);

    const run = await lastRun();
    const steps = renameConstraint.complete({ table: 'people', from: 'name_length', to: 'name_length_check' }, { before: run.before, after: run.after, versionSchema: run.versionSchema }).steps;
    await runSteps(db.pool, steps);
    await runSteps(db.pool, steps);
    expect(await constraints()).toEqual(['name_length_check', 'people_email_key', 'people_pkey']);
  });

  it('leaves the name as it was on rollback', async () => {
    await start(renameCheck);
    await rollbackMigration({ pool: db.pool });
    expect(await constraints()).toEqual(['name_length', 'people_email_key', 'people_pkey']);
  });

  it('renames a unique constraint and its index, on a table the same migration renames', async () => {
    await start(`operations:
  - rename_table: { from: people, to: persons }
  - rename_constraint: { table: persons, from: people_email_key, to: persons_email_key }
`);
    expect((await lastRun()).after.tables[0]?.indexes.map((each) => each.name).sort()).toEqual(['people_pkey', 'persons_email_key']);
    await completeMigration({ pool: db.pool });
    const index = await db.pool.query(`select to_regclass('public.persons_email_key')::text as found`);
    expect(index.rows).toEqual([{ found: 'persons_email_key' }]);
    const names = await db.pool.query(`select conname from pg_constraint where conrelid = 'public.persons'::regclass and contype = 'u'`);
    expect(names.rows).toEqual([{ conname: 'persons_email_key' }]);
  });
});

describe('rename_constraint refuses', () => {
  it.each([
    ['a missing table', `{ table: nobody, from: name_length, to: x }`, /operations\[0\]\.rename_constraint: table "nobody" does not exist/],
    ['a missing constraint', `{ table: people, from: nope, to: x }`, /constraint "nope" does not exist on table "people" \(it has: .*name_length.*\)/],
    ['a name another constraint has', `{ table: people, from: name_length, to: people_pkey }`, /constraint "people_pkey" already exists on table "people"/],
    ['an index name that a unique constraint would take', `{ table: people, from: people_email_key, to: people }`, /renaming constraint "people_email_key" renames its index, and the name "people" is taken/],
    ['a name PostgreSQL would cut', `{ table: people, from: name_length, to: ${'y'.repeat(64)} }`, /"to" y{64} is longer than PostgreSQL's limit of 63 bytes/],
  ])('%s, before touching the database', async (_what, body, message) => {
    await expect(start(`operations:\n  - rename_constraint: ${body}\n`)).rejects.toThrow(message);
    expect(await listRuns(db.pool, 'public')).toEqual([]);
  });
});
