/** identifier-too-long: names over 63 bytes are flagged where they are declared. */
import { describe, expect, it } from 'vitest';
import { findings } from '../testing.js';
import type { LintOptions } from '../types.js';

const RULE = 'identifier-too-long';

const FLAGGED: Array<[string, LintOptions, number]> = [
  ['create table table_very_long_very_long_very_long_very_long_very_long_very_long_x (a int);', {}, 1],
  ['create table t (column_very_long_very_long_very_long_very_long_very_long_very_long bigint);', {}, 1],
  ['create index index_very_long_very_long_very_long_very_long_very_long_very_long_x on t (a);', {}, 1],
  ['alter table t rename column a to renamed_very_long_very_long_very_long_very_long_very_long_very_long;', {}, 1],
];

const ALLOWED: Array<[string, LintOptions]> = [
  ['create table a_shorter_table_name (a_shorter_column_name bigint);', {}],
  ['create table t ("ééééééééééééééééééééééééééééééé" int);', {}],
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
