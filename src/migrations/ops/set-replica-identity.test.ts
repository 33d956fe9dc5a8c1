import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createMigrationDatabase, migrationFrom, type MigrationDatabase } from '../../../test/helpers/migrations.js';
import { completeMigration, rollbackMigration, startMigration } from '../runner.js';
import { listRuns } from '../state.js';
import { runSteps } from '../steps.js';
import { setReplicaIdentity } from './set-replica-identity.js';

let db: MigrationDatabase;

beforeAll(async () => {
  db = await createMigrationDatabase();
});

beforeEach(async () => {
  await db.reset();
  await db.pool.query(`create table fruits (id serial primary key, name text not null, colour text); insert into fruits (name) select 'fruit' || n from generate_series(1, 20) n`);
  await db.pool.query('create unique index idx_fruits_name on fruits (name); create index idx_fruits_colour on fruits (colour)');
});

const start = (yaml: string, name = '02_identity') => startMigration(migrationFrom(name, yaml), { pool: db.pool });

const toPrimaryKey = `operations:
  - set_replica_identity:
      table: fruits
      identity:
        type: index
        index: fruits_pkey
`;

/** `d`, `f`, `n`, or the name of the identity index. */
async function identity(): Promise<string> {
  const found = await db.pool.query<{ identity: string; index: string | null }>(
    `select c.relreplident::text as identity, (select i.relname from pg_index x join pg_class i on i.oid = x.indexrelid where x.indrelid = c.oid and x.indisreplident) as index
       from pg_class c where c.oid = 'public.fruits'::regclass`,
  );
  const row = found.rows[0];
  return row?.identity === 'i' ? (row.index ?? 'i') : (row?.identity ?? 'none');
}

async function lastRun() {
  const run = (await listRuns(db.pool, 'public')).at(-1);
  if (run === undefined) throw new Error('no run recorded');
  return run;
}

describe('set_replica_identity', () => {
  it('sets the identity on start (pgroll example 29), both versions keep writing, and complete keeps it', async () => {
    await start(toPrimaryKey);
    expect(await identity()).toBe('fruits_pkey');
    const oldApp = await db.clientFor('public');
    const newApp = await db.clientFor('public_02_identity');
    const fromOld = await oldApp.query<{ id: number }>(`insert into fruits (name, colour) values ('apple', 'red') returning id`);
    const fromNew = await newApp.query<{ id: number }>(`insert into fruits (name, colour) values ('pear', 'green') returning id`);
    await newApp.query(`update fruits set colour = 'yellow' where id = $1`, [fromOld.rows[0]?.id]);
    await oldApp.query(`delete from fruits where id = $1`, [fromNew.rows[0]?.id]);
    expect((await oldApp.query(`select name, colour from fruits where name in ('apple', 'pear')`)).rows).toEqual([{ name: 'apple', colour: 'yellow' }]);
    expect((await newApp.query(`select name, colour from fruits where name in ('apple', 'pear')`)).rows).toEqual([{ name: 'apple', colour: 'yellow' }]);

    await completeMigration({ pool: db.pool });
    expect(await identity()).toBe('fruits_pkey');
    await newApp.query(`update fruits set colour = 'gold' where name = 'apple'`);
  });

  it('restores the identity the table had on rollback, and its rollback steps run twice without harm', async () => {
    await db.pool.query('alter table fruits replica identity full');
    await start(toPrimaryKey);
    expect(await identity()).toBe('fruits_pkey');
    await rollbackMigration({ pool: db.pool });
    expect(await identity()).toBe('f');
    const run = await lastRun();
    const steps = setReplicaIdentity.rollback({ table: 'fruits', identity: { type: 'index', index: 'fruits_pkey' } }, { before: run.before, after: run.after, versionSchema: run.versionSchema });
    await runSteps(db.pool, steps);
    await runSteps(db.pool, steps);
    expect(await identity()).toBe('f');
  });

  it('takes the type in any case, and restores a previous identity index', async () => {
    await db.pool.query('alter table fruits replica identity using index idx_fruits_name');
    await start(`operations:\n  - set_replica_identity: { table: fruits, identity: { type: NOTHING, index: '' } }\n`);
    expect(await identity()).toBe('n');
    await rollbackMigration({ pool: db.pool });
    expect(await identity()).toBe('idx_fruits_name');
  });

  it('restores the identity from before the migration when two operations set it', async () => {
    await start(`operations:
  - set_replica_identity: { table: fruits, identity: { type: full, index: '' } }
  - set_replica_identity: { table: fruits, identity: { type: index, index: idx_fruits_name } }
`);
    expect(await identity()).toBe('idx_fruits_name');
    await rollbackMigration({ pool: db.pool });
    expect(await identity()).toBe('d');
  });

  it('uses a unique index created earlier in the same migration, and a rollback removes both', async () => {
    await start(`operations:
  - create_index: { name: idx_fruits_name_id, table: fruits, unique: true, columns: [{ column: name }, { column: id }] }
  - set_replica_identity: { table: fruits, identity: { type: index, index: idx_fruits_name_id } }
`);
    expect(await identity()).toBe('idx_fruits_name_id');
    await rollbackMigration({ pool: db.pool });
    expect(await identity()).toBe('d');
    expect((await db.pool.query(`select to_regclass('public.idx_fruits_name_id') as found`)).rows).toEqual([{ found: null }]);
  });
});

describe('set_replica_identity refuses', () => {
  it.each([
    ['a missing table', `{ table: vegetables, identity: { type: full, index: '' } }`, /operations\[0\]\.set_replica_identity: table "vegetables" does not exist/],
    ['an unknown type', `{ table: fruits, identity: { type: everything, index: '' } }`, /identity type "everything" is not one of default, full, nothing, index/],
    ['type index without an index', `{ table: fruits, identity: { type: index, index: '' } }`, /identity type "index" needs the name of the index in "index"/],
    ['a missing index', `{ table: fruits, identity: { type: index, index: idx_nowhere } }`, /index "idx_nowhere" does not exist on table "fruits" \(it has: fruits_pkey, idx_fruits_colour, idx_fruits_name\)/],
    ['an index that is not unique', `{ table: fruits, identity: { type: index, index: idx_fruits_colour } }`, /index "idx_fruits_colour" of table "fruits" is not unique/],
  ])('%s, before touching the database', async (_what, body, message) => {
    await expect(start(`operations:\n  - set_replica_identity: ${body}\n`)).rejects.toThrow(message);
    expect(await listRuns(db.pool, 'public')).toEqual([]);
    expect(await identity()).toBe('d');
  });
});
