import type pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { createMigrationDatabase, migrationFrom, type MigrationDatabase } from '../../test/helpers/migrations.js';
import { readSchema } from './introspect.js';
import { completeMigration, finalizeMigration, rollbackMigration, startMigration, undoMigration } from './runner.js';
import { keptRun, listRuns } from './state.js';
import type { StepEvents } from './steps.js';
import type { VirtualSchema } from './virtual-schema.js';

let db: MigrationDatabase;
const HOUR = 3_600_000;

beforeAll(async () => {
  db = await createMigrationDatabase();
});

async function fresh(sql: string): Promise<void> {
  await db.reset();
  for (const schema of ['public_01_init', 'public_02_change']) await db.pool.query(`drop schema if exists ${schema} cascade`);
  await db.pool.query(sql);
}

async function rows(client: pg.Client, sql: string): Promise<unknown[]> {
  return (await client.query<Record<string, unknown>>(sql)).rows;
}

async function columnsOf(table: string): Promise<string[]> {
  const result = await db.pool.query<{ name: string }>(`select attname as name from pg_attribute where attrelid = $1::regclass and attnum > 0 and not attisdropped order by attnum`, [`public.${table}`]);
  return result.rows.map((row) => row.name);
}

const dropLegacy = migrationFrom(
  '02_change',
  `operations:
  - drop_column: { table: users, column: legacy, down: "'from-new:' || name" }
`,
);

describe('drop_column, undone after complete', () => {
  it('keeps the column aside with its down trigger; undo brings the old version back with every row, rollback restores the table', async () => {
    await fresh(`create table users (id serial primary key, name text not null, legacy text not null check (length(legacy) > 0));
      create index users_legacy on users (legacy);
      insert into users (name, legacy) select 'u' || n, 'old' || n from generate_series(1, 20) n`);
    const before = await readSchema(db.pool, 'public');
    await startMigration(dropLegacy, { pool: db.pool });
    const oldApp = await db.clientFor('public');
    const newApp = await db.clientFor('public_02_change');
    await oldApp.query(`insert into users (name, legacy) values ('o1', 'written-old')`);
    await newApp.query(`insert into users (name) values ('n1')`);

    const completed = await completeMigration({ pool: db.pool, undoWindowMs: HOUR });
    expect(completed.phase).toBe('undoable');
    expect(completed.undoUntil?.getTime()).toBeGreaterThan(Date.now() + HOUR - 60_000);
    expect(await columnsOf('users')).toEqual(['id', 'name', '_promote_removed_legacy']);
    // relaxed: the new version's writes are never refused by the kept column
    const constraints = await db.pool.query(`select conname from pg_constraint where conrelid = 'public.users'::regclass and conname like '%legacy%'`);
    expect(constraints.rows).toEqual([]);
    await newApp.query(`insert into users (name) values ('n2')`);
    await newApp.query(`update users set name = 'renamed' where name = 'u3'`);
    expect(await rows(newApp, `select * from users where name = 'n2'`)).toEqual([{ id: 23, name: 'n2' }]);

    const undone = await undoMigration({ pool: db.pool });
    expect(undone.phase).toBe('started');
    expect(await rows(oldApp, `select name, legacy from users where id in (1, 3, 21, 22, 23) order by id`)).toEqual([
      { name: 'u1', legacy: 'old1' },
      { name: 'renamed', legacy: 'from-new:renamed' },
      { name: 'o1', legacy: 'written-old' },
      { name: 'n1', legacy: 'from-new:n1' },
      { name: 'n2', legacy: 'from-new:n2' },
    ]);
    // both versions work again, each seeing the other's writes
    await oldApp.query(`insert into users (name, legacy) values ('o2', 'again-old')`);
    await newApp.query(`insert into users (name) values ('n3')`);
    expect(await rows(newApp, `select name from users where id > 23 order by id`)).toEqual([{ name: 'o2' }, { name: 'n3' }]);
    expect(await rows(oldApp, `select legacy from users where name = 'n3'`)).toEqual([{ legacy: 'from-new:n3' }]);

    await rollbackMigration({ pool: db.pool });
    expect(await readSchema(db.pool, 'public')).toEqual(before);
    expect(await rows(oldApp, `select count(*)::int as n, count(*) filter (where legacy is null)::int as missing from users`)).toEqual([{ n: 25, missing: 0 }]);
  });
});

const init = migrationFrom(
  '01_init',
  `operations:
  - create_table:
      name: accounts
      columns:
        - { name: id, type: serial, pk: true }
        - { name: owner, type: text }
        - { name: balance, type: text, nullable: false, check: { name: balance_digits, constraint: "balance ~ '^[0-9]+$'" }, unique: true }
`,
);

const retype = migrationFrom(
  '02_change',
  `operations:
  - alter_column:
      table: accounts
      column: balance
      type: bigint
      up: balance::bigint
      down: balance::text
`,
);

/** An app whose old version reads through public_01_init (the version schema of the migration before). */
async function accounts(): Promise<VirtualSchema> {
  await fresh('select 1');
  await startMigration(init, { pool: db.pool });
  await completeMigration({ pool: db.pool, undoWindowMs: HOUR });
  await db.pool.query(`create index accounts_owner_balance on accounts (owner, balance); insert into accounts (owner, balance) select 'o' || n, (n * 10)::text from generate_series(1, 30) n`);
  return readSchema(db.pool, 'public');
}

describe('alter_column type change, undone after complete', () => {
  it('keeps the text column aside; after undo the old version (through its version schema) sees every row, rollback restores the table', async () => {
    const before = await accounts();
    // create_table has nothing to keep: its complete is the plain contract
    expect((await listRuns(db.pool, 'public')).map((run) => run.phase)).toEqual(['completed']);
    await startMigration(retype, { pool: db.pool });
    const oldApp = await db.clientFor('public_01_init');
    const newApp = await db.clientFor('public_02_change');
    await oldApp.query(`insert into accounts (owner, balance) values ('old', '7')`);
    await newApp.query(`insert into accounts (owner, balance) values ('new', 8)`);

    const completed = await completeMigration({ pool: db.pool, undoWindowMs: HOUR });
    expect(completed.phase).toBe('undoable');
    expect(await columnsOf('accounts')).toEqual(['id', 'owner', '_promote_removed_balance', 'balance']);
    // the copies took the old constraints' names (the check does not fit bigint and was not copied, as in pgroll)
    const names = await db.pool.query<{ name: string }>(`select conname as name from pg_constraint where conrelid = 'public.accounts'::regclass order by 1`);
    expect(names.rows.map((row) => row.name)).toEqual(['accounts_balance_key', 'accounts_balance_not_null', 'accounts_id_not_null', 'accounts_owner_not_null', 'accounts_pkey']);
    await newApp.query(`insert into accounts (owner, balance) values ('after', 9000)`);
    await newApp.query(`update accounts set balance = balance + 1 where owner = 'o5'`);
    await expect(oldApp.query('select 1 from accounts')).rejects.toThrow(/does not exist/);

    await undoMigration({ pool: db.pool });
    expect(await rows(oldApp, `select owner, balance from accounts where owner in ('o5', 'old', 'new', 'after') order by id`)).toEqual([
      { owner: 'o5', balance: '51' },
      { owner: 'old', balance: '7' },
      { owner: 'new', balance: '8' },
      { owner: 'after', balance: '9000' },
    ]);
    await oldApp.query(`insert into accounts (owner, balance) values ('old2', '71')`);
    await newApp.query(`insert into accounts (owner, balance) values ('new2', 81)`);
    expect(await rows(newApp, `select owner, balance from accounts where owner in ('old2', 'new2') order by id`)).toEqual([
      { owner: 'old2', balance: '71' },
      { owner: 'new2', balance: '81' },
    ]);
    // the old constraints hold again for the old version
    const restored = await db.pool.query(`select conname, convalidated from pg_constraint where conrelid = 'public.accounts'::regclass and conname = 'balance_digits'`);
    expect(restored.rows).toEqual([{ conname: 'balance_digits', convalidated: true }]);
    await expect(oldApp.query(`insert into accounts (owner, balance) values ('dup', '71')`)).rejects.toThrow(/duplicate key value/);

    await rollbackMigration({ pool: db.pool });
    expect(await readSchema(db.pool, 'public')).toEqual(before);
    expect(await rows(oldApp, `select count(*)::int as n from accounts`)).toEqual([{ n: 35 }]);
  });

  it('complete again after undo leaves the new shape', async () => {
    await accounts();
    await startMigration(retype, { pool: db.pool });
    await completeMigration({ pool: db.pool, undoWindowMs: HOUR });
    await undoMigration({ pool: db.pool });
    const again = await completeMigration({ pool: db.pool });
    expect(again.phase).toBe('completed');
    expect(await columnsOf('accounts')).toEqual(['id', 'owner', 'balance']);
    const sum = await db.pool.query(`select sum(balance)::int as total, pg_typeof(min(balance))::text as type from accounts`);
    expect(sum.rows[0]).toEqual({ total: 4650, type: 'bigint' });
  });
});

describe('drop_table, undone after complete', () => {
  it('renames the table aside; undo gives it back to the old version; rollback is as before', async () => {
    await fresh(`create table keep (id int primary key); create table logs (id serial primary key, line text); insert into logs (line) values ('a'), ('b')`);
    const before = await readSchema(db.pool, 'public');
    await startMigration(migrationFrom('02_change', 'operations:\n  - drop_table: { name: logs }\n'), { pool: db.pool });
    const oldApp = await db.clientFor('public');
    await oldApp.query(`insert into logs (line) values ('c')`);
    await completeMigration({ pool: db.pool, undoWindowMs: HOUR });
    const tables = await db.pool.query(`select tablename from pg_tables where schemaname = 'public' order by 1`);
    expect(tables.rows).toEqual([{ tablename: '_promote_removed_logs' }, { tablename: 'keep' }]);
    await undoMigration({ pool: db.pool });
    expect(await rows(oldApp, 'select line from logs order by id')).toEqual([{ line: 'a' }, { line: 'b' }, { line: 'c' }]);
    await rollbackMigration({ pool: db.pool });
    expect(await readSchema(db.pool, 'public')).toEqual(before);
  });
});

describe('the window', () => {
  it('after the window undo is refused, and finalize drops what was kept', async () => {
    await fresh(`create table users (id serial primary key, name text not null, legacy text not null); insert into users (name, legacy) values ('a', 'x')`);
    await startMigration(dropLegacy, { pool: db.pool });
    await completeMigration({ pool: db.pool, undoWindowMs: 1 });
    await new Promise((resolve) => setTimeout(resolve, 20));
    await expect(undoMigration({ pool: db.pool })).rejects.toThrow(/cannot undo migration "02_change": its undo window ended at .*; its complete is final/);
    const finalized = await finalizeMigration({ pool: db.pool });
    expect(finalized?.phase).toBe('completed');
    expect(await columnsOf('users')).toEqual(['id', 'name']);
    const functions = await db.pool.query(`select proname from pg_proc where proname like '\\_promote\\_%'`);
    expect(functions.rows).toEqual([]);
    await expect(undoMigration({ pool: db.pool })).rejects.toThrow(/nothing to undo: migration "02_change" completed without keeping its old shape/);
    expect(await finalizeMigration({ pool: db.pool })).toBeUndefined();
  });

  it('the next migration start ends the window of the one before', async () => {
    await fresh(`create table users (id serial primary key, name text not null, legacy text not null); insert into users (name, legacy) values ('a', 'x')`);
    await startMigration(dropLegacy, { pool: db.pool });
    await completeMigration({ pool: db.pool, undoWindowMs: HOUR });
    await startMigration(migrationFrom('03_next', 'operations:\n  - rename_column: { table: users, from: name, to: full_name }\n'), { pool: db.pool });
    expect(await columnsOf('users')).toEqual(['id', 'name']);
    expect((await listRuns(db.pool, 'public')).map((run) => [run.name, run.phase])).toEqual([
      ['02_change', 'completed'],
      ['03_next', 'started'],
    ]);
  });

  it('window 0 is the plain contract, and a run that cannot be undone says why', async () => {
    await fresh(`create table users (id serial primary key, name text not null, legacy text not null)`);
    await startMigration(dropLegacy, { pool: db.pool });
    expect((await completeMigration({ pool: db.pool, undoWindowMs: 0 })).phase).toBe('completed');
    expect(await columnsOf('users')).toEqual(['id', 'name']);
    await startMigration(migrationFrom('03_next', 'operations:\n  - rename_column: { table: users, from: name, to: full_name }\n'), { pool: db.pool });
    const plain = await completeMigration({ pool: db.pool, undoWindowMs: HOUR });
    expect(plain).toMatchObject({ phase: 'completed', undoUntil: null, undoUnavailable: 'its complete drops no column or table, so there is nothing to keep aside' });
    await startMigration(migrationFrom('04_more', 'operations:\n  - drop_column: { table: users, column: full_name }\n  - rename_constraint: { table: users, from: users_pkey, to: users_key }\n'), { pool: db.pool });
    expect(await completeMigration({ pool: db.pool, undoWindowMs: HOUR })).toMatchObject({ undoUnavailable: 'operations[1].rename_constraint: complete of rename_constraint cannot be undone yet' });
  });
});

const split = migrationFrom(
  '02_change',
  `operations:
  - add_column: { table: users, up: "split_part(name, ' ', 1)", column: { name: first_name, type: text } }
  - drop_column: { table: users, column: name, down: "first_name || ' ?'" }
`,
);

async function people(): Promise<VirtualSchema> {
  await fresh(`create table users (id serial primary key, name text not null check (name <> ''));
    insert into users (name) select 'First' || n || ' Last' from generate_series(1, 20) n`);
  return readSchema(db.pool, 'public');
}

const mixed = migrationFrom(
  '02_change',
  `operations:
  - rename_column: { table: users, from: email, to: mail }
  - add_column: { table: users, up: "'c' || id || left(mail, 1)", column: { name: code, type: text, unique: true } }
  - drop_index: { name: users_email }
  - create_index: { name: users_code_mail, table: users, columns: [{ column: code }, { column: mail }] }
  - rename_table: { from: logs, to: events }
  - drop_column: { table: users, column: legacy, down: "'d' || mail" }
`,
);

async function mixedTables(): Promise<VirtualSchema> {
  await fresh(`create table users (id serial primary key, email text not null, legacy text); create index users_email on users (email);
    create table logs (id serial primary key, line text);
    insert into users (email, legacy) select 'u' || n || '@x', 'l' || n from generate_series(1, 10) n`);
  return readSchema(db.pool, 'public');
}

describe('split a column (add_column + drop_column), undone after complete', () => {
  it('the added column takes its temporary name and its check again; the old version (no version schema: public) sees every row; rollback restores the table', async () => {
    const before = await people();
    await startMigration(split, { pool: db.pool });
    const oldApp = await db.clientFor('public');
    const newApp = await db.clientFor('public_02_change');
    await oldApp.query(`insert into users (name) values ('Ann Lee')`);
    await newApp.query(`insert into users (first_name) values ('Bob')`);

    expect((await completeMigration({ pool: db.pool, undoWindowMs: HOUR })).phase).toBe('undoable');
    expect(await columnsOf('users')).toEqual(['id', '_promote_removed_name', 'first_name']);
    await newApp.query(`insert into users (first_name) values ('Cid')`);
    await newApp.query(`update users set first_name = 'Dee' where id = 1`);
    await expect(oldApp.query(`select name from users`)).rejects.toThrow(/does not exist/);

    expect((await undoMigration({ pool: db.pool })).phase).toBe('started');
    expect((await columnsOf('users')).slice(0, 3)).toEqual(['id', 'name', '_promote_new_first_name']);
    const check = await db.pool.query(`select conname, convalidated from pg_constraint where conrelid = 'public.users'::regclass and contype = 'c' order by 1`);
    expect(check.rows).toEqual([
      { conname: '_promote_not_null_first_name', convalidated: false },
      { conname: 'users_name_check', convalidated: true },
    ]);
    expect(await rows(oldApp, `select id, name from users where id in (1, 2, 21, 22, 23) order by id`)).toEqual([
      { id: 1, name: 'Dee ?' },
      { id: 2, name: 'First2 Last' },
      { id: 21, name: 'Ann Lee' },
      { id: 22, name: 'Bob ?' },
      { id: 23, name: 'Cid ?' },
    ]);
    // both versions write again, each seeing the other's writes
    await oldApp.query(`insert into users (name) values ('Eve Moss')`);
    await oldApp.query(`update users set name = 'Gus Hill' where id = 2`);
    await newApp.query(`insert into users (first_name) values ('Fay')`);
    expect(await rows(newApp, `select id, first_name from users where id in (2, 21, 24) order by id`)).toEqual([
      { id: 2, first_name: 'Gus' },
      { id: 21, first_name: 'Ann' },
      { id: 24, first_name: 'Eve' },
    ]);
    expect(await rows(oldApp, `select name from users where id = 25`)).toEqual([{ name: 'Fay ?' }]);

    await rollbackMigration({ pool: db.pool });
    expect(await readSchema(db.pool, 'public')).toEqual(before);
    expect(await rows(oldApp, `select count(*)::int as n, count(*) filter (where name is null)::int as missing from users`)).toEqual([{ n: 25, missing: 0 }]);
    await oldApp.end();
    await newApp.end();
  });

  it('complete again after undo leaves the new shape, NOT NULL and all', async () => {
    await people();
    await startMigration(split, { pool: db.pool });
    await completeMigration({ pool: db.pool, undoWindowMs: HOUR });
    await undoMigration({ pool: db.pool });
    await db.pool.query(`insert into users (name) values ('Ann Lee')`);
    expect((await completeMigration({ pool: db.pool })).phase).toBe('completed');
    expect(await columnsOf('users')).toEqual(['id', 'first_name']);
    const result = await db.pool.query(`select count(*)::int as n, count(distinct first_name)::int as names, bool_and(first_name like 'First%' or first_name = 'Ann') as ok from users`);
    expect(result.rows[0]).toEqual({ n: 21, names: 21, ok: true });
    const notNull = await db.pool.query(`select attnotnull from pg_attribute where attrelid = 'public.users'::regclass and attname = 'first_name'`);
    expect(notNull.rows).toEqual([{ attnotnull: true }]);
  });

  it('with rename_column, rename_table, drop_index, create_index and a unique add_column in the run: undo, then rollback, is as before', async () => {
    const before = await mixedTables();
    await startMigration(mixed, { pool: db.pool });
    const oldApp = await db.clientFor('public');
    const newApp = await db.clientFor('public_02_change');
    expect((await completeMigration({ pool: db.pool, undoWindowMs: HOUR })).phase).toBe('undoable');
    expect(await columnsOf('users')).toEqual(['id', 'mail', '_promote_removed_legacy', 'code']);
    await newApp.query(`insert into users (mail, code) values ('n@x', 'new'); insert into events (line) values ('e')`);

    await undoMigration({ pool: db.pool });
    const indexes = await db.pool.query(`select indexname from pg_indexes where tablename = 'users' order by 1`);
    expect(indexes.rows.map((row: { indexname: string }) => row.indexname)).toEqual(['_promote_unique_users_code', 'users_code_mail', 'users_email', 'users_pkey']);
    await oldApp.query(`insert into users (email, legacy) values ('o@x', 'lo'); insert into logs (line) values ('o')`);
    expect(await rows(newApp, `select mail, code from users where id > 10 order by id`)).toEqual([
      { mail: 'n@x', code: 'new' },
      { mail: 'o@x', code: 'c12o' },
    ]);
    await expect(newApp.query(`insert into users (mail, code) values ('d@x', 'new')`)).rejects.toThrow(/duplicate key value/);
    expect(await rows(oldApp, `select line from logs order by id`)).toEqual([{ line: 'e' }, { line: 'o' }]);

    await rollbackMigration({ pool: db.pool });
    expect(await readSchema(db.pool, 'public')).toEqual(before);
    await oldApp.end();
    await newApp.end();
  });

  it('with those operations, complete again after undo is the same as the first complete', async () => {
    await mixedTables();
    await startMigration(mixed, { pool: db.pool });
    await completeMigration({ pool: db.pool, undoWindowMs: HOUR });
    await finalizeMigration({ pool: db.pool });
    const once = await readSchema(db.pool, 'public');
    await mixedTables();
    await startMigration(mixed, { pool: db.pool });
    await completeMigration({ pool: db.pool, undoWindowMs: HOUR });
    await undoMigration({ pool: db.pool });
    expect((await completeMigration({ pool: db.pool })).phase).toBe('completed');
    expect(await readSchema(db.pool, 'public')).toEqual(once);
    expect(await columnsOf('users')).toEqual(['id', 'mail', 'code']);
  });
});

describe('split a column: undo interrupted between any two steps', () => {
  it('running it again finishes it, and rollback then restores the table', async () => {
    let points = 0;
    for (let stop = 1; ; stop += 1) {
      const before = await people();
      await startMigration(split, { pool: db.pool });
      await completeMigration({ pool: db.pool, undoWindowMs: HOUR });
      await db.pool.query(`insert into public_02_change.users (first_name) values ('Late')`);
      const interrupted = await stopped(undoMigration({ pool: db.pool, events: stopAfter(stop) }));
      if (interrupted) await undoMigration({ pool: db.pool });
      await db.pool.query(`insert into users (name) values ('Old Writer')`);
      expect((await db.pool.query(`select _promote_new_first_name as f from users where name = 'Old Writer'`)).rows).toEqual([{ f: 'Old' }]);
      await rollbackMigration({ pool: db.pool });
      expect(await readSchema(db.pool, 'public')).toEqual(before);
      expect((await db.pool.query(`select count(*)::int as n from users where name = 'Late ?'`)).rows).toEqual([{ n: 1 }]);
      if (!interrupted) break;
      points += 1;
    }
    expect(points).toBeGreaterThan(5);
  }, 240_000);

  it('with rename_column, rename_table, drop_index and a unique add_column too', async () => {
    let points = 0;
    for (let stop = 1; ; stop += 1) {
      const before = await mixedTables();
      await startMigration(mixed, { pool: db.pool });
      await completeMigration({ pool: db.pool, undoWindowMs: HOUR });
      const interrupted = await stopped(undoMigration({ pool: db.pool, events: stopAfter(stop) }));
      if (interrupted) await undoMigration({ pool: db.pool });
      await db.pool.query(`insert into users (email) values ('late@x')`);
      expect((await db.pool.query(`select _promote_new_code as code from users where email = 'late@x'`)).rows).toEqual([{ code: 'c11l' }]);
      await rollbackMigration({ pool: db.pool });
      expect(await readSchema(db.pool, 'public')).toEqual(before);
      if (!interrupted) break;
      points += 1;
    }
    expect(points).toBeGreaterThan(10);
  }, 240_000);
});

const both = migrationFrom(
  '02_change',
  `operations:
  - alter_column: { table: accounts, column: balance, type: bigint, up: balance::bigint, down: balance::text }
  - drop_column: { table: accounts, column: legacy, down: "'L' || owner" }
`,
);

async function twoChanges(): Promise<VirtualSchema> {
  await fresh(`create table accounts (id serial primary key, owner text not null, balance text not null unique, legacy text not null);
    insert into accounts (owner, balance, legacy) select 'o' || n, (n * 10)::text, 'L' || 'o' || n from generate_series(1, 50) n`);
  const before = await readSchema(db.pool, 'public');
  await startMigration(both, { pool: db.pool });
  return before;
}

/** Rows: 50 before, 'after' (balance 7) written by the new version after complete when `after`, 'late' (999) written by it after the undo. */
async function assertBack(before: VirtualSchema, after: boolean): Promise<void> {
  const newApp = await db.clientFor('public_02_change');
  await newApp.query(`insert into accounts (owner, balance) values ('late', 999)`);
  await newApp.end();
  await rollbackMigration({ pool: db.pool });
  expect(await readSchema(db.pool, 'public')).toEqual(before);
  const check = await db.pool.query(`select count(*)::int as n, count(*) filter (where legacy <> 'L' || owner or balance::bigint <> case owner when 'late' then 999 when 'after' then 7 else id * 10 end)::int as wrong from accounts`);
  expect(check.rows[0]).toEqual({ n: after ? 52 : 51, wrong: 0 });
}

/** Each step boundary: the phase is interrupted there (as a killed migrator), and run again finishes it. */
function stopAfter(count: number): StepEvents {
  let steps = 0;
  return {
    onStep: () => {
      steps += 1;
      if (steps >= count) throw new Error('stopped');
    },
  };
}

/** Whether the phase was interrupted by stopAfter (any other failure fails the test). */
async function stopped(phase: Promise<unknown>): Promise<boolean> {
  try {
    await phase;
    return false;
  } catch (error) {
    if (error instanceof Error && /stopped/.test(error.message)) return true;
    throw error;
  }
}

describe('interrupted between any two steps', () => {
  it('undo: running it again finishes it, and rollback then restores the table', async () => {
    let points = 0;
    for (let stop = 1; ; stop += 1) {
      const before = await twoChanges();
      await completeMigration({ pool: db.pool, undoWindowMs: HOUR });
      await db.pool.query(`insert into accounts (owner, balance) values ('after', 7)`);
      const interrupted = await stopped(undoMigration({ pool: db.pool, events: stopAfter(stop) }));
      if (interrupted) {
        expect((await keptRun(db.pool, 'public'))?.phase).toBe('undoing');
        await expect(rollbackMigration({ pool: db.pool })).rejects.toThrow(/run promote migrate undo to finish it/);
        await undoMigration({ pool: db.pool });
      }
      await assertBack(before, true);
      if (!interrupted) break;
      points += 1;
    }
    expect(points).toBeGreaterThan(10);
  }, 240_000);

  it('complete with a window: running it again keeps the window it decided on', async () => {
    let points = 0;
    for (let stop = 1; ; stop += 1) {
      const before = await twoChanges();
      const interrupted = await stopped(completeMigration({ pool: db.pool, undoWindowMs: HOUR, events: stopAfter(stop) }));
      if (interrupted) expect((await completeMigration({ pool: db.pool })).phase).toBe('undoable');
      await undoMigration({ pool: db.pool });
      await assertBack(before, false);
      if (!interrupted) break;
      points += 1;
    }
    // the validations, each in its own transaction, then the table's switch (complete-schedule.ts)
    expect(points).toBeGreaterThan(1);
  }, 240_000);
});
