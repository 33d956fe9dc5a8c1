import type pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { createMigrationDatabase, migrationFrom, type MigrationDatabase } from '../../../test/helpers/migrations.js';
import type { Migration } from '../file.js';
import { completeMigration, rollbackMigration, startMigration } from '../runner.js';
import { listRuns } from '../state.js';
import { runSteps } from '../steps.js';
import { createConstraint } from './create-constraint.js';

let db: MigrationDatabase;

beforeAll(async () => {
  db = await createMigrationDatabase();
});

async function fresh(sql: string): Promise<void> {
  await db.reset(sql);
}

const TICKETS = `create table tickets (ticket_id serial primary key, sellers_name varchar(255) not null, sellers_zip integer not null, ticket_type varchar(255) default 'paper');
  comment on column tickets.sellers_zip is 'where the seller lives';
  insert into tickets (sellers_name, sellers_zip) values ('alice', 0), ('bob', 0), ('bob', 5), ('carol', 7);`;

async function start(migration: Migration): Promise<{ oldApp: pg.Client; newApp: pg.Client }> {
  const { versionSchema } = await startMigration(migration, { pool: db.pool });
  return { oldApp: await db.clientFor('public'), newApp: await db.clientFor(versionSchema) };
}

async function rows(client: pg.Client | pg.Pool, sql: string): Promise<unknown[]> {
  return (await client.query<Record<string, unknown>>(sql)).rows;
}

async function leftovers(table = 'tickets'): Promise<unknown[]> {
  const columns = await db.pool.query<Record<string, unknown>>(`select attname from pg_attribute where attrelid = 'public.${table}'::regclass and attnum > 0 and not attisdropped and attname like '\\_promote%'`);
  const functions = await db.pool.query<Record<string, unknown>>(`select proname from pg_proc where proname like '\\_promote%'`);
  const constraints = await db.pool.query<Record<string, unknown>>(`select conname from pg_constraint where conname like '\\_promote%'`);
  const indexes = await db.pool.query<Record<string, unknown>>(`select relname from pg_class where relname like '\\_promote%'`);
  return [...columns.rows, ...functions.rows, ...constraints.rows, ...indexes.rows];
}

/** Runs the handler's complete steps once more, as a migrator finishing an interrupted complete would. */
async function completeAgain(): Promise<void> {
  const run = (await listRuns(db.pool, 'public')).at(-1);
  if (run === undefined) throw new Error('no run');
  for (const operation of run.operations) {
    if (operation.kind !== 'create_constraint') continue;
    const { kind: _kind, ...body } = operation;
    const plan = createConstraint.complete(body, { before: run.before, after: structuredClone(run.after), versionSchema: run.versionSchema });
    await runSteps(db.pool, plan.steps);
  }
}

const checkConstraint = migrationFrom(
  '02_check',
  `operations:
  - create_constraint:
      type: check
      table: tickets
      name: check_zip_name
      columns: [sellers_name, sellers_zip]
      check: sellers_name = 'alice' OR sellers_zip > 0
      up:
        sellers_name: sellers_name
        sellers_zip: SELECT CASE WHEN sellers_name != 'alice' AND sellers_zip <= 0 THEN 123 ELSE sellers_zip END
      down:
        sellers_name: sellers_name
        sellers_zip: sellers_zip
`,
);

describe('create_constraint', () => {
  it('check: the old version keeps writing rows that break it, up fixes them for the new version, which the check binds; complete validates it', async () => {
    await fresh(TICKETS);
    const { oldApp, newApp } = await start(checkConstraint);
    expect(await rows(newApp, 'select sellers_name, sellers_zip from tickets order by ticket_id')).toEqual([
      { sellers_name: 'alice', sellers_zip: 0 },
      { sellers_name: 'bob', sellers_zip: 123 },
      { sellers_name: 'bob', sellers_zip: 5 },
      { sellers_name: 'carol', sellers_zip: 7 },
    ]);
    // the old version still sees its own values
    expect(await rows(oldApp, 'select sellers_zip from tickets where ticket_id = 2')).toEqual([{ sellers_zip: 0 }]);
    const fromOld = await oldApp.query<{ ticket_id: number }>(`insert into tickets (sellers_name, sellers_zip) values ('dave', -1) returning ticket_id`);
    expect(await rows(newApp, `select sellers_zip from tickets where ticket_id = ${fromOld.rows[0]?.ticket_id}`)).toEqual([{ sellers_zip: 123 }]);
    await oldApp.query(`update tickets set sellers_zip = 9 where ticket_id = ${fromOld.rows[0]?.ticket_id}`);
    expect(await rows(newApp, `select sellers_zip from tickets where ticket_id = ${fromOld.rows[0]?.ticket_id}`)).toEqual([{ sellers_zip: 9 }]);

    await expect(newApp.query(`insert into tickets (sellers_name, sellers_zip) values ('erin', 0)`)).rejects.toThrow(/check_zip_name/);
    const fromNew = await newApp.query<{ ticket_id: number }>(`insert into tickets (sellers_name, sellers_zip) values ('erin', 44) returning ticket_id`);
    expect(await rows(oldApp, `select sellers_name, sellers_zip, ticket_type from tickets where ticket_id = ${fromNew.rows[0]?.ticket_id}`)).toEqual([{ sellers_name: 'erin', sellers_zip: 44, ticket_type: 'paper' }]);
    await newApp.query(`update tickets set sellers_zip = 45 where ticket_id = ${fromNew.rows[0]?.ticket_id}`);
    expect(await rows(oldApp, `select sellers_zip from tickets where ticket_id = ${fromNew.rows[0]?.ticket_id}`)).toEqual([{ sellers_zip: 45 }]);

    await completeMigration({ pool: db.pool });
    await completeAgain();
    const check = await db.pool.query(`select convalidated, pg_get_constraintdef(oid) as def from pg_constraint where conname = 'check_zip_name'`);
    expect(check.rows).toEqual([{ convalidated: true, def: `CHECK ((((sellers_name)::text = 'alice'::text) OR (sellers_zip > 0)))` }]);
    const columns = await db.pool.query(`select column_name, is_nullable from information_schema.columns where table_schema = 'public' and table_name = 'tickets' order by ordinal_position`);
    expect(columns.rows.map((row: { column_name: string; is_nullable: string }) => `${row.column_name}:${row.is_nullable}`)).toEqual(['ticket_id:NO', 'ticket_type:YES', 'sellers_name:NO', 'sellers_zip:NO']);
    expect(await rows(newApp, `select col_description('public.tickets'::regclass, attnum) as comment from pg_attribute where attrelid = 'public.tickets'::regclass and attname = 'sellers_zip'`)).toEqual([{ comment: 'where the seller lives' }]);
    expect(await leftovers()).toEqual([]);
    await expect(newApp.query(`insert into tickets (sellers_name, sellers_zip) values ('fay', 0)`)).rejects.toThrow(/check_zip_name/);
    await newApp.query(`insert into tickets (sellers_name, sellers_zip) values ('alice', 0)`);
  });

  it('unique: duplicates the old version writes are made unique by up; the new version cannot write one; complete attaches the index', async () => {
    await fresh(TICKETS);
    const { oldApp, newApp } = await start(
      migrationFrom(
        '02_unique',
        `operations:
  - create_constraint:
      type: unique
      table: tickets
      name: unique_zip_name
      columns: [sellers_name, sellers_zip]
      up:
        sellers_name: sellers_name || '#' || ticket_id
        sellers_zip: sellers_zip
      down:
        sellers_name: split_part(sellers_name, '#', 1)
        sellers_zip: sellers_zip
`,
      ),
    );
    await oldApp.query(`insert into tickets (sellers_name, sellers_zip) values ('bob', 0), ('bob', 0)`);
    expect(await rows(newApp, `select sellers_name from tickets where sellers_name like 'bob%' order by ticket_id`)).toEqual([
      { sellers_name: 'bob#2' },
      { sellers_name: 'bob#3' },
      { sellers_name: 'bob#5' },
      { sellers_name: 'bob#6' },
    ]);
    await newApp.query(`insert into tickets (sellers_name, sellers_zip) values ('zed', 1)`);
    await expect(newApp.query(`insert into tickets (sellers_name, sellers_zip) values ('zed', 1)`)).rejects.toThrow(/unique_zip_name/);
    await newApp.query(`insert into tickets (sellers_name, sellers_zip) values ('yan#1', 1)`);
    expect(await rows(oldApp, `select sellers_name from tickets where ticket_id > 6 order by ticket_id`)).toEqual([{ sellers_name: 'zed' }, { sellers_name: 'yan' }]);

    // the new version wrote values that up does not reproduce from the old column (down is lossy), which the integrity gate refuses by design
    await completeMigration({ pool: db.pool });
    await completeAgain();
    const constraint = await db.pool.query(`select contype, pg_get_constraintdef(oid) as def from pg_constraint where conname = 'unique_zip_name'`);
    expect(constraint.rows).toEqual([{ contype: 'u', def: 'UNIQUE (sellers_name, sellers_zip)' }]);
    expect(await leftovers()).toEqual([]);
    await expect(newApp.query(`insert into tickets (sellers_name, sellers_zip) values ('zed', 1)`)).rejects.toThrow(/unique_zip_name/);
  });

  it('foreign_key: rows of the old version that reference nothing are nulled by up; the new version cannot write one; complete validates', async () => {
    await fresh(`create table sellers (name varchar(255), zip integer, primary key (name, zip));
      insert into sellers values ('alice', 0), ('carol', 7);
      create table tickets (ticket_id serial primary key, sellers_name varchar(255), sellers_zip integer);
      insert into tickets (sellers_name, sellers_zip) values ('alice', 0), ('bob', 0), ('carol', 7);`);
    const { oldApp, newApp } = await start(
      migrationFrom(
        '02_fk',
        `operations:
  - create_constraint:
      type: foreign_key
      table: tickets
      name: fk_sellers
      columns: [sellers_name, sellers_zip]
      references: { table: sellers, columns: [name, zip] }
      up:
        sellers_name: SELECT CASE WHEN EXISTS (SELECT 1 FROM sellers WHERE sellers.name = sellers_name AND sellers.zip = sellers_zip) THEN sellers_name ELSE NULL END
        sellers_zip: SELECT CASE WHEN EXISTS (SELECT 1 FROM sellers WHERE sellers.name = sellers_name AND sellers.zip = sellers_zip) THEN sellers_zip ELSE NULL END
      down:
        sellers_name: sellers_name
        sellers_zip: sellers_zip
`,
      ),
    );
    expect(await rows(newApp, 'select sellers_name, sellers_zip from tickets order by ticket_id')).toEqual([
      { sellers_name: 'alice', sellers_zip: 0 },
      { sellers_name: null, sellers_zip: null },
      { sellers_name: 'carol', sellers_zip: 7 },
    ]);
    await oldApp.query(`insert into tickets (sellers_name, sellers_zip) values ('nobody', 1)`);
    expect(await rows(newApp, 'select sellers_name from tickets where ticket_id = 4')).toEqual([{ sellers_name: null }]);
    expect(await rows(oldApp, 'select sellers_name from tickets where ticket_id = 4')).toEqual([{ sellers_name: 'nobody' }]);
    await expect(newApp.query(`insert into tickets (sellers_name, sellers_zip) values ('nobody', 1)`)).rejects.toThrow(/fk_sellers/);
    await newApp.query(`insert into tickets (sellers_name, sellers_zip) values ('carol', 7)`);
    expect(await rows(oldApp, 'select sellers_name from tickets where ticket_id = 6')).toEqual([{ sellers_name: 'carol' }]);

    await completeMigration({ pool: db.pool });
    await completeAgain();
    const constraint = await db.pool.query(`select convalidated, pg_get_constraintdef(oid) as def from pg_constraint where conname = 'fk_sellers'`);
    expect(constraint.rows).toEqual([{ convalidated: true, def: 'FOREIGN KEY (sellers_name, sellers_zip) REFERENCES sellers(name, zip)' }]);
    expect(await leftovers()).toEqual([]);
  });

  it('primary_key on a table the same migration creates (pgroll example 55): the key is attached on complete, its column NOT NULL, the serial kept', async () => {
    await fresh('');
    const { newApp } = await start(
      migrationFrom(
        '55_add_primary_key_constraint_to_table',
        `operations:
  - create_table:
      name: tasks
      columns:
        - { name: id, type: serial }
        - { name: title, type: varchar(255), nullable: false }
        - { name: description, type: varchar(255) }
  - create_constraint:
      name: tasks_pkey
      table: tasks
      columns: [id]
      type: primary_key
      up: { id: id }
      down: { id: id }
`,
      ),
    );
    await newApp.query(`insert into tasks (title, description) values ('a', 'x'), ('b', 'x')`);
    const first = (await newApp.query<{ id: number }>(`select id from tasks where title = 'a'`)).rows[0]?.id;
    await expect(newApp.query(`insert into tasks (id, title, description) values ($1, 'again', 'x')`, [first])).rejects.toThrow(/tasks_pkey/);
    await completeMigration({ pool: db.pool });
    await completeAgain();
    const key = await db.pool.query(`select pg_get_constraintdef(oid) as def from pg_constraint where conname = 'tasks_pkey' and contype = 'p'`);
    expect(key.rows).toEqual([{ def: 'PRIMARY KEY (id)' }]);
    // the sequence went over to the new column instead of being dropped with the old one
    expect(await rows(newApp, `select is_nullable, column_default from information_schema.columns where table_schema = 'public' and table_name = 'tasks' and column_name = 'id'`)).toEqual([
      { is_nullable: 'NO', column_default: `nextval('public.tasks_id_seq'::regclass)` },
    ]);
    expect(await rows(newApp, `select pg_get_serial_sequence('public.tasks', 'id') as sequence`)).toEqual([{ sequence: 'public.tasks_id_seq' }]);
    await newApp.query(`insert into tasks (title, description) values ('c', 'x')`);
    const ids = (await newApp.query<{ id: number; title: string }>('select id, title from tasks order by id')).rows;
    expect(ids.map((row) => row.title)).toEqual(['a', 'b', 'c']);
    expect(await leftovers('tasks')).toEqual([]);
  });

  it('rolls back to the table as it was (twice is harmless), and the old version writes on as before', async () => {
    await fresh(TICKETS);
    const shape = `select column_name, data_type, is_nullable, column_default from information_schema.columns where table_schema = 'public' and table_name = 'tickets' order by ordinal_position`;
    const before = (await db.pool.query(shape)).rows;
    const { oldApp } = await start(checkConstraint);
    await rollbackMigration({ pool: db.pool });
    const run = (await listRuns(db.pool, 'public')).at(-1);
    const operation = run?.operations[0];
    if (run === undefined || operation?.kind !== 'create_constraint') throw new Error('no run');
    const { kind: _kind, ...body } = operation;
    await runSteps(db.pool, createConstraint.rollback(body, { before: run.before, after: run.after, versionSchema: run.versionSchema }));
    expect((await db.pool.query(shape)).rows).toEqual(before);
    expect(await leftovers()).toEqual([]);
    expect(await rows(db.pool, `select count(*)::int as n from pg_constraint where conname = 'check_zip_name'`)).toEqual([{ n: 0 }]);
    await oldApp.query(`insert into tickets (sellers_name, sellers_zip) values ('gus', -5)`);
  });

  it('refuses bad input before touching the database, naming what is wrong', async () => {
    await fresh(`${TICKETS} alter table tickets add constraint zip_positive check (sellers_zip >= 0);`);
    const attempt = (yaml: string) => startMigration(migrationFrom('03_bad', `operations:\n  - create_constraint:\n${yaml}`), { pool: db.pool });
    const base = (rest: string) => `      table: tickets\n      name: c1\n${rest}`;
    await expect(attempt(base(`      type: unique\n      columns: [nope]\n      up: { nope: nope }\n      down: { nope: nope }\n`))).rejects.toThrow(
      /operations\[0\]\.create_constraint: column "nope" does not exist in table "tickets"/,
    );
    await expect(attempt(base(`      type: unique\n      columns: [sellers_zip]\n      up: {}\n      down: { sellers_zip: sellers_zip }\n`))).rejects.toThrow(/up has no expression for column "sellers_zip"/);
    await expect(attempt(base(`      type: unique\n      columns: [sellers_zip]\n      up: { sellers_zip: x, other: z }\n      down: { sellers_zip: sellers_zip }\n`))).rejects.toThrow(
      /up names column "other", which the constraint does not cover/,
    );
    await expect(attempt(`      table: tickets\n      name: zip_positive\n      type: check\n      check: sellers_zip > 0\n      columns: [sellers_zip]\n      up: { sellers_zip: x }\n      down: { sellers_zip: x }\n`)).rejects.toThrow(
      /constraint "zip_positive" already exists on table "tickets"/,
    );
    await expect(attempt(base(`      type: primary_key\n      columns: [sellers_zip]\n      up: { sellers_zip: x }\n      down: { sellers_zip: x }\n`))).rejects.toThrow(/has a primary key already \(ticket_id\)/);
    await expect(attempt(base(`      type: unique\n      columns: [ticket_id]\n      up: { ticket_id: x }\n      down: { ticket_id: x }\n`))).rejects.toThrow(/part of the primary key/);
    await expect(attempt(base(`      type: foreign_key\n      columns: [sellers_zip]\n      references: { table: nowhere, columns: [id] }\n      up: { sellers_zip: x }\n      down: { sellers_zip: x }\n`))).rejects.toThrow(
      /table "nowhere" does not exist/,
    );
    expect(await listRuns(db.pool, 'public')).toEqual([]);
  });

  it('a start that fails half way (the check calls a function that does not exist) is rolled back and leaves nothing behind', async () => {
    await fresh(TICKETS);
    const failing = migrationFrom(
      '04_fails',
      `operations:
  - create_constraint:
      type: check
      table: tickets
      name: check_zip
      columns: [sellers_zip]
      check: no_such_function(sellers_zip)
      up: { sellers_zip: sellers_zip }
      down: { sellers_zip: sellers_zip }
`,
    );
    await expect(startMigration(failing, { pool: db.pool })).rejects.toThrow(/rolled back.*no_such_function/s);
    expect(await leftovers()).toEqual([]);
    expect((await listRuns(db.pool, 'public')).at(-1)?.phase).toBe('rolled_back');
  });
});
