import { beforeAll, describe, expect, it } from 'vitest';
import { createMigrationDatabase, migrationFrom, type MigrationDatabase } from '../../test/helpers/migrations.js';
import { completeMigration, startMigration } from './runner.js';
import { inFlightRun } from './state.js';

let db: MigrationDatabase;

beforeAll(async () => {
  db = await createMigrationDatabase();
});

async function freshTable(): Promise<void> {
  await db.reset();
  await db.pool.query(`create table reviews (id int primary key, rating text not null, body text); insert into reviews select n, (n % 5)::text, 'review ' || n from generate_series(1, 2500) n`);
}

const toInteger = migrationFrom(
  '02_rating',
  `operations:
  - alter_column:
      table: reviews
      column: rating
      type: integer
      up: CAST(rating AS integer)
      down: CAST(rating AS text)
`,
);

/** Writes the new column of one row behind the triggers' back, as a buggy trigger or a manual fix would. */
async function corrupt(id: number, value: number): Promise<void> {
  const client = await db.pool.connect();
  try {
    await client.query(`set session_replication_role = replica`);
    await client.query(`update reviews set _promote_new_rating = $1 where id = $2`, [value, id]);
  } finally {
    await client.query('reset session_replication_role');
    client.release();
  }
}

describe('the integrity gate before contract', () => {
  it('compares every row of a changed column with up(old), across chunks, and lets a clean migration complete', async () => {
    await freshTable();
    await startMigration(toInteger, { pool: db.pool });
    const newApp = await db.clientFor('public_02_rating');
    const oldApp = await db.clientFor('public');
    await newApp.query(`insert into reviews (id, rating) values (5000, 4)`);
    await oldApp.query(`update reviews set rating = '3' where id = 7`);
    const run = await completeMigration({ pool: db.pool });
    expect(run.gate?.checked).toEqual([{ table: 'reviews', column: 'rating', rows: 2501, differing: [], differingCount: 0 }]);
    expect(run.gate?.ok).toBe(true);
  });

  it('refuses to contract when a row of the new column differs from up(old), naming its key, and passes once it is fixed', async () => {
    await freshTable();
    await startMigration(toInteger, { pool: db.pool });
    await corrupt(1234, 99);
    await corrupt(2001, 42);
    await expect(completeMigration({ pool: db.pool })).rejects.toThrow(/reviews\.rating: in 2 of 2500 row\(s\) the old and the new value disagree .*, keys \(1234\) \(2001\)/);
    expect((await inFlightRun(db.pool, 'public'))?.phase).toBe('started');
    await db.pool.query(`update reviews set rating = rating where id in (1234, 2001)`);
    await expect(completeMigration({ pool: db.pool })).resolves.toMatchObject({ phase: 'completed' });
  });

  it('checks a row the new version wrote last with down, so a value that does not round-trip is not a difference', async () => {
    await freshTable();
    const lossy = migrationFrom('02_rating', `operations:\n  - alter_column:\n      table: reviews\n      column: rating\n      type: integer\n      up: CAST(rating AS integer)\n      down: CASE WHEN rating > 4 THEN '5+' ELSE rating::text END\n`);
    await startMigration(lossy, { pool: db.pool });
    const newApp = await db.clientFor('public_02_rating');
    // up('5+') would fail, yet the row is right: the new version's 9, and down's '5+' for the old one
    await newApp.query(`update reviews set rating = 9 where id = 10`);
    await expect(completeMigration({ pool: db.pool })).resolves.toMatchObject({ phase: 'completed' });
    expect((await db.pool.query('select rating from reviews where id = 10')).rows).toEqual([{ rating: 9 }]);
  });

  it('refuses a row the new version wrote whose old value is not down(new)', async () => {
    await freshTable();
    await startMigration(toInteger, { pool: db.pool });
    const newApp = await db.clientFor('public_02_rating');
    await newApp.query(`update reviews set rating = 3 where id = 20`);
    const client = await db.pool.connect();
    try {
      await client.query(`set session_replication_role = replica`);
      await client.query(`update reviews set rating = 'three' where id = 20`);
    } finally {
      await client.query('reset session_replication_role');
      client.release();
    }
    await expect(completeMigration({ pool: db.pool })).rejects.toThrow(/reviews\.rating: in 1 of 2500 row\(s\).*keys \(20\)/);
  });

  it('can be turned off, and reports a volatile up as not checked', async () => {
    await freshTable();
    await startMigration(toInteger, { pool: db.pool });
    await corrupt(3, 77);
    const unchecked = await completeMigration({ pool: db.pool, integrityGate: false });
    expect(unchecked.phase).toBe('completed');
    expect(unchecked).not.toHaveProperty('gate');
    const random = migrationFrom('03_body', `operations:\n  - alter_column:\n      table: reviews\n      column: body\n      up: body || (random() * 10)::int\n      down: body\n      comment: scored`);
    await startMigration(random, { pool: db.pool });
    const run = await completeMigration({ pool: db.pool });
    expect(run.gate?.skipped).toEqual([{ table: 'reviews', column: 'body', reason: 'its up expression calls random(), which is volatile' }]);
  });
});
