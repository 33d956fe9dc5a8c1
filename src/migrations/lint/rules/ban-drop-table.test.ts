/** ban-drop-table: dropping an existing table is flagged, a table made in the same file is not. */
import { describe, expect, it } from 'vitest';
import { findings } from '../testing.js';
import type { LintOptions } from '../types.js';

const RULE = 'ban-drop-table';

const FLAGGED: Array<[string, LintOptions, number]> = [
  ['drop table t;', {}, 1],
  ['drop table if exists t cascade;', {}, 1],
];

const ALLOWED: Array<[string, LintOptions]> = [
  ['create table tmp (a int); drop table tmp;', {}],
  ['drop index i;', {}],
  ['drop view v;', {}],
];

describe(RULE, () => {
  it.each(FLAGGED)('flags %s', async (sql, options, expected) => {
    const found = await findings(RULE, sql, options);
    expect(found.map((each) => each.rule)).toEqual(Array(expected).fill(RULE));
    expect(found[0]?.help).toBeTruthy();
  });

  it.each(ALLOWED)('allows %s', async (sql, options) => {
    expect(await findings(RULE, sql, options)).toEqual([]);
  });
});
