/**
 * `promote reconcile` as a person runs it: a summary table and the differing keys, exit 1 when rows
 * differ and 0 when equal, 2 for usage errors, --json, env:<name> from promote.yaml, and a source-wins
 * repair recorded in the state store named by DATABASE_URL.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { listEvents } from '../../src/store/events.js';
import { runInProcess } from '../helpers/cli.js';
import { createStorePool, createTestDatabase } from '../helpers/database.js';

let url: string;
let pool: pg.Pool;
let cwd: string;

beforeAll(async () => {
  url = (await createTestDatabase()).url;
  pool = new pg.Pool({ connectionString: url });
  cwd = await mkdtemp(join(tmpdir(), 'promote-reconcile-cli-'));
  await pool.query(`create table a (id int primary key, name text, price numeric);
    insert into a select g, 'item ' || g, g / 4.0 from generate_series(1, 2000) g;
    create table b (like a including all); insert into b select * from a;
    delete from b where id = 3; update b set price = price + 1 where id = 1999`);
});
afterAll(async () => {
  await pool.end();
});

it('prints the summary and the differing keys, and exits 1 when rows differ', async () => {
  const result = await runInProcess(['reconcile', '--source', url, '--source-table', 'a', '--target', url, '--target-table', 'b'], { cwd });
  expect(result.stderr).toBe('');
  expect(result.code).toBe(1);
  expect(result.stdout).toMatch(/SIDE\s+TABLE\s+ROWS\s+CHECKED\s+QUERIES\nsource\s+a\s+2000\s+2000\s+\d+\ntarget\s+b\s+1999\s+1999\s+\d+/);
  expect(result.stdout).toContain('missing 1, extra 0, different 1, duplicate 0');
  expect(result.stdout).toMatch(/KIND\s+KEY\s+DETAIL\nmissing\s+3\s*\ndifferent\s+1999\s+price/);
  expect(result.stdout).toContain('2 row(s) differ');
});

it('prints JSON with --json, and exits 0 on equal tables', async () => {
  const result = await runInProcess(['reconcile', '--source', url, '--source-table', 'a', '--target', url, '--target-table', 'a', '--columns', 'price,name', '--json'], { cwd });
  expect(result.code).toBe(0);
  const report = JSON.parse(result.stdout) as { equal: boolean; columns: string[]; source: { rowsChecked: number } };
  expect(report).toMatchObject({ equal: true, columns: ['price', 'name'], source: { rowsChecked: 2000 } });
});

it('takes a database from promote.yaml with env:<name>', async () => {
  await writeFile(
    join(cwd, 'promote.yaml'),
    `version: 1
app: { name: shop }
environments:
  - name: staging
    database: ${url}
    target: { type: process, command: "node app.js", instances: 1 }
    strategy: canary
strategies:
  canary:
    type: canary
    steps:
      - promote: {}
`,
  );
  const result = await runInProcess(['reconcile', '--source', 'env:staging', '--source-table', 'a', '--target', 'env:staging', '--target-query', 'select * from b', '--json'], { cwd });
  expect(result.stderr).toBe('');
  expect(JSON.parse(result.stdout)).toMatchObject({ equal: false, counts: { missing: 1, different: 1 } });
});

it('repairs with --repair source-wins, recording the batch in the state store', async () => {
  const store = await createStorePool();
  const env = { DATABASE_URL: store.url };
  const repaired = await runInProcess(['reconcile', '--source', url, '--source-table', 'a', '--target', url, '--target-table', 'b', '--repair', 'source-wins'], { cwd, env });
  expect(repaired.code).toBe(1);
  expect(repaired.stdout).toContain('repaired (source wins) in 1 batch(es): 0 deleted, 1 updated, 1 inserted on the target; audit events 1');
  expect((await listEvents(store.pool)).map((event) => event.type)).toEqual(['reconcile.repaired']);
  const again = await runInProcess(['reconcile', '--source', url, '--source-table', 'a', '--target', url, '--target-table', 'b', '--repair', 'source-wins'], { cwd, env });
  expect(again.code).toBe(0);
  expect(again.stdout).toContain('\nequal\n');
});

it('exits 2 on usage errors, and 1 with what it was doing on bad input', async () => {
  const noTable = await runInProcess(['reconcile', '--source', url, '--target', url, '--target-table', 'b'], { cwd });
  expect(noTable).toMatchObject({ code: 2, stderr: 'error: name the source with --source-table <table> or --source-query <sql> (one of them)\n' });
  const badPolicy = await runInProcess(['reconcile', '--source', url, '--source-table', 'a', '--target', url, '--target-table', 'b', '--repair', 'yes'], { cwd });
  expect(badPolicy).toMatchObject({ code: 2, stderr: 'error: --repair yes: expected source-wins or flag\n' });
  const missing = await runInProcess(['reconcile', '--source-table', 'a', '--target', url, '--target-table', 'b'], { cwd });
  expect(missing.code).toBe(2);
  const noKey = await runInProcess(['reconcile', '--source', url, '--source-query', 'select name from a', '--target', url, '--target-query', 'select name from b'], { cwd });
  expect(noKey.code).toBe(1);
  expect(noKey.stderr).toContain('has a usable key');
});
