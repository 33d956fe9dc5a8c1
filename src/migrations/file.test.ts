import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { withPgrollConformance } from '../../test/helpers/conformance.js';
import { PromoteError } from '../errors.js';
import { formatMigrationProblem, loadMigrationFile, loadMigrationFileOrThrow, MigrationFileError, migrationNameOf, parseMigration, type MigrationLoad, type MigrationProblem } from './file.js';

function messages(result: MigrationLoad): string[] {
  return (result.ok ? result.warnings : result.problems).map(formatMigrationProblem);
}

function problemsOf(text: string, file = 'migrations/07_test.yaml'): string[] {
  const result = parseMigration(text, file);
  expect(result.ok, `expected problems for:\n${text}`).toBe(false);
  return messages(result);
}

describe('pgroll conformance: the 56 examples, read from ../shared/conformance/pgroll', () => {
  withPgrollConformance(({ names, texts }) => {
    const text = (name: string): string => texts.get(name)!;

    it('lists 56 examples in its .ledger', () => {
      expect(names).toHaveLength(56);
    });

    it.each(names)('%s validates, with no problem and no warning', (name) => {
      const result = parseMigration(text(name), join('examples', name));
      expect(messages(result)).toEqual([]);
      expect(result.ok && result.migration.name).toBe(name.replace(/\.yaml$/, ''));
      expect(result.ok && result.migration.operations.length).toBeGreaterThan(0);
    });

    it('keeps version_schema and the operations, tagged with their kind', () => {
      const result = parseMigration(text('56_with_version_schema.yaml'), '56_with_version_schema.yaml');
      expect(result.ok && result.migration).toMatchObject({ name: '56_with_version_schema', versionSchema: 'with_version_schema', operations: [{ kind: 'create_table', name: 'products' }] });
      const plain = parseMigration(text('03_add_column.yaml'), '03_add_column.yaml');
      expect(plain.ok && plain.migration.versionSchema).toBeUndefined();
      expect(plain.ok && plain.migration.operations.map((operation) => operation.kind)).toEqual(['add_column', 'add_column', 'add_column']);
    });
  });
});

describe('the file format', () => {
  it('reads JSON as pgroll does, to the same migration as YAML', () => {
    const yaml = 'operations:\n  - drop_column:\n      table: fruits\n      column: price\n      down: "0"\n';
    const json = '{"operations": [{"drop_column": {"table": "fruits", "column": "price", "down": "0"}}]}';
    const fromYaml = parseMigration(yaml, 'm/09_drop.yaml');
    const fromJson = parseMigration(json, 'm/09_drop.json');
    expect(fromYaml.ok && fromJson.ok).toBe(true);
    if (fromYaml.ok && fromJson.ok) expect({ ...fromJson.migration, file: '' }).toEqual({ ...fromYaml.migration, file: '' });
  });

  it('names the migration after its file, without the extension, and ignores a name field', () => {
    expect(migrationNameOf('db/migrations/03_add_column.yaml')).toBe('03_add_column');
    expect(migrationNameOf('x.y.json')).toBe('x.y');
    const result = parseMigration('name: something_else\noperations:\n  - drop_table: {name: t}\n', 'm/12_drop.yml');
    expect(result.ok && result.migration.name).toBe('12_drop');
  });

  it('refuses a file that is not .json, .yaml or .yml', () => {
    expect(problemsOf('operations: []', 'm/01_x.sql')).toEqual(['m/01_x.sql:1:1: a migration file ends in .json, .yaml, .yml, not ".sql"']);
  });

  it('reads YAML 1.1 as pgroll does, and says so when that turned text into a boolean', () => {
    const result = parseMigration('operations:\n  - sql:\n      up: select 1\n      onComplete: yes\n', 'm/01.yaml');
    expect(result.ok && result.migration.operations[0]).toEqual({ kind: 'sql', up: 'select 1', onComplete: true });
    expect(problemsOf('operations:\n  - drop_column: {table: t, column: c, down: no}\n')).toEqual([
      'migrations/07_test.yaml:2:46: operations[0].drop_column.down: expected a string, got false (YAML 1.1, which pgroll reads, takes no for false: quote it to mean the text)',
    ]);
  });

  it('reports YAML and JSON syntax errors at their position', () => {
    expect(problemsOf('operations:\n  - sql: {up: x\n')[0]).toMatch(/^migrations\/07_test\.yaml:3:1: YAML: /);
    expect(problemsOf('operations:\n  - drop_table: {name: a}\n  - drop_table: {name: b, name: c}\n')).toEqual(['migrations/07_test.yaml:3:27: YAML: Map keys must be unique']);
    expect(problemsOf('{"operations": [\n  {"drop_table": {"name": "a",}}\n]}', 'm/1.json')).toEqual(['m/1.json:2:31: not valid JSON: Expected double-quoted property name']);
    expect(problemsOf('', 'm/1.json')).toEqual(['m/1.json:1:1: not valid JSON: Unexpected end of JSON input']);
  });

  it('refuses a file that is not a mapping with operations', () => {
    expect(problemsOf('')).toEqual(['migrations/07_test.yaml:1:1: expected a mapping with an "operations:" list, got an empty value']);
    expect(problemsOf('- drop_table: {name: t}\n')).toEqual(['migrations/07_test.yaml:1:1: expected a mapping with an "operations:" list, got a list']);
    expect(problemsOf('version_schema: v2\n')).toEqual(['migrations/07_test.yaml:1:1: missing required field "operations"']);
    expect(problemsOf('operations:\n  drop_table: {name: t}\n')).toEqual(['migrations/07_test.yaml:2:3: operations: expected a list, got an object']);
    expect(problemsOf('operations: [{drop_table: {name: t}}]\nversion: 2\n')).toEqual(['migrations/07_test.yaml:2:1: version: unknown field "version"; the fields here are name, version_schema, operations']);
  });
});

describe('schema problems, each with its position and what is expected', () => {
  it('names a missing required field at the mapping that lacks it', () => {
    const text = ['operations:', '  - add_column:', '      table: products', '      up: "0"', '      column:', '        name: stock', '        type: int', '  - add_column:', '      table: products', '      column:', '        name: category', '        nullable: true', ''].join('\n');
    expect(problemsOf(text, 'migrations/03_add_column.yaml')).toEqual(['migrations/03_add_column.yaml:11:9: operations[1].add_column.column: missing required field "type"']);
  });

  it('names the known operations for an unknown one, with a suggestion for a typo', () => {
    const [message] = problemsOf('operations:\n  - add_colum:\n      table: t\n');
    expect(message).toBe(
      'migrations/07_test.yaml:2:5: operations[0].add_colum: unknown operation "add_colum" (did you mean "add_column"?); the operations are add_column, alter_column, rename_column, ' +
        'create_index, create_table, drop_column, drop_constraint, drop_multicolumn_constraint, rename_constraint, drop_index, drop_table, sql, rename_table, set_replica_identity, create_constraint',
    );
    expect(problemsOf('operations:\n  - create_enum: {name: size}\n')[0]).toMatch(/unknown operation "create_enum"; the operations are add_column, /);
  });

  it('reports a misspelt field once, as unknown with its correction', () => {
    expect(problemsOf('operations:\n  - drop_column:\n      tabel: t\n      column: c\n      down: "0"\n')).toEqual([
      'migrations/07_test.yaml:3:7: operations[0].drop_column.tabel: unknown field "tabel" (did you mean "table"?)',
    ]);
  });

  it('explains wrong types, enums, operations with several keys and non-mappings', () => {
    expect(
      problemsOf(
        [
          'operations:',
          '  - create_index: {name: i, table: t, columns: [{column: a}], method: btre}',
          '  - drop_table: {name: 7}',
          '  - {drop_table: {name: a}, drop_index: {name: b}}',
          '  - drop_index',
          '  - drop_index:',
          '',
        ].join('\n'),
      ),
    ).toEqual([
      'migrations/07_test.yaml:2:71: operations[0].create_index.method: expected one of "btree", "hash", "gist", "spgist", "gin", "brin", got "btre" (did you mean "btree"?)',
      'migrations/07_test.yaml:3:24: operations[1].drop_table.name: expected a string, got 7',
      'migrations/07_test.yaml:4:5: operations[2]: an operation has exactly one key, the operation\'s name: found "drop_table" and "drop_index"; write each operation as its own list item',
      expect.stringMatching(/^migrations\/07_test\.yaml:5:5: operations\[3\]: expected an operation \(a mapping with one key, the operation's name, one of add_column, .*\), got "drop_index"$/),
      'migrations/07_test.yaml:6:5: operations[4].drop_index: expected a mapping, got an empty value',
    ]);
  });

  it('explains the conditional rules of constraints, alter_column and sql', () => {
    const text = [
      'operations:',
      '  - create_table:',
      '      name: t',
      '      columns: [{name: a, type: int}]',
      '      constraints:',
      '        - {name: c, type: check, check: "a > 0", deferrable: true}',
      '        - {name: u, type: unique, check: "a > 0"}',
      '  - alter_column: {table: t, column: a, up: a, down: a}',
      '  - sql: {up: select 1, down: select 2, onComplete: true}',
      '',
    ].join('\n');
    expect(problemsOf(text)).toEqual([
      'migrations/07_test.yaml:6:62: operations[0].create_table.constraints[0].deferrable: must be false when type is "check", got true',
      'migrations/07_test.yaml:7:11: operations[0].create_table.constraints[1]: missing required field "columns" when type is "unique"',
      'migrations/07_test.yaml:7:42: operations[0].create_table.constraints[1].check: must be empty when type is "unique", got "a > 0"',
      'migrations/07_test.yaml:8:19: operations[1].alter_column: needs at least one of "check", "type", "nullable", "default", "comment", "unique", "references"',
      'migrations/07_test.yaml:9:10: operations[2].sql: "down" and "onComplete" cannot be used together',
    ]);
  });

  it('names the type that rules a field out, and the value a field must keep', () => {
    const text = [
      'operations:',
      '  - create_constraint: {name: c, table: t, type: check, check: "a > 0", up: {a: a}, down: {a: a}, references: {table: u, columns: [id]}}',
      '  - create_table:',
      '      name: t',
      '      columns: [{name: a, type: int}]',
      '      constraints: [{name: x, type: exclude, exclude: {index_method: gist}, columns: [a]}]',
      '',
    ].join('\n');
    expect(problemsOf(text)).toEqual([
      'migrations/07_test.yaml:2:111: operations[0].create_constraint.references: not allowed when type is "check"',
      'migrations/07_test.yaml:6:86: operations[1].create_table.constraints[0].columns: must be an empty list when type is "exclude", got a list',
    ]);
  });
});

describe("Promote's checks that pgroll leaves to runtime", () => {
  it('refuses a NOT NULL column with no default and no up, which fails on a table with rows', () => {
    const text = 'operations:\n  - add_column:\n      table: products\n      column:\n        name: stock\n        type: int\n';
    expect(problemsOf(text)).toEqual([
      'migrations/07_test.yaml:5:9: operations[0].add_column.column: column "stock" is NOT NULL (nullable defaults to false) with no "default" and no "up": adding it fails on a table that has rows; ' +
        'set "up" to the value for existing rows, give it a "default", or make it "nullable: true"',
    ]);
    for (const fix of ['        nullable: true\n', '        default: "0"\n', '      up: "0"\n']) expect(parseMigration(text + fix, 'm.yaml').ok, fix).toBe(true);
    expect(parseMigration(text.replace('type: int', 'type: bigserial'), 'm.yaml').ok).toBe(true);
  });

  it('refuses a primary key column added to an existing table', () => {
    expect(problemsOf('operations:\n  - add_column: {table: t, column: {name: id, type: int, pk: true, nullable: true}}\n')[0]).toMatch(
      /^migrations\/07_test\.yaml:2:62: operations\[0\]\.add_column\.column\.pk: adding a primary key column to an existing table is not supported/,
    );
  });

  it('refuses a type change whose up or down is empty', () => {
    expect(problemsOf('operations:\n  - alter_column: {table: reviews, column: rating, type: integer, up: "CAST(rating AS integer)", down: ""}\n')).toEqual([
      'migrations/07_test.yaml:2:19: operations[0].alter_column: changing the type of "rating" to integer needs both "up" and "down", so the old and the new version can both write during the migration; empty: "down" (new value -> old type)',
    ]);
  });

  it('warns about drop_column without down, and still loads it (pgroll runs it)', () => {
    const result = parseMigration('operations:\n  - drop_column:\n      table: fruits\n      column: price\n', 'm/09.yaml');
    expect(result.ok).toBe(true);
    expect(messages(result)).toEqual([
      'm/09.yaml:3:7: warning: operations[0].drop_column: no "down": until the migration completes, the old version reads NULL in "price" for rows the new version writes, ' +
        'and those writes fail if the column is NOT NULL without a default; set "down" to the value the old version should see',
    ]);
  });

  it('refuses an empty migration, an empty sql up, and sql run on start beside other operations', () => {
    expect(problemsOf('operations: []\n')).toEqual(['migrations/07_test.yaml:1:13: operations: a migration needs at least one operation; the list is empty']);
    expect(problemsOf('operations:\n  - sql: {up: " "}\n')).toEqual(['migrations/07_test.yaml:2:15: operations[0].sql.up: "up" is empty: there is no SQL to run']);
    expect(problemsOf('operations:\n  - drop_table: {name: a}\n  - sql: {up: select 1}\n')).toEqual([
      'migrations/07_test.yaml:3:10: operations[1].sql: an sql operation that runs on start must be the only operation of its migration: move it to a migration of its own, or set "onComplete: true"',
    ]);
    expect(parseMigration('operations:\n  - drop_table: {name: a}\n  - sql: {up: select 1, onComplete: true}\n', 'm.yaml').ok).toBe(true);
  });

  it('reports schema and semantic problems of different operations together', () => {
    expect(problemsOf('operations:\n  - drop_table: {}\n  - add_column: {table: t, column: {name: c, type: int}}\n')).toHaveLength(2);
  });
});

describe('loading from disk', () => {
  const folder = mkdtemp(join(tmpdir(), 'promote-migration-file-'));
  afterAll(async () => rm(await folder, { recursive: true, force: true }));

  it('reads a file, and throws a MigrationFileError listing the problems of a bad one', async () => {
    const good = join(await folder, '01_ok.yaml');
    await writeFile(good, 'operations:\n  - drop_table: {name: t}\n');
    expect((await loadMigrationFile(good)).ok).toBe(true);
    expect((await loadMigrationFileOrThrow(good)).migration.name).toBe('01_ok');
    const bad = join(await folder, '02_bad.json');
    await writeFile(bad, '{"operations": [{"drop_tabel": {"name": "t"}}]}');
    const error = await loadMigrationFileOrThrow(bad).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(MigrationFileError);
    expect((error as MigrationFileError).message).toMatch(/^.*02_bad\.json: 1 problem:\n {2}.*02_bad\.json:1:18: operations\[0\]\.drop_tabel: unknown operation "drop_tabel" \(did you mean "drop_table"\?\)/);
    expect((error as MigrationFileError).problems.map((problem: MigrationProblem) => problem.line)).toEqual([1]);
  });

  it('throws a PromoteError naming a missing file', async () => {
    const missing = join(await folder, 'nope.yaml');
    await expect(loadMigrationFile(missing)).rejects.toThrow(PromoteError);
    await expect(loadMigrationFile(missing)).rejects.toThrow(`migration file ${missing} does not exist`);
  });
});
