/**
 * `promote migrate rehearse` through the real command code, against a real app database with rows:
 * the migration runs on a scratch copy and the report names each statement's locks and how long it
 * held them, while the app database is only read.
 */
import { readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { startScratchServer } from '../../src/migrations/rehearse/scratch.js';
import { afterFile } from '../helpers/cleanup.js';
import { runInProcess } from '../helpers/cli.js';
import { createTestDatabase } from '../helpers/database.js';
import { scratchFolder } from '../helpers/scratch.js';

interface JsonRehearsal {
  migration: string;
  rows: number;
  budgetMs: number;
  overBudget: number;
  copy: { tables: number; rows: Record<string, number>; orphansDropped: number };
  statements: { phase: string; sql: string; heldMs: number; blocks: string; overBudget: boolean; locks: { relation: string; mode: string; created: boolean }[] }[];
  backfill: { table: string; rows: number; ms: number }[];
}

describe('promote migrate rehearse', () => {
  let folder: string;
  let url: string;
  let scratch: string;
  let pool: pg.Pool;
  const cli = (...args: string[]) => runInProcess(args, { cwd: folder });

  beforeAll(async () => {
    const server = await startScratchServer();
    afterFile('stopping the scratch server', () => server.stop());
    scratch = server.adminUrl;
    folder = await scratchFolder('promote-migrate-rehearse-');
    url = (await createTestDatabase()).url;
    pool = new pg.Pool({ connectionString: url, max: 2 });
    afterFile('closing the app database pool', () => pool.end());
    await pool.query(`
      create table customers (id serial primary key, email text not null unique);
      create table orders (id bigint generated always as identity primary key, customer_id int not null references customers (id), total numeric(10, 2) not null check (total >= 0));
      create index orders_by_customer on orders (customer_id);
      insert into customers (email) select 'c' || n || '@example.com' from generate_series(1, 3000) n;
      insert into orders (customer_id, total) select 1 + n % 3000, n % 500 from generate_series(1, 20000) n`);
    await writeFile(join(folder, '05_order_note.yaml'), `operations:\n  - add_column:\n      table: orders\n      column: { name: note, type: text, nullable: true }\n  - create_index:\n      name: orders_by_total\n      table: orders\n      columns: [{ column: total }]\n`);
    await writeFile(join(folder, '06_slow.yaml'), `operations:\n  - sql:\n      up: lock table orders in share mode; select pg_sleep(0.3)\n      down: select 1\n`);
    await writeFile(
      join(folder, 'promote.yaml'),
      `version: 1\napp:\n  name: shop\nmigrations:\n  lockTimeout: 100ms\nenvironments:\n  - name: staging\n    database: ${url}\n    target:\n      type: process\n      command: node server.js\n    strategy: canary\nstrategies:\n  canary:\n    type: canary\n    steps:\n      - setWeight: 50\n      - promote: {}\n`,
    );
  });

  // --database names the app database; the lock budget still comes from promote.yaml (100 ms here)
  it('reports each statement of start, complete and rollback with its locks, how long it held them and what it blocks', async () => {
    const result = await cli('migrate', 'rehearse', '05_order_note.yaml', '--database', url, '--rows', '5000', '--rollback', '--scratch-server', scratch);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('rehearsed 05_order_note on a scratch copy of schema public (2 tables, up to 5000 rows per table); lock budget 100 ms');
    expect(result.stdout).toMatch(/^PHASE +STATEMENT +LOCKS +HELD +VERDICT$/m);
    expect(result.stdout).toMatch(/^start +alter table orders add column _promote_new_note text +ACCESS EXCLUSIVE on orders +\d+(\.\d)? ms {2}blocks reads and writes for \d+(\.\d)? ms$/m);
    expect(result.stdout).toMatch(/^start +create index concurrently orders_by_total on orders \(total\) +SHARE UPDATE EXCLUSIVE on orders +\d+(\.\d)? ms {2}ok$/m);
    expect(result.stdout).toMatch(/^rollback +drop index concurrently orders_by_total/m);
    expect(result.stdout).toContain('no statement blocks the app longer than the 100 ms lock budget');

    // the app database was only read
    const columns = await pool.query(`select count(*)::int as n from information_schema.columns where table_name = 'orders'`);
    expect(columns.rows).toEqual([{ n: 3 }]);
    expect((await pool.query(`select to_regnamespace('promote_migrate') as state`)).rows).toEqual([{ state: null }]);
  });

  it('prints everything as JSON, with the sampled rows copied', async () => {
    const result = await cli('migrate', 'rehearse', '05_order_note.yaml', '--database', url, '--rows', '2000', '--scratch-server', scratch, '--json');
    expect(result.code).toBe(0);
    const rehearsal = JSON.parse(result.stdout) as JsonRehearsal;
    expect(rehearsal).toMatchObject({ migration: '05_order_note', rows: 2000, budgetMs: 100, overBudget: 0 });
    expect(rehearsal.copy.rows).toEqual({ customers: 2000, orders: 2000 });
    // the sampled order of customer 2001 is left out (2000 customers were sampled), so the foreign key holds on the copy
    expect(rehearsal.copy.orphansDropped).toBe(1);
    // a nullable column without up needs no backfill
    expect(rehearsal.backfill).toEqual([]);
    const addColumn = rehearsal.statements.find((statement) => statement.phase === 'start' && statement.sql.includes('add column "_promote_new_note"'));
    expect(addColumn).toMatchObject({ blocks: 'reads and writes', overBudget: false });
    expect(addColumn?.locks).toContainEqual({ relation: 'public.orders', kind: 'table', mode: 'ACCESS EXCLUSIVE', created: false });
    expect(rehearsal.statements.some((statement) => statement.phase === 'complete')).toBe(true);
  });

  it('exits 1 when a statement would block the app longer than the lock budget of promote.yaml', async () => {
    const result = await cli('migrate', 'rehearse', '06_slow.yaml', '--env', 'staging', '--rows', '100', '--scratch-server', scratch);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('lock budget 100 ms');
    expect(result.stdout).toMatch(/^start +lock table orders in share mode; select pg_sleep\(0\.3\) +SHARE on orders +\d+ ms {2}blocks writes for \d+ ms: OVER the 100 ms budget$/m);
    expect(result.stdout).toContain('1 statement(s) would block the app longer than the 100 ms lock budget');
    // without rows the times are those of empty tables: reported, never failed on
    const schemaOnly = await cli('migrate', 'rehearse', '06_slow.yaml', '--env', 'staging', '--scratch-server', scratch);
    expect(schemaOnly.code).toBe(0);
    expect(schemaOnly.stdout).toContain('held times are those of empty tables');
  });

  it('starts a throwaway scratch server of its own when none is named, and removes it afterwards', async () => {
    const before = (await readdir(tmpdir())).filter((name) => name.startsWith('promote-rehearse-'));
    const result = await cli('migrate', 'rehearse', '05_order_note.yaml', '--database', url);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^start +alter table orders add column _promote_new_note text +ACCESS EXCLUSIVE on orders/m);
    const after = (await readdir(tmpdir())).filter((name) => name.startsWith('promote-rehearse-'));
    expect(after.filter((name) => !before.includes(name))).toEqual([]);
  });

  it('refuses bad input clearly', async () => {
    const rows = await cli('migrate', 'rehearse', '05_order_note.yaml', '--database', url, '--rows', 'many');
    expect(rows.code).toBe(2);
    expect(rows.stderr).toContain('--rows many: expected a whole number of rows, 0 or more');
  });
});
