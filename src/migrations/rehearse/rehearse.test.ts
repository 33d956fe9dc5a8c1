import { beforeAll, describe, expect, it } from 'vitest';
import { afterFile } from '../../../test/helpers/cleanup.js';
import { createMigrationDatabase, migrationFrom, type MigrationDatabase } from '../../../test/helpers/migrations.js';
import { rollbackMigration, startMigration } from '../runner.js';
import { rehearseMigration, type Rehearsal, type TracedStatement } from './rehearse.js';
import { formatRehearsal, shorten } from './report.js';
import { startScratchServer } from './scratch.js';

let app: MigrationDatabase;
let adminUrl: string;

beforeAll(async () => {
  const server = await startScratchServer();
  afterFile('stopping the scratch server', () => server.stop());
  adminUrl = server.adminUrl;
  app = await createMigrationDatabase();
  await app.pool.query(`create table products (id serial primary key, name text not null, price int); insert into products (name, price) select 'product ' || n, n from generate_series(1, 30000) n`);
});

const rehearse = (name: string, yaml: string, options: { rows?: number; rollback?: boolean } = {}) =>
  rehearseMigration(migrationFrom(name, yaml), { source: app.pool, rows: options.rows ?? 30000, rollback: options.rollback ?? false, scratchAdminUrl: adminUrl });

function statement(rehearsal: Rehearsal, phase: string, sql: RegExp): TracedStatement {
  const found = rehearsal.statements.find((each) => each.phase === phase && sql.test(each.sql));
  if (found === undefined) throw new Error(`no ${phase} statement matches ${sql}:\n${formatRehearsal(rehearsal)}`);
  return found;
}

const modes = (traced: TracedStatement) => traced.locks.filter((lock) => !lock.created).map((lock) => `${lock.mode} on ${lock.relation}`);

const addSku = `operations:\n  - add_column:\n      table: products\n      up: upper(replace(name, ' ', '-'))\n      column: { name: sku, type: text, unique: true }\n`;

describe('rehearse', () => {
  it('add_column: the new column takes ACCESS EXCLUSIVE on the table for a moment; the unique index is built without blocking writes', async () => {
    const rehearsal = await rehearse('02_add_sku', addSku);
    const addColumn = statement(rehearsal, 'start', /add column "_promote_new_sku"/);
    expect(modes(addColumn)).toEqual(['ACCESS EXCLUSIVE on public.products']);
    expect(addColumn.blocks).toBe('reads and writes');
    expect(addColumn.heldMs).toBeGreaterThan(0);
    expect(addColumn.heldMs).toBeLessThan(rehearsal.budgetMs);

    const index = statement(rehearsal, 'start', /create unique index concurrently/);
    expect(index.outsideTransaction).toBe(true);
    expect(index.sampled).toBe(true);
    expect(modes(index)).toEqual(['SHARE UPDATE EXCLUSIVE on public.products']);
    expect(index.blocks).toBe('nothing');

    // the dual-write trigger: SHARE ROW EXCLUSIVE, which lets reads through but not writes
    expect(statement(rehearsal, 'start', /create or replace trigger/).blocks).toBe('writes');
    // the new version's view takes ACCESS EXCLUSIVE only on itself, which no app query can see yet
    const views = statement(rehearsal, 'start', /create view/);
    expect(views.locks).toContainEqual({ relation: 'public_02_add_sku.products', kind: 'view', mode: 'ACCESS EXCLUSIVE', created: true });
    expect(views.blocks).toBe('nothing');

    expect(rehearsal.backfill.map(({ table, rows }) => ({ table, rows }))).toEqual([{ table: 'public.products', rows: 30000 }]);
    expect(statement(rehearsal, 'complete', /rename column "_promote_new_sku" to "sku"/).blocks).toBe('reads and writes');
    expect(rehearsal.overBudget).toBe(0);

    // the app database is read, never written
    const untouched = await app.pool.query(`select (select count(*) from information_schema.columns where table_name = 'products')::int as columns, to_regnamespace('promote_migrate') as state`);
    expect(untouched.rows).toEqual([{ columns: 3, state: null }]);
  });

  it('create_index: SHARE UPDATE EXCLUSIVE, which blocks neither reads nor writes', async () => {
    const rehearsal = await rehearse('03_index', `operations:\n  - create_index:\n      name: products_by_name\n      table: products\n      columns: [{ column: name }]\n`);
    const index = statement(rehearsal, 'start', /create index concurrently "products_by_name"/);
    expect(index.sampled).toBe(true);
    expect(modes(index)).toEqual(['SHARE UPDATE EXCLUSIVE on public.products']);
    const report = formatRehearsal(rehearsal);
    expect(report).toMatch(/start +create index concurrently products_by_name on products \(name\) +SHARE UPDATE EXCLUSIVE on products +\d+(\.\d)? ms {2}ok\n/);
    expect(report).toContain('no statement blocks the app longer than the 500 ms lock budget');
  });

  it('alter_column: complete swaps the columns under ACCESS EXCLUSIVE; rollback is rehearsed on a second copy', async () => {
    const rehearsal = await rehearse('04_price', `operations:\n  - alter_column:\n      table: products\n      column: price\n      type: bigint\n      up: price\n      down: price\n`, { rollback: true });
    const swap = statement(rehearsal, 'complete', /rename column "_promote_new_price" to "price"/);
    expect(modes(swap)).toEqual(['ACCESS EXCLUSIVE on public.products']);
    // the table's switch (complete-schedule.ts): the triggers go in the same transaction as the swap
    expect(swap.sql).toContain('drop column if exists "price"');
    expect(swap.sql).toContain('_promote_trg_products__promote_new_price"() cascade');
    expect(swap.switchOf).toBe('products');
    expect(shorten(swap.sql, 'public', swap.switchOf)).toMatch(/^switch products: drop column price; rename _promote_new_price to price; /);
    expect(rehearsal.statements.map((each) => each.phase)).toEqual(expect.arrayContaining(['start', 'complete', 'rollback']));
    expect(statement(rehearsal, 'rollback', /drop column if exists "_promote_new_price"/).blocks).toBe('reads and writes');
    // the rollback copy's start is only its setup: each phase is reported once
    expect(rehearsal.statements.filter((each) => each.phase === 'start' && /create or replace trigger "_promote_trg_products_price"/.test(each.sql))).toHaveLength(1);
  });

  it('flags a statement that would block the app longer than the lock budget', async () => {
    const rehearsal = await rehearse('05_slow', `operations:\n  - sql:\n      up: lock table products in share mode; select pg_sleep(0.6)\n      down: select 1\n`);
    const slow = statement(rehearsal, 'start', /pg_sleep/);
    expect(slow.blocks).toBe('writes');
    expect(slow.heldMs).toBeGreaterThan(600);
    expect(slow.overBudget).toBe(true);
    expect(rehearsal.overBudget).toBe(1);
    const report = formatRehearsal(rehearsal);
    expect(report).toMatch(/SHARE on products +\d+ ms {2}blocks writes for \d+ ms: OVER the 500 ms budget/);
    expect(report).toContain('1 statement(s) would block the app longer than the 500 ms lock budget');
  });

  it('says that times on an empty copy mean little', async () => {
    const rehearsal = await rehearse('06_empty', addSku, { rows: 0 });
    expect(rehearsal.backfill.map(({ table, rows }) => ({ table, rows }))).toEqual([{ table: 'public.products', rows: 0 }]);
    expect(formatRehearsal(rehearsal)).toContain('held times are those of empty tables: rehearse with --rows <n> for times that mean something');
  });

  it('refuses while a migration is in flight on the app database', async () => {
    await startMigration(migrationFrom('07_in_flight', addSku), { pool: app.pool });
    try {
      await expect(rehearse('08_next', addSku)).rejects.toThrow('cannot rehearse on schema "public": migration "07_in_flight" is started there');
    } finally {
      await rollbackMigration({ pool: app.pool });
    }
  });
});
