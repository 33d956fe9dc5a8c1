import type pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { createMigrationDatabase, migrationFrom, type MigrationDatabase } from '../../../test/helpers/migrations.js';
import type { Operation } from '../operations.js';
import { completeMigration, rollbackMigration, startMigration } from '../runner.js';
import { listRuns } from '../state.js';
import { runSteps } from '../steps.js';
import { handlerFor } from './index.js';
import { postgresObjectName } from './add-column.js';
import type { Step } from './types.js';

let db: MigrationDatabase;

beforeAll(async () => {
  db = await createMigrationDatabase();
});

async function fresh(setup: string): Promise<void> {
  await db.reset();
  await db.pool.query(setup);
}

async function rows(client: pg.Client | pg.Pool, sql: string, values: unknown[] = []): Promise<unknown[]> {
  return (await client.query<Record<string, unknown>>(sql, values)).rows;
}

/** Everything of Promote's in the app's schema: columns (of tables and of indexes), functions, triggers, constraints, relations. */
async function leftovers(): Promise<unknown[]> {
  return rows(
    db.pool,
    `select 'column ' || c.relname || '.' || a.attname as object from pg_attribute a join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace
       where n.nspname = 'public' and a.attnum > 0 and not a.attisdropped and a.attname like '\\_promote%'
     union all select 'function ' || proname from pg_proc where proname like '\\_promote%'
     union all select 'trigger ' || tgname from pg_trigger where tgname like '\\_promote%'
     union all select 'constraint ' || conname from pg_constraint where conname like '%\\_promote%'
     union all select 'relation ' || relname from pg_class where relname like '\\_promote%'`,
  );
}

/** The last run's complete or rollback steps of every operation, once more, as a migrator finishing an interrupted phase does. */
async function phaseAgain(phase: 'complete' | 'rollback'): Promise<void> {
  const run = (await listRuns(db.pool, 'public')).at(-1);
  if (run === undefined) throw new Error('no run');
  const context = { before: run.before, after: structuredClone(run.after), versionSchema: run.versionSchema };
  const operations = phase === 'complete' ? run.operations : [...run.operations].reverse();
  for (const operation of operations) {
    const { kind, ...body } = operation as Operation & Record<string, unknown>;
    const handler = handlerFor(kind) as unknown as { complete(body: unknown, context: unknown): { steps: Step[] }; rollback(body: unknown, context: unknown): Step[] };
    await runSteps(db.pool, phase === 'complete' ? handler.complete(body, context).steps : handler.rollback(body, context));
  }
}

const renameThenAdd = migrationFrom(
  '02_rename_and_add',
  `operations:
  - rename_table: { from: fruits, to: produce }
  - add_column:
      table: produce
      up: upper(name)
      column: { name: shout, type: text, nullable: false, unique: true }
  - drop_column: { table: produce, column: colour, down: "'green'" }
`,
);

describe('add_column after rename_table in the same migration', () => {
  it('completes without leaving the trigger, its function or the temporary column behind, twice harmlessly', async () => {
    await fresh(`create table fruits (id serial primary key, name text not null, colour text not null default 'red'); insert into fruits (name) values ('apple'), ('pear')`);
    const { versionSchema } = await startMigration(renameThenAdd, { pool: db.pool });
    const oldApp = await db.clientFor('public');
    const newApp = await db.clientFor(versionSchema);
    await oldApp.query(`insert into fruits (name) values ('fig')`);
    await newApp.query(`insert into produce (name, shout) values ('kiwi', 'KIWI!')`);
    expect(await rows(newApp, 'select name, shout from produce order by id')).toEqual([
      { name: 'apple', shout: 'APPLE' },
      { name: 'pear', shout: 'PEAR' },
      { name: 'fig', shout: 'FIG' },
      { name: 'kiwi', shout: 'KIWI!' },
    ]);
    await oldApp.query(`update fruits set name = 'ripe fig' where name = 'fig'`);
    expect(await rows(newApp, `select shout from produce where name = 'ripe fig'`)).toEqual([{ shout: 'RIPE FIG' }]);
    expect(await rows(oldApp, `select colour from fruits where name = 'kiwi'`)).toEqual([{ colour: 'green' }]);

    await completeMigration({ pool: db.pool });
    await phaseAgain('complete');
    expect(await leftovers()).toEqual([]);
    expect(await rows(db.pool, `select column_name, is_nullable from information_schema.columns where table_schema = 'public' and table_name = 'produce' order by ordinal_position`)).toEqual([
      { column_name: 'id', is_nullable: 'NO' },
      { column_name: 'name', is_nullable: 'NO' },
      { column_name: 'shout', is_nullable: 'NO' },
    ]);
    // the unique index start built is attached under the name PostgreSQL would give it
    expect(await rows(db.pool, `select conname from pg_constraint where conrelid = 'public.produce'::regclass and contype = 'u'`)).toEqual([{ conname: 'produce_shout_key' }]);
    await expect(newApp.query(`insert into produce (name, shout) values ('x', 'APPLE')`)).rejects.toThrow(/produce_shout_key/);
    await newApp.query(`insert into produce (name, shout) values ('lime', 'LIME')`);
  });

  it('rolls back without leaving anything behind, twice harmlessly', async () => {
    await fresh(`create table fruits (id serial primary key, name text not null, colour text not null default 'red'); insert into fruits (name) values ('apple')`);
    await startMigration(renameThenAdd, { pool: db.pool });
    await rollbackMigration({ pool: db.pool });
    await phaseAgain('rollback');
    expect(await leftovers()).toEqual([]);
    expect(await rows(db.pool, `select column_name from information_schema.columns where table_schema = 'public' and table_name = 'fruits' order by ordinal_position`)).toEqual([
      { column_name: 'id' },
      { column_name: 'name' },
      { column_name: 'colour' },
    ]);
  });
});

describe('add_column NOT NULL with a default', () => {
  it("the column's NOT NULL constraint is named after the final column, as PostgreSQL names it, not after the temporary one", async () => {
    await fresh(`create table fruits (id serial primary key, name text not null); insert into fruits (name) values ('apple')`);
    const { versionSchema } = await startMigration(
      migrationFrom('02_add_size', `operations:\n  - add_column:\n      table: fruits\n      column: { name: size, type: int, nullable: false, default: '3' }\n`),
      { pool: db.pool },
    );
    const oldApp = await db.clientFor('public');
    const newApp = await db.clientFor(versionSchema);
    await oldApp.query(`insert into fruits (name) values ('pear')`);
    await newApp.query(`insert into fruits (name, size) values ('fig', 7)`);
    expect(await rows(newApp, 'select name, size from fruits order by id')).toEqual([
      { name: 'apple', size: 3 },
      { name: 'pear', size: 3 },
      { name: 'fig', size: 7 },
    ]);
    await completeMigration({ pool: db.pool });
    await phaseAgain('complete');
    const notNull = await rows(db.pool, `select conname from pg_constraint where conrelid = 'public.fruits'::regclass and contype = 'n' order by conname`);
    // PostgreSQL before 18 keeps NOT NULL out of pg_constraint
    if (notNull.length > 0) expect(notNull).toEqual([{ conname: 'fruits_id_not_null' }, { conname: 'fruits_name_not_null' }, { conname: 'fruits_size_not_null' }]);
    expect(await leftovers()).toEqual([]);
    await expect(newApp.query(`insert into fruits (name, size) values ('x', null)`)).rejects.toThrow(/null value in column "size"/);
  });

  it('names a constraint as PostgreSQL does, shortening the longer name to fit 63 bytes', () => {
    expect(postgresObjectName('fruits', 'size', 'not_null')).toBe('fruits_size_not_null');
    const long = postgresObjectName('t'.repeat(60), 'column', 'key');
    expect(long).toBe(`${'t'.repeat(52)}_column_key`);
    expect(Buffer.byteLength(long)).toBe(63);
  });
});
