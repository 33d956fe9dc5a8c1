/**
 * The engine: rule selection with squawk's aliases, ignore comments in both spellings, positions,
 * the squawk-shaped JSON, migration order, and a property test that no input makes it throw.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatText, lintSql, migrationOrder, RULES, selectRules, toSquawkJson } from './index.js';

const QUIET = ['require-lock-timeout', 'require-statement-timeout', 'prefer-robust-stmts'];
const rules = async (sql: string, options: Parameters<typeof lintSql>[1] = {}) => (await lintSql(sql, { exclude: QUIET, ...options })).map((each) => each.rule);

describe('rule selection', () => {
  it('enables every rule but the opt-in ones by default', () => {
    const names = selectRules([], []).map((rule) => rule.name);
    expect(names).toHaveLength(RULES.length - 1);
    expect(names).not.toContain('require-table-schema');
    expect(selectRules(['require-table-schema'], []).map((rule) => rule.name)).toContain('require-table-schema');
  });

  it("expands squawk's aliases, and exclude wins over include", () => {
    const names = selectRules([], ['prefer-big-int', 'require-timeout-settings', 'prefer-timestamp-tz']).map((rule) => rule.name);
    for (const gone of ['prefer-bigint-over-int', 'prefer-bigint-over-smallint', 'require-lock-timeout', 'require-statement-timeout', 'prefer-timestamptz']) expect(names).not.toContain(gone);
    expect(selectRules(['require-table-schema'], ['require-table-schema']).map((rule) => rule.name)).not.toContain('require-table-schema');
  });

  it('refuses unknown rule names', () => {
    expect(() => selectRules([], ['ban-drop-colum'])).toThrow(/unknown lint rule ban-drop-colum/);
  });
});

describe('ignore comments', () => {
  const drop = 'alter table t drop column c;';
  it('silences the statement after a promote-lint-ignore or squawk-ignore comment', async () => {
    expect(await rules(`-- promote-lint-ignore ban-drop-column\n${drop}`)).toEqual([]);
    expect(await rules(`-- squawk-ignore ban-drop-column -- the column was unused since 1.3\n${drop}`)).toEqual([]);
    expect(await rules(`/* squawk-ignore renaming-column, ban-drop-column */ ${drop}`)).toEqual([]);
    expect(await rules(`-- promote-lint-ignore\n${drop}`)).toEqual([]);
  });

  it('silences only that statement and only the named rules', async () => {
    expect(await rules(`-- promote-lint-ignore ban-drop-column\n${drop}\n${drop}`)).toEqual(['ban-drop-column']);
    expect(await rules(`-- promote-lint-ignore renaming-column\n${drop}`)).toEqual(['unused-ignore', 'ban-drop-column']);
  });

  it('silences a rule, or every rule, for the whole file', async () => {
    expect(await rules(`${drop}\n-- squawk-ignore-file ban-drop-column\n${drop}`)).toEqual([]);
    expect(await rules(`-- promote-lint-ignore-file\n${drop}\nalter table t rename to u;`)).toEqual([]);
  });

  it('understands aliases in ignore comments', async () => {
    expect(await rules('-- squawk-ignore prefer-big-int\ncreate table t (a int, b smallint);')).toEqual([]);
  });
});

describe('violations', () => {
  it('carry the rule, severity, message, help, position of the offending part, and the statement', async () => {
    const [violation] = await lintSql('select 1;\n\nalter table orders\n  add column total int default random();', { file: 'V2__total.sql', exclude: [...QUIET, 'prefer-bigint-over-int'] });
    expect(violation).toMatchObject({
      rule: 'adding-field-with-default',
      severity: 'error',
      file: 'V2__total.sql',
      line: 4,
      column: 24,
      lineEnd: 4,
      statement: 'alter table orders\n  add column total int default random()',
    });
    expect(violation?.help).toMatch(/add_column migration with `up`/);
  });

  it('turn into JSON shaped like squawk\'s, plus our fields, and into readable text', async () => {
    const violations = await lintSql('alter table t drop column c;', { file: 'a.sql', exclude: QUIET });
    expect(toSquawkJson(violations)).toEqual([
      expect.objectContaining({ file: 'a.sql', line: 1, column: 1, level: 'Error', rule_name: 'ban-drop-column', line_end: 1, column_end: 28, rule: 'ban-drop-column', severity: 'error', statement: 'alter table t drop column c' }),
    ]);
    expect(formatText(violations)).toMatch(/^a\.sql:1:1: error ban-drop-column: Dropping column t\.c .*\n {2}\| alter table t drop column c\n {2}help: /);
  });

  it('report a syntax error with its position instead of linting', async () => {
    expect(await lintSql('alter table t drop column c;\nalter tabel t add column d int;', { file: 'b.sql' })).toEqual([
      expect.objectContaining({ rule: 'syntax-error', severity: 'error', file: 'b.sql', line: 2, column: 7, statement: 'alter tabel t add column d int;' }),
    ]);
  });

  it('honour squawk-disable-assume-in-transaction', async () => {
    const sql = 'create index concurrently if not exists i on t (a);\nselect 1;';
    expect(await rules(sql, { assumeInTransaction: true })).toEqual(['ban-concurrent-index-creation-in-transaction']);
    expect(await rules(`-- promote-lint-disable-assume-in-transaction\n${sql}`, { assumeInTransaction: true })).toEqual([]);
  });
});

describe('migrationOrder', () => {
  it('orders Flyway files by version, then undo, then repeatable, then the rest', () => {
    expect(migrationOrder(['b.sql', 'R__views.sql', 'V10__x.sql', 'V2__y.sql', 'V1.1__z.sql', 'U2__y.sql', 'V1__a.sql', 'a.sql'])).toEqual([
      'V1__a.sql',
      'V1.1__z.sql',
      'V2__y.sql',
      'V10__x.sql',
      'U2__y.sql',
      'R__views.sql',
      'a.sql',
      'b.sql',
    ]);
  });
});

describe('robustness', () => {
  const fragment = fc.constantFrom(
    'select', 'alter table', 'create index', 'concurrently', 'drop', 'column', 't', 'a', '(', ')', ';', ',', "'", '"', '$$', '--', '/*', '*/',
    '\n', ' ', 'not null', 'default', 'now()', '::', 'int', 'begin', 'commit', 'é', '😀', '\ud800', '\0', '-- squawk-ignore', 'E\'\\', '[',
  );
  const sqlish = fc.oneof(fc.array(fragment, { maxLength: 40 }).map((parts) => parts.join(' ')), fc.string({ unit: 'grapheme', maxLength: 80 }), fc.string({ maxLength: 80 }));

  it('never throws: any text gives violations, and a parse error is one violation with a position in the file', async () => {
    await fc.assert(
      fc.asyncProperty(sqlish, async (text) => {
        const violations = await lintSql(text, { file: 'fuzz.sql' });
        const lines = text.split(/\r\n|\r|\n/).length;
        for (const violation of violations) {
          expect(violation.line).toBeGreaterThanOrEqual(1);
          expect(violation.line).toBeLessThanOrEqual(lines);
          expect(violation.column).toBeGreaterThanOrEqual(1);
        }
        const syntax = violations.filter((violation) => violation.rule === 'syntax-error');
        if (syntax.length > 0) expect(violations).toHaveLength(1);
      }),
      { numRuns: 400 },
    );
  });
});
