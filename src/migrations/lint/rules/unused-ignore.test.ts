/** unused-ignore: ignore comments naming unknown rules, or silencing nothing, are reported. */
import { describe, expect, it } from 'vitest';
import { lintSql } from '../index.js';

const only = (rules: string[]) => ({ include: [], exclude: ['require-lock-timeout', 'require-statement-timeout', 'prefer-robust-stmts'].filter((name) => !rules.includes(name)) });

describe('unused-ignore', () => {
  it('reports an unknown rule name in an ignore comment', async () => {
    const violations = await lintSql('-- squawk-ignore ban-drop-colum\nalter table t drop column c;', only([]));
    expect(violations.map((each) => [each.rule, each.line])).toEqual([
      ['unused-ignore', 1],
      ['ban-drop-column', 2],
    ]);
    expect(violations[0]?.message).toMatch(/Unknown rule name "ban-drop-colum"/);
  });

  it('reports an ignore that silences nothing, in either spelling', async () => {
    const violations = await lintSql('-- promote-lint-ignore ban-drop-column\nselect 1;\n-- squawk-ignore-file renaming-table\n', only([]));
    expect(violations.map((each) => [each.rule, each.line])).toEqual([
      ['unused-ignore', 1],
      ['unused-ignore', 3],
    ]);
  });

  it('stays quiet about ignores that silence something, and about rules turned off', async () => {
    expect(await lintSql('-- promote-lint-ignore ban-drop-column\nalter table t drop column c;', only([]))).toEqual([]);
    expect(await lintSql('-- squawk-ignore renaming-table\nselect 1;', { exclude: ['renaming-table'] })).toEqual([]);
  });
});
