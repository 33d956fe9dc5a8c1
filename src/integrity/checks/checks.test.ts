import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { afterFile } from '../../../test/helpers/cleanup.js';
import { createTestDatabase } from '../../../test/helpers/database.js';
import { scratchFolder } from '../../../test/helpers/scratch.js';
import { contractReleaseMigrations, expandReleaseMigrations } from '../../migrations/release-migrations.js';
import { integrityCheckSchema, type IntegrityCheckSpec } from '../../spec/schema-integrity.js';
import { runIntegrityCheck, runIntegrityChecks, type CheckContext } from './run-checks.js';

/** Checks against real databases: staging and production, each with the same small orders schema. */
const urls: Record<string, string> = {};
const pools: Record<string, pg.Pool> = {};
const context = (environment = 'production'): CheckContext => ({ environment, databaseUrl: (name) => urls[name]!, previousEnvironment: 'staging', migrationsSchema: 'public' });
const check = (spec: Record<string, unknown>): IntegrityCheckSpec => integrityCheckSchema.parse(spec);

const SCHEMA = `
  create table customers (id int primary key, region text not null, code text not null, unique (region, code));
  create table orders (id int primary key, customer_id int, region text, code text, email text, total numeric(10,2) not null default 0);
`;

beforeAll(async () => {
  for (const environment of ['staging', 'production']) {
    urls[environment] = (await createTestDatabase()).url;
    const pool = new pg.Pool({ connectionString: urls[environment], max: 2 });
    afterFile(`closing the ${environment} pool`, () => pool.end());
    pools[environment] = pool;
    await pool.query(SCHEMA);
  }
  const production = pools.production!;
  await production.query(`insert into customers select n, 'eu', 'c' || n from generate_series(1, 50) n`);
  await production.query(`insert into orders select n, 1 + n % 50, 'eu', 'c' || (1 + n % 50), 'o' || n || '@example.com', n from generate_series(1, 500) n`);
});

describe('integrity checks', () => {
  it('passes a rule query that returns nothing, and fails one that returns rows with the first of them as evidence', async () => {
    const good = await runIntegrityCheck('totals', check({ type: 'sql', query: 'select id from orders where total < 0;', description: 'no negative totals' }), context());
    expect(good).toMatchObject({ passed: true, summary: 'no negative totals: no offending rows' });
    const bad = await runIntegrityCheck('cheap', check({ type: 'sql', query: 'select id, total from orders where total < 30 order by id' }), context());
    expect(bad.passed).toBe(false);
    expect(bad.summary).toBe('its query: more than 20 offending row(s)');
    expect((bad.evidence.rows as unknown[])[0]).toEqual({ id: 1, total: '1.00' });
    expect(bad.evidence.rows).toHaveLength(20);
  });

  it('reads only: a query that would change data fails and changes nothing', async () => {
    const before = (await pools.production!.query<{ n: number }>('select count(*)::int as n from orders')).rows[0]!.n;
    const result = await runIntegrityCheck('sneaky', check({ type: 'sql', query: "select set_config('x.y', 'z', false), nextval('orders_id_seq')" }), context());
    expect(result.passed).toBe(false);
    expect(result.summary).toMatch(/^could not run: integrity check sneaky \(its query\): .*(does not exist|read-only)/);
    const update = await runIntegrityCheck('writer', check({ type: 'sql', query: 'select * from orders, lateral (select 1) x where false' }), context());
    expect(update.passed).toBe(true);
    expect((await pools.production!.query<{ n: number }>('select count(*)::int as n from orders')).rows[0]!.n).toBe(before);
  });

  it('fails a check that runs past its timeout, saying so', async () => {
    const slow = await runIntegrityCheck('slow', check({ type: 'sql', query: 'select 1 from pg_sleep(3)', timeout: '200ms' }), context());
    expect(slow.passed).toBe(false);
    expect(slow.summary).toContain('statement timeout');
  });

  it('counts NULLs per required column', async () => {
    const pool = pools.production!;
    expect(await runIntegrityCheck('emails', check({ type: 'notNull', table: 'orders', columns: ['email', 'region'] }), context())).toMatchObject({ passed: true, evidence: { rows: 500, nulls: { email: 0, region: 0 } } });
    await pool.query('update orders set email = null where id in (7, 8, 9)');
    try {
      const result = await runIntegrityCheck('emails', check({ type: 'notNull', table: 'public.orders', columns: ['email', 'region'] }), context());
      expect(result).toMatchObject({ passed: false, summary: 'public.orders: 3 NULL email of 500 rows', evidence: { nulls: { email: 3, region: 0 } } });
    } finally {
      await pool.query(`update orders set email = 'o' || id || '@example.com' where email is null`);
    }
  });

  it('finds references to missing rows, single and composite, and leaves NULL references alone', async () => {
    const pool = pools.production!;
    const single = check({ type: 'references', table: 'orders', columns: ['customer_id'], references: { table: 'customers', columns: ['id'] } });
    const composite = check({ type: 'references', table: 'orders', columns: ['region', 'code'], references: { table: 'customers', columns: ['region', 'code'] } });
    expect((await runIntegrityChecks([{ name: 'customer', spec: single }, { name: 'by-code', spec: composite }], context())).passed).toBe(true);
    await pool.query(`insert into orders (id, customer_id, region, code) values (9001, 999, 'us', 'c1'), (9002, null, null, 'zz'), (9003, 998, 'us', 'c1')`);
    try {
      const report = await runIntegrityChecks([{ name: 'customer', spec: single }, { name: 'by-code', spec: composite }], context());
      expect(report.passed).toBe(false);
      expect(report.checks.map((each) => [each.name, each.summary])).toEqual([
        ['customer', '2 row(s) of orders refer to no customers(id)'],
        ['by-code', '2 row(s) of orders refer to no customers(region, code)'],
      ]);
      expect(report.checks[1]!.evidence.missing).toEqual([{ region: 'us', code: 'c1' }]);
      expect(report.summary).toBe('customer: 2 row(s) of orders refer to no customers(id); by-code: 2 row(s) of orders refer to no customers(region, code)');
    } finally {
      await pool.query('delete from orders where id > 9000');
    }
  });

  it('compares the shape and the migration history with the environment before', async () => {
    const folder = await scratchFolder('promote-schema-check-');
    await mkdir(join(folder, 'migrations'));
    await writeFile(join(folder, 'migrations', '01_add_note.yaml'), 'operations:\n  - add_column:\n      table: orders\n      column: { name: note, type: text, nullable: true }\n');
    const schemaCheck = check({ type: 'schema' });
    const same = await runIntegrityCheck('same-shape', schemaCheck, context());
    expect(same.passed).toBe(true);
    expect(same.summary).toMatch(/^the same 0 migration\(s\) and shape \(\d+ objects\) as staging$/);

    const migrate = async (environment: string) => {
      const options = { databaseUrl: urls[environment]!, migrationsDir: join(folder, 'migrations'), schema: 'public' };
      await expandReleaseMigrations(options);
      await contractReleaseMigrations(options);
    };
    await migrate('staging');
    const behind = await runIntegrityCheck('same-shape', schemaCheck, context());
    expect(behind.passed).toBe(false);
    expect(behind.summary).toBe('migration history differs (production: 0 completed, staging: 1); 1 object(s) only in staging, first: column orders.note text');
    await migrate('production');
    expect((await runIntegrityCheck('same-shape', schemaCheck, context())).passed).toBe(true);

    // an index made by hand in production: drift the migration history does not show
    await pools.production!.query('create index orders_by_email on orders (email)');
    try {
      const drifted = await runIntegrityCheck('same-shape', check({ type: 'schema', against: 'staging' }), context());
      expect(drifted.passed).toBe(false);
      expect(drifted.summary).toBe('1 object(s) only in production, first: index orders.orders_by_email CREATE INDEX orders_by_email ON public.orders USING btree (email)');
    } finally {
      await pools.production!.query('drop index orders_by_email');
    }
    expect((await runIntegrityCheck('first', schemaCheck, { environment: 'staging', databaseUrl: (name: string) => urls[name]!, migrationsSchema: 'public' })).summary).toContain('staging is the first environment');
  });

  it('reconciles a table with its copy and fails on any difference', async () => {
    const pool = pools.production!;
    await pool.query('create table orders_copy as select * from orders; alter table orders_copy add primary key (id)');
    const copy = check({ type: 'reconcile', source: { table: 'orders' }, target: { table: 'orders_copy' } });
    expect(await runIntegrityCheck('copy', copy, context())).toMatchObject({ passed: true, summary: '500 rows equal on both sides' });
    await pool.query(`update orders_copy set total = total + 1 where id = 42; delete from orders_copy where id = 43`);
    const result = await runIntegrityCheck('copy', copy, context());
    expect(result.passed).toBe(false);
    expect(result.summary).toBe('rows differ: 1 missing, 1 different');
  });
});
