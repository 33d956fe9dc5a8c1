/**
 * `promote migrate lint` end to end, through the real command code: the default folder from
 * promote.yaml, migration order across files, text and JSON reports, exit codes 0/1/2.
 */
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runInProcess } from '../helpers/cli.js';
import { scratchFolder } from '../helpers/scratch.js';

const repoRoot = new URL('../..', import.meta.url).pathname;
const TIMEOUTS = "SET lock_timeout = '2s';\nSET statement_timeout = '1min';\n";

describe('promote migrate lint', () => {
  let folder: string;
  beforeAll(async () => {
    folder = await scratchFolder('promote-lint-');
    await copyFile(join(repoRoot, 'examples/promote.yaml'), join(folder, 'promote.yaml'));
    await mkdir(join(folder, 'migrations'));
    await writeFile(join(folder, 'migrations/V1__orders.sql'), 'CREATE TABLE IF NOT EXISTS orders (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, total int, note varchar(10));\n');
    await writeFile(join(folder, 'migrations/V2__note.sql'), `${TIMEOUTS}ALTER TABLE orders ALTER COLUMN note TYPE text;\n`);
    await writeFile(join(folder, 'migrations/V10__total.sql'), `${TIMEOUTS}ALTER TABLE orders ALTER COLUMN total TYPE bigint;\n`);
    await writeFile(join(folder, 'migrations/README.md'), 'not SQL\n');
  });

  it('lints the .sql files of migrations.dir in migration order and exits 1 on an error', async () => {
    const result = await runInProcess(['migrate', 'lint'], { cwd: folder });
    expect(result.code).toBe(1);
    // V2's varchar(10) -> text is safe because V1, linted first, said what the column was
    expect(result.stdout).not.toMatch(/V2__note/);
    expect(result.stdout).toMatch(/^migrations\/V10__total\.sql:3:33: error changing-column-type: Changing orders\.total from integer to bigint rewrites the table/m);
    expect(result.stdout).toMatch(/help: Expand\/contract instead: add a new column of the new type, backfill it with a batched update.*alter_column migration/);
    expect(result.stdout).toMatch(/1 error, 2 warnings in 3 files/);
  });

  it('prints squawk-shaped JSON with our fields', async () => {
    const result = await runInProcess(['migrate', 'lint', '--json', 'migrations'], { cwd: folder });
    expect(result.code).toBe(1);
    const violations = JSON.parse(result.stdout) as Array<Record<string, unknown>>;
    expect(violations.map((each) => each.rule_name)).toEqual(['prefer-bigint-over-int', 'prefer-text-field', 'changing-column-type']);
    expect(violations[2]).toMatchObject({ file: 'migrations/V10__total.sql', line: 3, column: 33, level: 'Error', severity: 'error', rule: 'changing-column-type', statement: 'ALTER TABLE orders ALTER COLUMN total TYPE bigint' });
    expect(violations[0]).toMatchObject({ level: 'Warning', severity: 'warning', line: 1, line_end: 1 });
    expect(typeof violations[0]?.help).toBe('string');
  });

  it('exits 0 when only warnings remain, or the errors are excluded', async () => {
    const warnings = await runInProcess(['migrate', 'lint', 'migrations/V1__orders.sql'], { cwd: folder });
    expect(warnings.code).toBe(0);
    expect(warnings.stdout).toMatch(/warning prefer-bigint-over-int/);
    const excluded = await runInProcess(['migrate', 'lint', '--exclude', 'changing-column-type', '--exclude', 'prefer-big-int,prefer-text-field'], { cwd: folder });
    expect(excluded.code).toBe(0);
    expect(excluded.stdout).toMatch(/0 errors, 0 warnings in 3 files/);
  });

  it('judges by --pg-version and honours ignore comments', async () => {
    const file = join(folder, 'default.sql');
    await writeFile(file, `${TIMEOUTS}ALTER TABLE orders ADD COLUMN IF NOT EXISTS status text NOT NULL DEFAULT 'new';\n`);
    expect((await runInProcess(['migrate', 'lint', file], { cwd: folder })).code).toBe(0);
    const old = await runInProcess(['migrate', 'lint', '--pg-version', '10', file], { cwd: folder });
    expect(old.code).toBe(1);
    expect(old.stdout).toMatch(/adding-field-with-default: .*before Postgres 11/);
    await writeFile(file, `${TIMEOUTS}-- squawk-ignore adding-field-with-default\nALTER TABLE orders ADD COLUMN IF NOT EXISTS status text NOT NULL DEFAULT 'new';\n`);
    expect((await runInProcess(['migrate', 'lint', '--pg-version', '10', file], { cwd: folder })).code).toBe(0);
  });

  it('reports a syntax error with file:line:column', async () => {
    const file = join(folder, 'broken.sql');
    await writeFile(file, 'SELECT 1;\nALTER TABEL orders ADD COLUMN x int;\n');
    const result = await runInProcess(['migrate', 'lint', 'broken.sql'], { cwd: folder });
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^broken\.sql:2:7: error syntax-error: syntax error at or near "TABEL"/m);
  });

  it('exits 2 on usage errors', async () => {
    const unknownRule = await runInProcess(['migrate', 'lint', '--exclude', 'ban-drop-colum'], { cwd: folder });
    expect(unknownRule.code).toBe(2);
    expect(unknownRule.stderr).toMatch(/unknown lint rule ban-drop-colum/);
    expect((await runInProcess(['migrate', 'lint', '--pg-version', 'latest'], { cwd: folder })).code).toBe(2);
    const missing = await runInProcess(['migrate', 'lint', 'nope.sql'], { cwd: folder });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/nope\.sql: no such file or folder/);
    const noConfig = await runInProcess(['migrate', 'lint'], { cwd: join(folder, 'migrations') });
    expect(noConfig.code).toBe(2);
  });

  it('lists lint under promote migrate', async () => {
    const help = await runInProcess(['migrate', '--help'], { cwd: folder });
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/lint \[options\] \[files\.\.\.\]/);
  });
});
