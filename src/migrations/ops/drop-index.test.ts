import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createMigrationDatabase, migrationFrom, type MigrationDatabase } from '../../../test/helpers/migrations.js';
import { completeMigration, rollbackMigration, startMigration } from '../runner.js';
import { listRuns } from '../state.js';
import { runSteps } from '../steps.js';
import { dropIndex } from './drop-index.js';

let db: MigrationDatabase;

beforeAll(async () => {
  db = await createMigrationDatabase();
});

beforeEach(async () => {
  await db.reset();
  await db.pool.query(`create table fruits (id serial primary key, name text not null); insert into fruits (name) select 'fruit' || n from generate_series(1, 20) n`);
  await db.pool.query('create unique index idx_fruits_name on fruits (name)');
});

const dropName = migrationFrom('02_drop_index', `operations:\n  - drop_index:\n      name: idx_fruits_name\n`);
const start = () => startMigration(dropName, { pool: db.pool });

async function indexExists(name: string): Promise<boolean> {
  return (await db.pool.query<{ found: boolean }>(`select to_regclass($1) is not null as found`, [`public.${name}`])).rows[0]?.found === true;
}

describe('drop_index', () => {
  it('keeps the index while the old version lives, and drops it on complete', async () => {
    await start();
    expect(await indexExists('idx_fruits_name')).toBe(true);
    const oldApp = await db.clientFor('public');
    const newApp = await db.clientFor('public_02_drop_index');
    const fromOld = await oldApp.query<{ id: number }>(`insert into fruits (name) values ('apple') returning id`);
    const fromNew = await newApp.query<{ id: number }>(`insert into fruits (name) values ('pear') returning id`);
    expect((await newApp.query('select name from fruits where id = $1', [fromOld.rows[0]?.id])).rows).toEqual([{ name: 'apple' }]);
    expect((await oldApp.query('select name from fruits where id = $1', [fromNew.rows[0]?.id])).rows).toEqual([{ name: 'pear' }]);
    await oldApp.query(`update fruits set name = 'plum' where id = $1`, [fromNew.rows[0]?.id]);
    expect((await newApp.query('select name from fruits where id = $1', [fromNew.rows[0]?.id])).rows).toEqual([{ name: 'plum' }]);
    // the old version still relies on the uniqueness, so it holds for both until complete
    await expect(newApp.query(`insert into fruits (name) values ('apple')`)).rejects.toThrow(/idx_fruits_name/);
    expect((await listRuns(db.pool, 'public')).at(-1)?.after.tables[0]?.indexes.map((index) => index.name)).toEqual(['fruits_pkey']);

    await completeMigration({ pool: db.pool });
    expect(await indexExists('idx_fruits_name')).toBe(false);
    await newApp.query(`insert into fruits (name) values ('apple')`);
    expect((await newApp.query(`select count(*)::int as n from fruits where name = 'apple'`)).rows).toEqual([{ n: 2 }]);

    const run = (await listRuns(db.pool, 'public')).at(-1);
    if (run === undefined) throw new Error('no run');
    const steps = dropIndex.complete({ name: 'idx_fruits_name' }, { before: run.before, after: run.after, versionSchema: run.versionSchema }).steps;
    await runSteps(db.pool, steps);
    await runSteps(db.pool, steps);
  });

  it('leaves the index in place on rollback', async () => {
    await start();
    await rollbackMigration({ pool: db.pool });
    expect(await indexExists('idx_fruits_name')).toBe(true);
    await expect(db.pool.query(`insert into fruits (name) values ('fruit1')`)).rejects.toThrow(/idx_fruits_name/);
  });

  it('refuses an index that does not exist, naming the ones that do', async () => {
    const missing = migrationFrom('02_missing', `operations:\n  - drop_index: { name: idx_nowhere }\n`);
    await expect(startMigration(missing, { pool: db.pool })).rejects.toThrow(
      /operations\[0\]\.drop_index: index "idx_nowhere" does not exist in schema "public" \(it has: fruits_pkey, idx_fruits_name\)/,
    );
    expect(await listRuns(db.pool, 'public')).toEqual([]);
  });

  it('refuses the index of a constraint, which only dropping the constraint can remove', async () => {
    const key = migrationFrom('02_key', `operations:\n  - drop_index: { name: fruits_pkey }\n`);
    await expect(startMigration(key, { pool: db.pool })).rejects.toThrow(/index "fruits_pkey" belongs to the primary key constraint "fruits_pkey" of table "fruits": drop the constraint instead/);
  });

  it('drops an index an earlier operation of the same migration created, on complete', async () => {
    const both = migrationFrom(
      '02_both',
      `operations:
  - create_index: { name: idx_fruits_id_name, table: fruits, columns: [{ column: id }, { column: name }] }
  - drop_index: { name: idx_fruits_id_name }
`,
    );
    await startMigration(both, { pool: db.pool });
    expect(await indexExists('idx_fruits_id_name')).toBe(true);
    await completeMigration({ pool: db.pool });
    expect(await indexExists('idx_fruits_id_name')).toBe(false);
  });
});
