import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { withPgrollConformance } from '../../test/helpers/conformance.js';
import { PromoteError } from '../errors.js';
import { formatMigrationProblem, MigrationFileError } from './file.js';
import { compareNames, loadMigrationFolder, loadMigrationFolderOrThrow, orderMigrationFiles } from './folder.js';

const root = mkdtemp(join(tmpdir(), 'promote-migration-folder-'));
afterAll(async () => rm(await root, { recursive: true, force: true }));

let counter = 0;
async function folderWith(files: Record<string, string>): Promise<string> {
  const dir = join(await root, `f${++counter}`);
  await mkdir(dir);
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
  return dir;
}

const dropTable = (name: string) => `operations:\n  - drop_table: {name: ${name}}\n`;

describe('loading a migrations folder', () => {
  withPgrollConformance(({ examplesDir, names }) => {
    it('loads the 56 pgroll examples (in ../shared/conformance/pgroll) in the order of their .ledger', async () => {
      const folder = await loadMigrationFolder(examplesDir);
      expect(folder.problems.map(formatMigrationProblem)).toEqual([]);
      expect(folder).toMatchObject({ ok: true, ledger: true });
      expect(folder.migrations).toHaveLength(56);
      expect(folder.migrations.map((migration) => `${migration.name}.yaml`)).toEqual(names);
      expect(folder.migrations[0]!.name).toBe('01_create_tables');
      expect(folder.migrations.at(-1)!.name).toBe('56_with_version_schema');
      expect(folder.files).toEqual(readdirSync(examplesDir).filter((name) => name.endsWith('.yaml')).sort());
    });
  });

  it('orders by file name when there is no ledger, and ignores other files and folders', async () => {
    const dir = await folderWith({ '10_b.yaml': dropTable('b'), '02_a.json': '{"operations": [{"drop_table": {"name": "a"}}]}', '2_c.yml': dropTable('c'), 'README.md': '# notes', '03.YAML': dropTable('d') });
    await mkdir(join(dir, '04_folder.yaml'));
    await symlink(join(dir, '10_b.yaml'), join(dir, '11_link.yaml'));
    await symlink(join(dir, 'nowhere.yaml'), join(dir, '12_dangling.yaml'));
    const folder = await loadMigrationFolder(dir);
    expect(folder).toMatchObject({ ok: true, ledger: false, files: ['02_a.json', '10_b.yaml', '11_link.yaml', '2_c.yml'] });
    expect(folder.migrations.map((migration) => migration.name)).toEqual(['02_a', '10_b', '11_link', '2_c']);
  });

  it('reports every problem of every file at once, in order, keeping the files that loaded', async () => {
    const dir = await folderWith({
      '01_ok.yaml': dropTable('a'),
      '02_bad.yaml': 'operations:\n  - drop_tabel: {name: b}\n',
      '03_worse.json': '{"operations": [',
      '04_warn.yaml': 'operations:\n  - drop_column: {table: t, column: c}\n',
      '05_bad.yaml': 'operations: []\n',
    });
    const folder = await loadMigrationFolder(dir);
    expect(folder.ok).toBe(false);
    expect(folder.migrations.map((migration) => migration.name)).toEqual(['01_ok', '04_warn']);
    expect(folder.problems.map((problem) => `${problem.file.slice(dir.length + 1)}:${problem.line}:${problem.severity}`)).toEqual([
      '02_bad.yaml:2:error',
      '03_worse.json:1:error',
      '04_warn.yaml:2:warning',
      '05_bad.yaml:1:error',
    ]);
    const error = await loadMigrationFolderOrThrow(dir).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(MigrationFileError);
    expect((error as Error).message).toMatch(/^4 migration files: 3 problems:\n/);
  });

  it('refuses two files that would be the same migration', async () => {
    const dir = await folderWith({ '01_a.yaml': dropTable('a'), '01_a.json': '{"operations": [{"drop_table": {"name": "a"}}]}' });
    const folder = await loadMigrationFolder(dir);
    expect(folder.problems.map(formatMigrationProblem)).toEqual([
      `${join(dir, '01_a.yaml')}:1:1: 01_a.json is migration 01_a too: a migration name is the file name without its extension, and must be unique`,
    ]);
  });

  it('throws a PromoteError for a folder that is missing or a file', async () => {
    const missing = join(await root, 'nope');
    await expect(loadMigrationFolder(missing)).rejects.toThrow(PromoteError);
    await expect(loadMigrationFolder(missing)).rejects.toThrow(`the migrations folder ${missing} does not exist`);
    const dir = await folderWith({ 'x.yaml': dropTable('x') });
    await expect(loadMigrationFolder(join(dir, 'x.yaml'))).rejects.toThrow(/is not a folder/);
  });
});

describe('the .ledger', () => {
  it('decides the order, and ignores entries that are not migration files', () => {
    const { files, problems } = orderMigrationFiles(['a.yaml', 'b.yaml', 'c.yaml'], 'README.md\na.yaml\n\nb.yaml\nc.yaml\n', { dir: 'm' });
    expect(files).toEqual(['a.yaml', 'b.yaml', 'c.yaml']);
    expect(problems).toEqual([]);
  });

  it('reports a file it does not list, an entry without a file and an entry listed twice', () => {
    const { files, problems } = orderMigrationFiles(['01_a.yaml', '02_b.yaml', '03_c.yaml'], '01_a.yaml\n02_gone.yaml\n01_a.yaml\n02_b.yaml\n', { dir: 'm' });
    expect(files).toEqual(['01_a.yaml', '02_b.yaml', '03_c.yaml']);
    expect(problems.map(formatMigrationProblem)).toEqual([
      'm/.ledger:2:1: lists 02_gone.yaml, which is not in m',
      'm/.ledger:3:1: 01_a.yaml is listed twice (first on line 1); each migration has one place in the order',
      'm/03_c.yaml:1:1: not listed in .ledger, so its place in the order is unknown: add it to m/.ledger',
    ]);
  });

  it('warns when its order is not the file names\' order, which pgroll would apply', () => {
    const { files, problems } = orderMigrationFiles(['01_a.yaml', '02_b.yaml'], '02_b.yaml\n01_a.yaml\n', { dir: 'm' });
    expect(files).toEqual(['02_b.yaml', '01_a.yaml']);
    expect(problems.map(formatMigrationProblem)).toEqual([
      'm/.ledger:2:1: warning: 01_a.yaml comes after 02_b.yaml here, but pgroll applies migrations by file name: rename the files to match the ledger\'s order',
    ]);
  });

  it('is applied by loadMigrationFolder, problems of the ledger first', async () => {
    const dir = await folderWith({ '.ledger': '02_b.yaml\n01_a.yaml\n03_gone.yaml\n', '01_a.yaml': dropTable('a'), '02_b.yaml': dropTable('b') });
    const folder = await loadMigrationFolder(dir);
    expect(folder.migrations.map((migration) => migration.name)).toEqual(['02_b', '01_a']);
    expect(folder.problems.map((problem) => [problem.file.slice(dir.length + 1), problem.line, problem.severity])).toEqual([
      ['.ledger', 2, 'warning'],
      ['.ledger', 3, 'error'],
    ]);
  });
});

describe('file name order', () => {
  it('compares bytes, as pgroll does: digits before letters, upper case before lower, no natural sort', () => {
    expect(['b.yaml', '10_x.yaml', '9_x.yaml', 'B.yaml', 'é.yaml', 'z.yaml'].sort(compareNames)).toEqual(['10_x.yaml', '9_x.yaml', 'B.yaml', 'b.yaml', 'z.yaml', 'é.yaml']);
    // where UTF-16 code units and UTF-8 bytes disagree, bytes win (JavaScript's default sort puts U+10000 first)
    expect(compareNames('\uffff', '\u{10000}')).toBeLessThan(0);
    expect(['\uffff', '\u{10000}'].sort()).toEqual(['\u{10000}', '\uffff']);
  });
});
