/** ban-duplicate-column-assignments: a column named twice is rejected by Postgres. */
import { describe, expect, it } from 'vitest';
import { findings } from '../testing.js';
import type { LintOptions } from '../types.js';

const RULE = 'ban-duplicate-column-assignments';

const FLAGGED: Array<[string, LintOptions, number]> = [
  ['create table t (a int, a text);', {}, 1],
  ['create view v (a, a) as select 1, 2;', {}, 1],
  ['update t set a = 1, a = 2;', {}, 1],
  ['insert into t (a, a) values (1, 2);', {}, 1],
];

const ALLOWED: Array<[string, LintOptions]> = [
  ['create table t (a int, b text);', {}],
  ['update t set a = 1, b = 2;', {}],
  ['update t set a[1] = 1, a[2] = 2;', {}],
  ['insert into t (a, b) values (1, 2);', {}],
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
