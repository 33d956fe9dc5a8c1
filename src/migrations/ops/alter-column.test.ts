import type pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { createMigrationDatabase, migrationFrom, type MigrationDatabase } from '../../../test/helpers/migrations.js';
import type { AlterColumn } from '../operations.js';
import { completeMigration, rollbackMigration, startMigration } from '../runner.js';
import { listRuns } from '../state.js';
import { runSteps } from '../steps.js';
import { alterColumn } from './alter-column.js';

let db: MigrationDatabase;

beforeAll(async () => {
  db = await createMigrationDatabase();
});

async function fresh(setup: string): Promise<void> {
  await db.reset();
  await db.pool.query(setup);
}

interface Versions {
  oldApp: pg.Client;
  newApp: pg.Client;
}

async function start(name: string, operation: string): Promise<Versions> {
  const outcome = await startMigration(migrationFrom(name, `operations:\n  - alter_column:\n${operation.replace(/^/gm, '      ')}\n`), { pool: db.pool });
  return { oldApp: await db.clientFor('public'), newApp: await db.clientFor(outcome.versionSchema) };
}

async function rows(client: pg.Client | pg.Pool, sql: string, values: unknown[] = []): Promise<unknown[]> {
  return (await client.query<Record<string, unknown>>(sql, values)).rows;
}

/** Runs the last run's complete or rollback steps once more, as a migrator finishing an interrupted phase does. */
async function runPhaseAgain(phase: 'complete' | 'rollback'): Promise<void> {
  const run = (await listRuns(db.pool, 'public')).at(-1);
  if (run === undefined) throw new Error('no run');
  for (const operation of run.operations) {
    const { kind, ...body } = operation;
    if (kind !== 'alter_column') continue;
    const context = { before: run.before, after: structuredClone(run.after), versionSchema: run.versionSchema };
    const steps = phase === 'complete' ? alterColumn.complete(body as AlterColumn, context).steps : alterColumn.rollback(body as AlterColumn, context);
    await runSteps(db.pool, steps);
  }
}

async function columnsOf(table: string): Promise<unknown[]> {
  return rows(
    db.pool,
    `select column_name as name, data_type as type, is_nullable as nullable, column_default as default, col_description(to_regclass('public.' || table_name), ordinal_position) as comment
       from information_schema.columns where table_schema = 'public' and table_name = $1 order by ordinal_position`,
    [table],
  );
}

async function leftovers(): Promise<unknown[]> {
  return rows(
    db.pool,
    `select 'column ' || attname as object from pg_attribute where attrelid = 'public.t'::regclass and attname like '\\_promote%' and not attisdropped
     union all select 'function ' || proname from pg_proc where proname like '\\_promote%'
     union all select 'constraint ' || conname from pg_constraint where conname like '\\_promote%'
     union all select 'index ' || relname from pg_class where relname like '\\_promote%'`,
  );
}

describe('alter_column: type change', () => {
  it('keeps text and integer versions of the column in step while both versions write, then keeps the integer one', async () => {
    // a check on the column that no longer fits the new type is not carried over, as in pgroll
    await fresh(`create table t (id serial primary key, rating text default '0' check (rating <> '')); insert into t (rating) values ('1'), ('2')`);
    const { oldApp, newApp } = await start('02_rating_int', 'table: t\ncolumn: rating\ntype: integer\nup: CAST(rating AS integer)\ndown: CAST(rating AS text)');
    expect(await rows(newApp, 'select id, rating from t order by id')).toEqual([{ id: 1, rating: 1 }, { id: 2, rating: 2 }]);
    await oldApp.query(`insert into t (id, rating) values (3, '7')`);
    await newApp.query(`insert into t (id, rating) values (4, 9)`);
    expect(await rows(newApp, 'select rating from t where id in (3, 4) order by id')).toEqual([{ rating: 7 }, { rating: 9 }]);
    expect(await rows(oldApp, 'select rating from t where id in (3, 4) order by id')).toEqual([{ rating: '7' }, { rating: '9' }]);
    await newApp.query('update t set rating = rating + 10 where id = 1');
    await oldApp.query(`update t set rating = '20' where id = 2`);
    expect(await rows(oldApp, 'select rating from t where id in (1, 2) order by id')).toEqual([{ rating: '11' }, { rating: '20' }]);
    expect(await rows(newApp, 'select rating from t where id in (1, 2) order by id')).toEqual([{ rating: 11 }, { rating: 20 }]);
    // the old default '0'::text does not fit an integer column and is not carried over, as in pgroll
    await oldApp.query('insert into t (id) values (5)');
    expect(await rows(newApp, 'select rating from t where id = 5')).toEqual([{ rating: 0 }]);

    await completeMigration({ pool: db.pool });
    await runPhaseAgain('complete');
    expect(await columnsOf('t')).toEqual([
      { name: 'id', type: 'integer', nullable: 'NO', default: "nextval('t_id_seq'::regclass)", comment: null },
      { name: 'rating', type: 'integer', nullable: 'YES', default: null, comment: null },
    ]);
    expect(await rows(db.pool, `select conname from pg_constraint where conrelid = 'public.t'::regclass and contype = 'c'`)).toEqual([]);
    expect(await leftovers()).toEqual([]);
    await newApp.query('insert into t (id, rating) values (6, 42)');
    expect(await rows(newApp, 'select sum(rating)::int as total from t')).toEqual([{ total: 11 + 20 + 7 + 9 + 0 + 42 }]);
  });

  it('rolls back to the text column, twice without harm', async () => {
    await fresh(`create table t (id serial primary key, rating text); insert into t (rating) values ('1')`);
    const before = await columnsOf('t');
    const { oldApp } = await start('02_rating_int', 'table: t\ncolumn: rating\ntype: integer\nup: CAST(rating AS integer)\ndown: CAST(rating AS text)\nunique: { name: t_rating_unique }');
    await rollbackMigration({ pool: db.pool });
    await runPhaseAgain('rollback');
    expect(await columnsOf('t')).toEqual(before);
    expect(await leftovers()).toEqual([]);
    expect(await rows(db.pool, `select to_regclass('public.t_rating_unique') as index`)).toEqual([{ index: null }]);
    await oldApp.query(`insert into t (rating) values ('x')`);
  });
});

describe('alter_column: nullability', () => {
  it('set NOT NULL: the old version still writes NULL, the new version sees the up value and cannot write NULL', async () => {
    await fresh(`create table t (id serial primary key, product text not null, review text); insert into t (product, review) values ('apple', null), ('pear', 'tasty')`);
    const { oldApp, newApp } = await start('02_review_not_null', `table: t\ncolumn: review\nnullable: false\nup: SELECT CASE WHEN review IS NULL THEN product || ' is good' ELSE review END\ndown: review`);
    expect(await rows(newApp, 'select review from t order by id')).toEqual([{ review: 'apple is good' }, { review: 'tasty' }]);
    await oldApp.query(`insert into t (id, product, review) values (10, 'fig', null)`);
    expect(await rows(newApp, 'select review from t where id = 10')).toEqual([{ review: 'fig is good' }]);
    expect(await rows(oldApp, 'select review from t where id = 10')).toEqual([{ review: null }]);
    await expect(newApp.query(`insert into t (product, review) values ('kiwi', null)`)).rejects.toThrow(/_promote_not_null_review/);
    await newApp.query(`update t set review = 'fine' where id = 1`);
    expect(await rows(oldApp, 'select review from t where id = 1')).toEqual([{ review: 'fine' }]);

    await completeMigration({ pool: db.pool });
    await runPhaseAgain('complete');
    expect((await columnsOf('t'))[2]).toEqual({ name: 'review', type: 'text', nullable: 'NO', default: null, comment: null });
    expect(await leftovers()).toEqual([]);
    await expect(newApp.query(`insert into t (product, review) values ('kiwi', null)`)).rejects.toThrow(/null value in column "review"/);
  });

  it('drop NOT NULL: the new version writes NULL, the old version sees the down value', async () => {
    await fresh(`create table t (id serial primary key, title varchar(255) not null); insert into t (title) values ('first')`);
    const { oldApp, newApp } = await start('02_title_nullable', `table: t\ncolumn: title\nnullable: true\nup: title\ndown: SELECT CASE WHEN title IS NULL THEN 'placeholder title' ELSE title END`);
    await newApp.query('insert into t (id, title) values (2, null)');
    expect(await rows(oldApp, 'select title from t where id = 2')).toEqual([{ title: 'placeholder title' }]);
    expect(await rows(newApp, 'select title from t where id = 2')).toEqual([{ title: null }]);
    await oldApp.query(`insert into t (id, title) values (3, 'old')`);
    expect(await rows(newApp, 'select title from t where id = 3')).toEqual([{ title: 'old' }]);
    await expect(oldApp.query('insert into t (id, title) values (4, null)')).rejects.toThrow(/null value/);

    // the new version wrote values that up does not reproduce from the old column (down is lossy), which the integrity gate refuses by design
    await completeMigration({ pool: db.pool });
    await runPhaseAgain('complete');
    expect((await columnsOf('t'))[1]).toEqual({ name: 'title', type: 'character varying', nullable: 'YES', default: null, comment: null });
    expect(await rows(newApp, 'select title from t order by id')).toEqual([{ title: 'first' }, { title: null }, { title: 'old' }]);
  });
});

describe('alter_column: constraints', () => {
  it('unique: built concurrently on the new column, a constraint of that name after complete', async () => {
    await fresh(`create table t (id serial primary key, code text); insert into t (code) values ('a'), ('a')`);
    const { oldApp, newApp } = await start('02_code_unique', `table: t\ncolumn: code\nunique: { name: t_code_unique }\nup: code || '-' || id\ndown: code`);
    expect(await rows(newApp, 'select code from t order by id')).toEqual([{ code: 'a-1' }, { code: 'a-2' }]);
    await newApp.query(`insert into t (id, code) values (3, 'b')`);
    await expect(newApp.query(`insert into t (id, code) values (4, 'b')`)).rejects.toThrow(/t_code_unique/);
    await oldApp.query(`insert into t (id, code) values (5, 'b')`);
    expect(await rows(newApp, 'select code from t where id = 5')).toEqual([{ code: 'b-5' }]);

    // the new version wrote values that up does not reproduce from the old column (down is lossy), which the integrity gate refuses by design
    await completeMigration({ pool: db.pool });
    await runPhaseAgain('complete');
    expect(await rows(db.pool, `select conname, contype from pg_constraint where conrelid = 'public.t'::regclass and contype = 'u'`)).toEqual([{ conname: 't_code_unique', contype: 'u' }]);
    expect(await leftovers()).toEqual([]);
  });

  it('check: NOT VALID on start, up fixes what the old version writes, validated on complete', async () => {
    await fresh(`create table t (id serial primary key, title text); insert into t (title) values ('ab'), ('long enough')`);
    const { oldApp, newApp } = await start('02_title_check', `table: t\ncolumn: title\ncheck: { name: title_length, constraint: length(title) > 3 }\nup: SELECT CASE WHEN length(title) <= 3 THEN LPAD(title, 4, '-') ELSE title END\ndown: title`);
    expect(await rows(newApp, 'select title from t order by id')).toEqual([{ title: '--ab' }, { title: 'long enough' }]);
    await oldApp.query(`insert into t (id, title) values (3, 'x')`);
    expect(await rows(newApp, 'select title from t where id = 3')).toEqual([{ title: '---x' }]);
    await expect(newApp.query(`insert into t (title) values ('no')`)).rejects.toThrow(/title_length/);

    await completeMigration({ pool: db.pool });
    await runPhaseAgain('complete');
    expect(await rows(db.pool, `select conname, convalidated, pg_get_constraintdef(oid) as def from pg_constraint where conrelid = 'public.t'::regclass and contype = 'c'`)).toEqual([
      { conname: 'title_length', convalidated: true, def: 'CHECK ((length(title) > 3))' },
    ]);
  });

  it('references: dangling values from the old version become NULL for the new one; validated with its actions on complete', async () => {
    await fresh(`create table users (id int primary key); insert into users values (1);
      create table t (id serial primary key, user_id int); insert into t (user_id) values (1), (99)`);
    const { oldApp, newApp } = await start(
      '02_user_fk',
      `table: t\ncolumn: user_id\nreferences: { name: fk_users_id, table: users, column: id, on_delete: CASCADE }\nup: SELECT CASE WHEN EXISTS (SELECT 1 FROM users WHERE users.id = user_id) THEN user_id ELSE NULL END\ndown: user_id`,
    );
    expect(await rows(newApp, 'select user_id from t order by id')).toEqual([{ user_id: 1 }, { user_id: null }]);
    await oldApp.query('insert into t (id, user_id) values (3, 42)');
    expect(await rows(newApp, 'select user_id from t where id = 3')).toEqual([{ user_id: null }]);
    expect(await rows(oldApp, 'select user_id from t where id = 3')).toEqual([{ user_id: 42 }]);
    await expect(newApp.query('insert into t (id, user_id) values (4, 7)')).rejects.toThrow(/fk_users_id/);

    await completeMigration({ pool: db.pool });
    await runPhaseAgain('complete');
    expect(await rows(db.pool, `select conname, convalidated, pg_get_constraintdef(oid) as def from pg_constraint where conrelid = 'public.t'::regclass and contype = 'f'`)).toEqual([
      { conname: 'fk_users_id', convalidated: true, def: 'FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE' },
    ]);
    await db.pool.query('delete from users where id = 1');
    expect(await rows(db.pool, 'select id from t order by id')).toEqual([{ id: 2 }, { id: 3 }]);
  });

  it("carries over the column's own checks, foreign key, unique constraint and indexes, under their names after complete", async () => {
    await fresh(`create table names (name varchar(255) primary key); insert into names values ('apple'), (''), ('unknown');
      create table t (id serial primary key, name varchar(255) not null unique check (length(name) > 0) references names (name) on update cascade, price int);
      create index t_name_idx on t (name) where price > 0;
      create index t_name_price_idx on t (price, name desc) include (id);
      create index t_lower_name_idx on t (lower(name));
      comment on column t.name is 'the name';
      insert into t (name, price) values ('apple', 3)`);
    const shape = `select conname, contype, convalidated, pg_get_constraintdef(oid) as def from pg_constraint where conrelid = 'public.t'::regclass order by conname`;
    const indexes = `select indexname, indexdef from pg_indexes where tablename = 't' order by indexname`;
    const constraintsBefore = await rows(db.pool, shape);
    const indexesBefore = await rows(db.pool, indexes);
    const { newApp } = await start('02_name_nullable', `table: t\ncolumn: name\nnullable: true\nup: name\ndown: coalesce(name, 'unknown')`);
    // the down trigger copies the value to the old column, whose constraints may refuse it first
    await expect(newApp.query(`insert into t (id, name, price) values (2, 'apple', 1)`)).rejects.toThrow(/t_name_key/);
    await expect(newApp.query(`insert into t (id, name, price) values (2, '', 1)`)).rejects.toThrow(/t_name_check/);
    await newApp.query(`insert into t (id, name, price) values (2, null, 1)`);
    expect(await rows(db.pool, 'select count(*)::int as copies from pg_constraint where conname in ($1, $2, $3)', ['_promote_dup_t_name_fkey', '_promote_dup_t_name_check', '_promote_dup_t_name_key'])).toEqual([{ copies: 2 }]);
    expect(await rows(db.pool, `select count(*)::int as copies from pg_class where relname like '\\_promote\\_dup\\_%' and relkind = 'i'`)).toEqual([{ copies: 4 }]);

    // the new version wrote values that up does not reproduce from the old column (down is lossy), which the integrity gate refuses by design
    await completeMigration({ pool: db.pool });
    await runPhaseAgain('complete');
    expect(await rows(db.pool, shape)).toEqual(constraintsBefore.filter((row) => (row as { conname: string }).conname !== 't_name_not_null'));
    expect(await rows(db.pool, indexes)).toEqual(indexesBefore);
    // the copy is added last, so the column moves to the end of the table, as in pgroll
    expect(await columnsOf('t')).toEqual([
      { name: 'id', type: 'integer', nullable: 'NO', default: "nextval('t_id_seq'::regclass)", comment: null },
      { name: 'price', type: 'integer', nullable: 'YES', default: null, comment: null },
      { name: 'name', type: 'character varying', nullable: 'YES', default: null, comment: 'the name' },
    ]);
    expect(await leftovers()).toEqual([]);
    await db.pool.query(`update names set name = 'APPLE' where name = 'apple'`);
    expect(await rows(db.pool, 'select name from t order by id')).toEqual([{ name: 'APPLE' }, { name: null }]);
  });
  it('a unique constraint keeps its INCLUDE columns on the copy and its deferral after complete, and a type change leaves out the check that no longer fits', async () => {
    await fresh(`create table t (id serial primary key, code text check (code <> 'none'), note text);
      alter table t add constraint t_code_key unique (code) include (note) deferrable initially deferred;
      insert into t (code, note) values ('1', 'a'), ('2', 'b')`);
    const uniques = `select conname, pg_get_constraintdef(oid) as def from pg_constraint where conrelid = 'public.t'::regclass and contype = 'u'`;
    const before = await rows(db.pool, uniques);
    const { newApp } = await start('02_code_int', 'table: t\ncolumn: code\ntype: integer\nup: CAST(code AS integer)\ndown: CAST(code AS text)');
    await expect(newApp.query('insert into t (code) values (1)')).rejects.toThrow(/t_code_key/);
    await completeMigration({ pool: db.pool });
    await runPhaseAgain('complete');
    expect(await rows(db.pool, uniques)).toEqual(before);
    // attached deferred, as the original was: a duplicate is refused at commit
    await newApp.query('begin');
    await newApp.query('insert into t (code) values (1)');
    await expect(newApp.query('commit')).rejects.toThrow(/t_code_key/);
    expect(await rows(db.pool, `select conname from pg_constraint where conrelid = 'public.t'::regclass and contype = 'c'`)).toEqual([]);
    expect(await leftovers()).toEqual([]);
  });
});

describe('alter_column: several changes, default and comment', () => {
  it('changes type, default, nullability, comment, unique and check at once (pgroll example 35)', async () => {
    await fresh(`create table t (id serial primary key, name varchar(255) default '<placeholder>'); comment on column t.name is 'the name of the event';
      insert into t (name) values (null), ('concert')`);
    const { oldApp, newApp } = await start(
      '02_multiple',
      `table: t\ncolumn: name\ntype: text\ndefault: '''unknown event'''\nnullable: false\ncomment: the full name of the event\nunique: { name: events_event_name_unique }\ncheck: { name: event_name_length, constraint: length(name) > 3 }\nup: SELECT CASE WHEN name IS NULL OR LENGTH(name) <= 3 THEN 'placeholder' || id ELSE name END\ndown: name`,
    );
    expect(await rows(newApp, 'select name from t order by id')).toEqual([{ name: 'placeholder1' }, { name: 'concert' }]);
    await newApp.query('insert into t (id) values (3)');
    await oldApp.query('insert into t (id) values (4)');
    expect(await rows(newApp, 'select name from t where id in (3, 4) order by id')).toEqual([{ name: 'unknown event' }, { name: '<placeholder>' }]);
    expect(await rows(oldApp, 'select name from t where id in (3, 4) order by id')).toEqual([{ name: 'unknown event' }, { name: '<placeholder>' }]);

    await completeMigration({ pool: db.pool });
    await runPhaseAgain('complete');
    expect((await columnsOf('t'))[1]).toEqual({ name: 'name', type: 'text', nullable: 'NO', default: "'unknown event'::text", comment: 'the full name of the event' });
    expect(await rows(db.pool, `select conname, convalidated from pg_constraint where conrelid = 'public.t'::regclass and contype in ('u', 'c') order by conname`)).toEqual([
      { conname: 'event_name_length', convalidated: true },
      { conname: 'events_event_name_unique', convalidated: true },
    ]);
    expect(await leftovers()).toEqual([]);
  });

  it('default: null drops the default for the new version only until complete', async () => {
    await fresh(`create table t (id serial primary key, kind varchar(255) default 'paper'); insert into t default values`);
    const { oldApp, newApp } = await start('02_drop_default', 'table: t\ncolumn: kind\ndefault: null\nup: kind\ndown: kind');
    await newApp.query('insert into t (id) values (2)');
    await oldApp.query('insert into t (id) values (3)');
    expect(await rows(newApp, 'select kind from t order by id')).toEqual([{ kind: 'paper' }, { kind: null }, { kind: 'paper' }]);
    expect(await rows(oldApp, 'select kind from t order by id')).toEqual([{ kind: 'paper' }, { kind: null }, { kind: 'paper' }]);
    await completeMigration({ pool: db.pool });
    await runPhaseAgain('complete');
    expect((await columnsOf('t'))[1]).toEqual({ name: 'kind', type: 'character varying', nullable: 'YES', default: null, comment: null });
  });

  it('comment: null removes the comment, and empty up and down mean the column itself', async () => {
    await fresh(`create table t (id serial primary key, name text default 'x'); comment on column t.name is 'old comment'; insert into t (name) values ('a')`);
    const { oldApp, newApp } = await start('02_drop_comment', 'table: t\ncolumn: name\ncomment: null\nup: ""\ndown: ""');
    await newApp.query(`insert into t (id, name) values (2, 'b')`);
    await oldApp.query(`insert into t (id, name) values (3, 'c')`);
    expect(await rows(oldApp, 'select name from t order by id')).toEqual([{ name: 'a' }, { name: 'b' }, { name: 'c' }]);
    expect(await rows(newApp, 'select name from t order by id')).toEqual([{ name: 'a' }, { name: 'b' }, { name: 'c' }]);
    await completeMigration({ pool: db.pool });
    await runPhaseAgain('complete');
    expect((await columnsOf('t'))[1]).toEqual({ name: 'name', type: 'text', nullable: 'YES', default: "'x'::text", comment: null });
  });

  it('moves the ownership of a serial sequence to the new column', async () => {
    await fresh(`create table t (id int primary key, seq serial); insert into t (id) values (1)`);
    await start('02_seq_comment', 'table: t\ncolumn: seq\ncomment: numbered\nup: seq\ndown: seq');
    await completeMigration({ pool: db.pool });
    expect(await rows(db.pool, `select pg_get_serial_sequence('public.t', 'seq') as sequence`)).toEqual([{ sequence: 'public.t_seq_seq' }]);
    await db.pool.query('insert into t (id) values (2)');
    expect(await rows(db.pool, 'select seq from t order by id')).toEqual([{ seq: 1 }, { seq: 2 }]);
  });
});

describe('alter_column: bad input', () => {
  it('names a missing column, and touches nothing', async () => {
    await fresh('create table t (id serial primary key, name text)');
    await expect(start('02_bad', 'table: t\ncolumn: nope\nnullable: false\nup: nope\ndown: nope')).rejects.toThrow(
      /operations\[0\]\.alter_column: column "nope" does not exist in table "t" \(it has: id, name\)/,
    );
    expect(await listRuns(db.pool, 'public')).toEqual([]);
  });

  it('says a referenced table is missing, and touches nothing', async () => {
    await fresh('create table t (id serial primary key, user_id int)');
    await expect(start('02_bad', 'table: t\ncolumn: user_id\nreferences: { name: fk, table: nowhere, column: id }\nup: user_id\ndown: user_id')).rejects.toThrow(
      /operations\[0\]\.alter_column: references: table "nowhere" does not exist in schema "public"/,
    );
    expect(await listRuns(db.pool, 'public')).toEqual([]);
  });

  it('refuses to set NOT NULL on a column that is NOT NULL already, as pgroll does', async () => {
    await fresh('create table t (id serial primary key, name text not null)');
    await expect(start('02_bad', 'table: t\ncolumn: name\nnullable: false\nup: name\ndown: name')).rejects.toThrow(/nullable: column "name" of table "t" is already NOT NULL/);
  });

  it('rolls back a start that fails in the database, leaving nothing behind', async () => {
    await fresh(`create table t (id serial primary key, name text); insert into t (name) values ('a')`);
    const before = await columnsOf('t');
    await expect(start('02_bad', 'table: t\ncolumn: name\ntype: no_such_type\nup: name\ndown: name')).rejects.toThrow(/rolled back.*no_such_type/s);
    expect(await columnsOf('t')).toEqual(before);
    expect(await leftovers()).toEqual([]);
    expect((await listRuns(db.pool, 'public')).at(-1)?.phase).toBe('rolled_back');
  });
});
