import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createMigrationDatabase, migrationFrom, type MigrationDatabase } from '../../../test/helpers/migrations.js';
import { completeMigration, rollbackMigration, startMigration } from '../runner.js';
import { listRuns } from '../state.js';
import { runSteps } from '../steps.js';
import { createIndex } from './create-index.js';

let db: MigrationDatabase;

beforeAll(async () => {
  db = await createMigrationDatabase();
});

beforeEach(async () => {
  await db.reset();
  await db.pool.query(`create table fruits (id bigserial primary key, name text not null); insert into fruits (name) select 'fruit' || n from generate_series(1, 200) n`);
});

const start = (yaml: string, name = '02_index') => startMigration(migrationFrom(name, yaml), { pool: db.pool });

async function indexDef(name: string): Promise<{ def: string; valid: boolean } | undefined> {
  const found = await db.pool.query<{ def: string; valid: boolean }>(
    `select pg_get_indexdef(x.indexrelid) as def, x.indisvalid as valid from pg_index x join pg_class i on i.oid = x.indexrelid
      join pg_namespace n on n.oid = i.relnamespace where n.nspname = 'public' and i.relname = $1`,
    [name],
  );
  return found.rows[0];
}

async function lastRun() {
  const run = (await listRuns(db.pool, 'public')).at(-1);
  if (run === undefined) throw new Error('no run recorded');
  return run;
}

const uniqueName = `operations:
  - create_index:
      name: idx_fruits_unique_name
      table: fruits
      columns: [{ column: name }]
      unique: true
`;

describe('create_index', () => {
  it('builds a unique index while the old version writes, and both versions keep writing under it', async () => {
    const oldApp = await db.clientFor('public');
    let writing = true;
    let written = 0;
    const writer = (async () => {
      while (writing) {
        await oldApp.query(`insert into fruits (name) values ('during' || $1)`, [written]);
        written += 1;
      }
    })();
    await start(uniqueName);
    writing = false;
    await writer;
    expect(written).toBeGreaterThan(0);
    expect(await indexDef('idx_fruits_unique_name')).toEqual({ def: 'CREATE UNIQUE INDEX idx_fruits_unique_name ON public.fruits USING btree (name)', valid: true });

    const newApp = await db.clientFor('public_02_index');
    const fromOld = await oldApp.query<{ id: number }>(`insert into fruits (name) values ('apple') returning id`);
    const fromNew = await newApp.query<{ id: number }>(`insert into fruits (name) values ('pear') returning id`);
    expect((await newApp.query('select name from fruits where id = $1', [fromOld.rows[0]?.id])).rows).toEqual([{ name: 'apple' }]);
    expect((await oldApp.query('select name from fruits where id = $1', [fromNew.rows[0]?.id])).rows).toEqual([{ name: 'pear' }]);
    await newApp.query(`update fruits set name = 'apricot' where id = $1`, [fromOld.rows[0]?.id]);
    expect((await oldApp.query('select name from fruits where id = $1', [fromOld.rows[0]?.id])).rows).toEqual([{ name: 'apricot' }]);
    // the index holds for both versions
    await expect(oldApp.query(`insert into fruits (name) values ('pear')`)).rejects.toThrow(/idx_fruits_unique_name/);
    await expect(newApp.query(`insert into fruits (name) values ('apricot')`)).rejects.toThrow(/idx_fruits_unique_name/);
    expect((await lastRun()).after.tables.find((table) => table.name === 'fruits')?.indexes.map((index) => index.name)).toContain('idx_fruits_unique_name');

    await completeMigration({ pool: db.pool });
    expect((await indexDef('idx_fruits_unique_name'))?.valid).toBe(true);
    await newApp.query(`insert into fruits (name) values ('plum')`);
    await expect(newApp.query(`insert into fruits (name) values ('plum')`)).rejects.toThrow(/idx_fruits_unique_name/);
  });

  it('rolls back by dropping the index, and its rollback steps run twice without harm', async () => {
    await start(uniqueName);
    await rollbackMigration({ pool: db.pool });
    expect(await indexDef('idx_fruits_unique_name')).toBeUndefined();
    const run = await lastRun();
    const operation = { name: 'idx_fruits_unique_name', table: 'fruits', columns: [{ column: 'name' }], unique: true };
    const steps = createIndex.rollback(operation, { before: run.before, after: run.after, versionSchema: run.versionSchema });
    await runSteps(db.pool, steps);
    await runSteps(db.pool, steps);
    expect(createIndex.complete(operation, { before: run.before, after: run.after, versionSchema: run.versionSchema }).steps).toEqual([]);
    const oldApp = await db.clientFor('public');
    await oldApp.query(`insert into fruits (name) values ('fruit1')`);
  });

  it('indexes a column added in the same migration in its temporary column, and keeps the index when complete renames it', async () => {
    await start(
      `operations:
  - add_column:
      table: fruits
      up: length(name)
      column: { name: weight, type: int, nullable: true }
  - create_index:
      name: idx_fruits_heavy
      table: fruits
      columns: [{ column: weight, sort: DESC, nulls: LAST }]
      predicate: weight > 8
`,
    );
    expect((await indexDef('idx_fruits_heavy'))?.def).toBe('CREATE INDEX idx_fruits_heavy ON public.fruits USING btree (_promote_new_weight DESC NULLS LAST) WHERE (_promote_new_weight > 8)');
    const oldApp = await db.clientFor('public');
    const newApp = await db.clientFor('public_02_index');
    await oldApp.query(`insert into fruits (name) values ('watermelon')`);
    await newApp.query(`insert into fruits (name, weight) values ('fig', 100)`);
    expect((await newApp.query(`select name, weight from fruits where weight > 8 order by weight desc`)).rows).toEqual([
      { name: 'fig', weight: 100 },
      { name: 'watermelon', weight: 10 },
    ]);
    expect((await oldApp.query(`select count(*)::int as n from fruits where name in ('fig', 'watermelon')`)).rows).toEqual([{ n: 2 }]);

    await completeMigration({ pool: db.pool });
    expect((await indexDef('idx_fruits_heavy'))?.def).toBe('CREATE INDEX idx_fruits_heavy ON public.fruits USING btree (weight DESC NULLS LAST) WHERE (weight > 8)');
    await newApp.query(`insert into fruits (name, weight) values ('melon', 9)`);
    expect((await newApp.query(`select count(*)::int as n from fruits where weight > 8`)).rows).toEqual([{ n: 3 }]);
  });

  it('writes the method, storage parameters, predicate, operator class and collation of pgroll examples 37, 38 and 54, and operator class parameters', async () => {
    await start(
      `operations:
  - create_index:
      name: idx_fruits_id_gt_10
      table: fruits
      columns: [{ column: id }]
      predicate: id > 10
  - create_index:
      name: idx_fruits_name_hash
      table: fruits
      columns: [{ column: name }]
      method: hash
      storage_parameters: fillfactor = 70
  - create_index:
      name: idx_fruits_custom_opclass
      table: fruits
      columns: [{ column: id, opclass: { name: int8_ops } }]
  - create_index:
      name: idx_fruits_name_c
      table: fruits
      columns: [{ column: name, collate: '"C"', opclass: { name: text_pattern_ops } }, { column: id, sort: DESC }]
  - create_index:
      name: idx_fruits_id_brin
      table: fruits
      method: brin
      columns: [{ column: id, opclass: { name: int8_minmax_multi_ops, params: [values_per_range = 16] } }]
`,
    );
    expect((await indexDef('idx_fruits_id_gt_10'))?.def).toBe('CREATE INDEX idx_fruits_id_gt_10 ON public.fruits USING btree (id) WHERE (id > 10)');
    expect((await indexDef('idx_fruits_name_hash'))?.def).toBe("CREATE INDEX idx_fruits_name_hash ON public.fruits USING hash (name) WITH (fillfactor='70')");
    // pg_get_indexdef leaves out a column type's default operator class
    const opclass = await db.pool.query(`select o.opcname from pg_index x join pg_opclass o on o.oid = x.indclass[0] where x.indexrelid = 'public.idx_fruits_custom_opclass'::regclass`);
    expect(opclass.rows).toEqual([{ opcname: 'int8_ops' }]);
    expect((await indexDef('idx_fruits_name_c'))?.def).toBe('CREATE INDEX idx_fruits_name_c ON public.fruits USING btree (name COLLATE "C" text_pattern_ops, id DESC)');
    expect((await indexDef('idx_fruits_id_brin'))?.def).toBe("CREATE INDEX idx_fruits_id_brin ON public.fruits USING brin (id int8_minmax_multi_ops (values_per_range='16'))");
    await completeMigration({ pool: db.pool });
    expect((await indexDef('idx_fruits_name_hash'))?.valid).toBe(true);
  });

  it('indexes a table created and renamed in the same migration', async () => {
    await start(
      `operations:
  - create_table:
      name: items
      columns: [{ name: id, type: int, pk: true }, { name: label, type: text, nullable: true }]
  - rename_table: { from: items, to: products }
  - rename_column: { table: products, from: label, to: title }
  - create_index:
      name: idx_products_title
      table: products
      columns: [{ column: title }]
`,
    );
    expect((await indexDef('idx_products_title'))?.def).toBe('CREATE INDEX idx_products_title ON public.items USING btree (label)');
    await completeMigration({ pool: db.pool });
    expect((await indexDef('idx_products_title'))?.def).toBe('CREATE INDEX idx_products_title ON public.products USING btree (title)');
  });
});

describe('create_index over a failed concurrent build', () => {
  it('leaves no invalid index when a unique build fails on duplicates, and a later start succeeds once they are fixed', async () => {
    await db.pool.query(`insert into fruits (name) values ('fruit1'), ('fruit2')`);
    await expect(start(uniqueName)).rejects.toThrow(/rolled back.*could not create unique index "idx_fruits_unique_name"/s);
    expect(await indexDef('idx_fruits_unique_name')).toBeUndefined();
    expect((await lastRun()).phase).toBe('rolled_back');

    await db.pool.query(`delete from fruits where id > 200`);
    await start(uniqueName);
    expect((await indexDef('idx_fruits_unique_name'))?.valid).toBe(true);
  });

  it('drops an invalid index of its name left on its table (a rollback that never ran) before building again', async () => {
    await db.pool.query(`insert into fruits (name) values ('fruit1')`);
    await expect(db.pool.query('create unique index concurrently idx_fruits_unique_name on fruits (name)')).rejects.toThrow(/could not create unique index/);
    expect((await indexDef('idx_fruits_unique_name'))?.valid).toBe(false);
    await db.pool.query(`delete from fruits where id > 200`);

    await start(uniqueName);
    expect(await indexDef('idx_fruits_unique_name')).toEqual({ def: 'CREATE UNIQUE INDEX idx_fruits_unique_name ON public.fruits USING btree (name)', valid: true });
    const indexes = (await lastRun()).after.tables.find((table) => table.name === 'fruits')?.indexes.filter((index) => index.name === 'idx_fruits_unique_name');
    expect(indexes).toHaveLength(1);
  });
});

describe('create_index refuses', () => {
  it.each([
    ['a missing table', `{ name: idx_x, table: vegetables, columns: [{ column: name }] }`, /operations\[0\]\.create_index: table "vegetables" does not exist in schema "public" \(it has: fruits\)/],
    ['a missing column', `{ name: idx_x, table: fruits, columns: [{ column: colour }] }`, /operations\[0\]\.create_index: column "colour" does not exist in table "fruits" \(it has: id, name\)/],
    ['a name an index has', `{ name: fruits_pkey, table: fruits, columns: [{ column: name }] }`, /index "fruits_pkey" already exists on table "fruits"/],
    ['a name a table has', `{ name: fruits, table: fruits, columns: [{ column: name }] }`, /the name "fruits" is taken: schema "public" has a table of that name/],
    ['a name PostgreSQL would cut', `{ name: ${'x'.repeat(64)}, table: fruits, columns: [{ column: name }] }`, /"name" x{64} is longer than PostgreSQL's limit of 63 bytes/],
  ])('%s, before touching the database', async (_what, body, message) => {
    await expect(start(`operations:\n  - create_index: ${body}\n`)).rejects.toThrow(message);
    expect(await listRuns(db.pool, 'public')).toEqual([]);
  });

  it('a name an earlier operation of the same migration gives an index', async () => {
    const twice = `operations:
  - create_index: { name: idx_same, table: fruits, columns: [{ column: name }] }
  - create_index: { name: idx_same, table: fruits, columns: [{ column: id }] }
`;
    await expect(start(twice)).rejects.toThrow(/operations\[1\]\.create_index: index "idx_same" already exists on table "fruits"/);
  });
});
