/**
 * `promote migrate plan|start|status|complete|rollback|history` through the real command code, on a
 * real app database: what a person types to run one pgroll-format migration by hand.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { afterFile } from '../helpers/cleanup.js';
import { runInProcess } from '../helpers/cli.js';
import { createTestDatabase } from '../helpers/database.js';
import { scratchFolder } from '../helpers/scratch.js';

describe('promote migrate, by hand', () => {
  let folder: string;
  let url: string;
  let pool: pg.Pool;
  const cli = (...args: string[]) => runInProcess(args, { cwd: folder });

  beforeAll(async () => {
    folder = await scratchFolder('promote-migrate-cli-');
    url = (await createTestDatabase()).url;
    pool = new pg.Pool({ connectionString: url, max: 2 });
    afterFile('closing the app database pool', () => pool.end());
    await pool.query(`create table products (id serial primary key, name text not null); insert into products (name) select 'product ' || n from generate_series(1, 300) n`);
    await writeFile(join(folder, '03_add_sku.yaml'), `operations:\n  - add_column:\n      table: products\n      up: upper(replace(name, ' ', '-'))\n      column: { name: sku, type: text, unique: true }\n`);
    await writeFile(join(folder, '04_broken.yaml'), `operations:\n  - add_column:\n      table: products\n      column: { name: price }\n`);
  });

  it('plans without changing anything: the SQL of start, complete and rollback', async () => {
    const plan = await cli('migrate', 'plan', '03_add_sku.yaml', '--database', url);
    expect(plan.stderr).toBe('');
    expect(plan.code).toBe(0);
    expect(plan.stdout).toMatch(/the new version reads and writes through schema public_03_add_sku/);
    expect(plan.stdout).toMatch(/-- start \(then backfill products\)\nalter table "public"\."products" add column "_promote_new_sku" text/);
    expect(plan.stdout).toMatch(/create unique index concurrently .*; {2}-- outside a transaction/);
    expect(plan.stdout).toMatch(/-- rollback\ndrop schema if exists "public_03_add_sku" cascade;/);
    const columns = await pool.query(`select count(*)::int as n from information_schema.columns where table_name = 'products'`);
    expect(columns.rows[0]).toEqual({ n: 2 });
  });

  it('starts, reports status, completes through the integrity gate and lists the history', async () => {
    const started = await cli('migrate', 'start', '03_add_sku.yaml', '--database', url);
    expect(started.code).toBe(0);
    expect(started.stdout).toContain('started 03_add_sku: the new version uses search_path public_03_add_sku');
    expect(started.stderr).toMatch(/backfill public\.products: 300\/300 rows \[#{20}\]/);
    const status = JSON.parse((await cli('migrate', 'status', '--database', url, '--json')).stdout) as { migration: { name: string; phase: string; backfilled: boolean } };
    expect(status.migration).toMatchObject({ name: '03_add_sku', phase: 'started', backfilled: true });
    expect((await pool.query(`select sku from public_03_add_sku.products where id = 12`)).rows).toEqual([{ sku: 'PRODUCT-12' }]);

    const again = await cli('migrate', 'start', '03_add_sku.yaml', '--database', url);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('started 03_add_sku');

    const completed = await cli('migrate', 'complete', '--database', url);
    expect(completed.code).toBe(0);
    expect(completed.stdout).toContain('completed 03_add_sku');
    const history = JSON.parse((await cli('migrate', 'history', '--database', url, '--json')).stdout) as { name: string; phase: string }[];
    expect(history.map((run) => [run.name, run.phase])).toEqual([['03_add_sku', 'completed']]);
    const table = await cli('migrate', 'history', '--database', url);
    expect(table.stdout).toMatch(/^NAME\s+PHASE\s+CHECKSUM\s+STARTED\s+ENDED\n03_add_sku\s+completed\s+[0-9a-f]{12}/);
    expect(table.stdout).toMatch(/chain of 1 run\(s\) intact, head [0-9a-f]{12}/);
  });

  it('undoes a complete within its window, then rolls back to the table as it was', async () => {
    await writeFile(join(folder, '05_drop_name.yaml'), `operations:\n  - drop_column:\n      table: products\n      column: name\n      down: "'product ' || id"\n`);
    expect((await cli('migrate', 'start', '05_drop_name.yaml', '--database', url)).code).toBe(0);
    const completed = await cli('migrate', 'complete', '--database', url, '--undo-window', '1h');
    expect(completed.code).toBe(0);
    const status = JSON.parse((await cli('migrate', 'status', '--database', url, '--json')).stdout) as { migration: { phase: string; undoUntil: string | null } };
    expect(status.migration.phase).toBe('undoable');
    expect(Date.parse(status.migration.undoUntil ?? '') - Date.now()).toBeGreaterThan(55 * 60_000);
    // the new version writes after complete; the kept column follows through down
    await pool.query(`insert into public_05_drop_name.products (sku) values ('NEW-1')`);
    const undone = await cli('migrate', 'undo', '--database', url);
    expect(undone.stderr).toBe('');
    expect(undone.code).toBe(0);
    expect((await pool.query(`select name from public_03_add_sku.products where sku = 'NEW-1'`)).rows).toEqual([{ name: expect.stringMatching(/^product \d+$/) as unknown }]);
    expect((await cli('migrate', 'rollback', '--database', url)).code).toBe(0);
    const columns = await pool.query<{ column_name: string }>(`select column_name from information_schema.columns where table_schema = 'public' and table_name = 'products' order by ordinal_position`);
    expect(columns.rows.map((row) => row.column_name)).toEqual(['id', 'name', 'sku']);
  });

  it('says clearly what is wrong: nothing in flight, a bad file, no database', async () => {
    const nothing = await cli('migrate', 'rollback', '--database', url);
    expect(nothing.code).toBe(1);
    expect(nothing.stderr).toContain('nothing to roll back: no migration is in flight on schema "public"');
    const broken = await cli('migrate', 'start', '04_broken.yaml', '--database', url);
    expect(broken.code).not.toBe(0);
    expect(broken.stderr).toMatch(/04_broken\.yaml:4:\d+: operations\[0\]\.add_column\.column: missing required field "type"/);
    const nowhere = await cli('migrate', 'status');
    expect(nowhere.code).toBe(2);
    expect(nowhere.stderr).toContain('which database? name it with --database <url>, or --env <name> to take it from promote.yaml');
  });
});
