/** renaming-table: renaming an existing table breaks clients. */
import { describe, expect, it } from 'vitest';
import { findings } from '../testing.js';
import type { LintOptions } from '../types.js';

const RULE = 'renaming-table';

const FLAGGED: Array<[string, LintOptions, number]> = [
  ['alter table user_stars rename to user_favorites;', {}, 1],
];

const ALLOWED: Array<[string, LintOptions]> = [
  ['create table tmp (a int); alter table tmp rename to final;', {}],
  ['alter index i rename to j;', {}],
  ['alter table t rename column a to b;', {}],
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
