import type pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { createMigrationDatabase, migrationFrom, type MigrationDatabase } from '../../../test/helpers/migrations.js';
import { completeMigration, rollbackMigration, startMigration } from '../runner.js';
import { listRuns } from '../state.js';
import { runSteps } from '../steps.js';
import { dropConstraint } from './drop-constraint.js';

let db: MigrationDatabase;

beforeAll(async () => {
  db = await createMigrationDatabase();
});

const POSTS = `create table users (id serial primary key, name text);
  insert into users (name) values ('ada'), ('bob');
  create table posts (id serial primary key, title varchar(255) not null constraint title_length check (length(title) > 3), user_id integer constraint fk_users_id references users (id) on delete cascade);
  create index posts_title_lower on posts (lower(title));
  insert into posts (title, user_id) values ('first post', 1), ('second', 2);`;

async function fresh(): Promise<void> {
  await db.reset(POSTS);
}

async function rows(client: pg.Client | pg.Pool, sql: string, values: unknown[] = []): Promise<unknown[]> {
  return (await client.query<Record<string, unknown>>(sql, values)).rows;
}

async function leftovers(): Promise<unknown[]> {
  return rows(
    db.pool,
    `select attname as name from pg_attribute where attrelid = 'public.posts'::regclass and attnum > 0 and not attisdropped and attname like '\\_promote%'
     union all select proname from pg_proc where proname like '\\_promote%'
     union all select conname from pg_constraint where conname like '\\_promote%'
     union all select relname from pg_class where relname like '\\_promote%'`,
  );
}

async function definitions(): Promise<unknown[]> {
  return rows(db.pool, `select conname, convalidated, pg_get_constraintdef(oid) as def from pg_constraint where conrelid = 'public.posts'::regclass and contype <> 'n' order by conname`);
}

/** The handler's complete or rollback steps once more, as a migrator finishing an interrupted phase would. */
async function phaseAgain(phase: 'complete' | 'rollback'): Promise<void> {
  const run = (await listRuns(db.pool, 'public')).at(-1);
  const operation = run?.operations[0];
  if (run === undefined || operation?.kind !== 'drop_constraint') throw new Error('no run');
  const { kind: _kind, ...body } = operation;
  const context = { before: run.before, after: structuredClone(run.after), versionSchema: run.versionSchema };
  await runSteps(db.pool, phase === 'complete' ? dropConstraint.complete(body, context).steps : dropConstraint.rollback(body, context));
}

const dropTitleLength = migrationFrom(
  '23_drop_check_constraint',
  `operations:
  - drop_constraint:
      table: posts
      name: title_length
      up: title
      down: SELECT CASE WHEN length(title) <= 3 THEN LPAD(title, 4, '-') ELSE title END
`,
);

describe('drop_constraint', () => {
  it('check (pgroll example 23): the new version writes short titles, the old version sees them padded by down; complete drops the check and keeps the rest', async () => {
    await fresh();
    const { versionSchema } = await startMigration(dropTitleLength, { pool: db.pool });
    const oldApp = await db.clientFor('public');
    const newApp = await db.clientFor(versionSchema);
    expect(await rows(newApp, 'select title from posts order by id')).toEqual([{ title: 'first post' }, { title: 'second' }]);

    const fromNew = await newApp.query<{ id: number }>(`insert into posts (title, user_id) values ('hi', 1) returning id`);
    const id = fromNew.rows[0]?.id;
    expect(await rows(newApp, 'select title from posts where id = $1', [id])).toEqual([{ title: 'hi' }]);
    expect(await rows(oldApp, 'select title from posts where id = $1', [id])).toEqual([{ title: '--hi' }]);
    await newApp.query(`update posts set title = 'yo' where id = $1`, [id]);
    expect(await rows(oldApp, 'select title from posts where id = $1', [id])).toEqual([{ title: '--yo' }]);
    // the old version still has the check, and its writes reach the new version unchanged
    await expect(oldApp.query(`insert into posts (title) values ('no')`)).rejects.toThrow(/title_length/);
    const fromOld = await oldApp.query<{ id: number }>(`insert into posts (title) values ('long enough') returning id`);
    expect(await rows(newApp, 'select title from posts where id = $1', [fromOld.rows[0]?.id])).toEqual([{ title: 'long enough' }]);
    // a null title breaks the column's NOT NULL, which the new version keeps
    await expect(newApp.query(`insert into posts (title) values (null)`)).rejects.toThrow(/_promote_not_null_title|not-null/);
    // the foreign key on the other column is untouched
    await expect(newApp.query(`insert into posts (title, user_id) values ('x', 99)`)).rejects.toThrow(/fk_users_id/);

    // the new version wrote values that up does not reproduce from the old column (down is lossy), which the integrity gate refuses by design
    await completeMigration({ pool: db.pool });
    await phaseAgain('complete');
    expect(await definitions()).toEqual([
      { conname: 'fk_users_id', convalidated: true, def: 'FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE' },
      { conname: 'posts_pkey', convalidated: true, def: 'PRIMARY KEY (id)' },
    ]);
    expect(await rows(db.pool, `select indexname, indexdef from pg_indexes where tablename = 'posts' and indexname = 'posts_title_lower'`)).toEqual([
      { indexname: 'posts_title_lower', indexdef: 'CREATE INDEX posts_title_lower ON public.posts USING btree (lower((title)::text))' },
    ]);
    expect(await rows(db.pool, `select is_nullable from information_schema.columns where table_schema = 'public' and table_name = 'posts' and column_name = 'title'`)).toEqual([{ is_nullable: 'NO' }]);
    expect(await leftovers()).toEqual([]);
    await newApp.query(`insert into posts (title) values ('ok')`);
    expect(await rows(newApp, `select title from posts where id = $1`, [id])).toEqual([{ title: 'yo' }]);
  });

  it('foreign key (pgroll example 24): the new version references nothing, the old version sees null from down; complete drops the key', async () => {
    await fresh();
    const { versionSchema } = await startMigration(
      migrationFrom(
        '24_drop_foreign_key_constraint',
        `operations:
  - drop_constraint:
      table: posts
      name: fk_users_id
      up: user_id
      down: SELECT CASE WHEN EXISTS (SELECT 1 FROM users WHERE users.id = user_id) THEN user_id ELSE NULL END
`,
      ),
      { pool: db.pool },
    );
    const oldApp = await db.clientFor('public');
    const newApp = await db.clientFor(versionSchema);
    await newApp.query(`insert into posts (title, user_id) values ('orphan', 99), ('owned', 2)`);
    expect(await rows(oldApp, `select title, user_id from posts where id > 2 order by id`)).toEqual([
      { title: 'orphan', user_id: null },
      { title: 'owned', user_id: 2 },
    ]);
    expect(await rows(newApp, `select user_id from posts where id > 2 order by id`)).toEqual([{ user_id: 99 }, { user_id: 2 }]);
    await expect(oldApp.query(`insert into posts (title, user_id) values ('bad ref', 42)`)).rejects.toThrow(/fk_users_id/);
    // the new version wrote values that up does not reproduce from the old column (down is lossy), which the integrity gate refuses by design
    await completeMigration({ pool: db.pool });
    await phaseAgain('complete');
    expect((await definitions()).map((row) => (row as { conname: string }).conname)).toEqual(['posts_pkey', 'title_length']);
    expect(await leftovers()).toEqual([]);
    await newApp.query(`insert into posts (title, user_id) values ('free', 1234)`);
  });

  it('unique (pgroll example 27): the new version writes duplicates, down keeps the old column unique', async () => {
    await db.reset(`
      create table reviews (id serial primary key, review text constraint reviews_review_unique unique);
      insert into reviews (review) values ('good'), ('bad');`);
    const { versionSchema } = await startMigration(
      migrationFrom(
        '27_drop_unique_constraint',
        `operations:
  - drop_constraint:
      table: reviews
      name: reviews_review_unique
      up: review
      down: review || '-' || (random()*1000000)::integer
`,
      ),
      { pool: db.pool },
    );
    const oldApp = await db.clientFor('public');
    const newApp = await db.clientFor(versionSchema);
    await newApp.query(`insert into reviews (review) values ('good'), ('good')`);
    expect(await rows(newApp, `select count(*)::int as n from reviews where review = 'good'`)).toEqual([{ n: 3 }]);
    expect(await rows(oldApp, `select count(*)::int as n from reviews where review like 'good-%'`)).toEqual([{ n: 2 }]);
    await expect(oldApp.query(`insert into reviews (review) values ('bad')`)).rejects.toThrow(/reviews_review_unique/);
    // the new version wrote values that up does not reproduce from the old column (down is lossy), which the integrity gate refuses by design
    await completeMigration({ pool: db.pool });
    expect(await rows(db.pool, `select count(*)::int as n from pg_constraint where conrelid = 'public.reviews'::regclass and contype = 'u'`)).toEqual([{ n: 0 }]);
    await newApp.query(`insert into reviews (review) values ('bad')`);
  });

  it('rolls back to the table as it was, twice harmlessly; the old version keeps its check', async () => {
    await fresh();
    const before = await definitions();
    await startMigration(dropTitleLength, { pool: db.pool });
    await rollbackMigration({ pool: db.pool });
    await phaseAgain('rollback');
    expect(await definitions()).toEqual(before);
    expect(await leftovers()).toEqual([]);
    expect(await rows(db.pool, `select column_name from information_schema.columns where table_schema = 'public' and table_name = 'posts' order by ordinal_position`)).toEqual([
      { column_name: 'id' },
      { column_name: 'title' },
      { column_name: 'user_id' },
    ]);
  });

  it('refuses a constraint the table lacks, naming the ones it has, and one over several columns', async () => {
    await fresh();
    await db.pool.query(`alter table posts add constraint title_user unique (title, user_id)`);
    const attempt = (name: string) =>
      startMigration(migrationFrom('03_bad', `operations:\n  - drop_constraint: { table: posts, name: ${name}, up: title, down: title }\n`), { pool: db.pool });
    await expect(attempt('nope')).rejects.toThrow(/operations\[0\]\.drop_constraint: constraint "nope" does not exist on table "posts" \(it has: fk_users_id, posts_pkey, title_length, title_user\)/);
    await expect(attempt('title_user')).rejects.toThrow(/covers 2 columns \(title, user_id\); drop it with drop_multicolumn_constraint/);
    await expect(attempt('posts_pkey')).rejects.toThrow(/part of the primary key/);
    expect(await listRuns(db.pool, 'public')).toEqual([]);
  });
});

describe('drop_constraint on a column another table references', () => {
  it('is refused before anything runs: dropping the old column on complete would take the other table\'s foreign key', async () => {
    await fresh();
    await db.pool.query(`alter table posts add constraint posts_title_key unique (title); create table quotes (id serial primary key, title varchar(255) references posts (title))`);
    await expect(
      startMigration(migrationFrom('03_bad', `operations:\n  - drop_constraint: { table: posts, name: title_length, up: title, down: title }\n`), { pool: db.pool }),
    ).rejects.toThrow(/operations\[0\]\.drop_constraint: column "title" of table "posts" is referenced by foreign keys \("quotes_title_fkey" of quotes\)/);
    expect(await listRuns(db.pool, 'public')).toEqual([]);
  });
});
