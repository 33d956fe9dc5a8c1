/** renaming-column: renaming a column of an existing table breaks clients. */
import { describe, expect, it } from 'vitest';
import { findings } from '../testing.js';
import type { LintOptions } from '../types.js';

const RULE = 'renaming-column';

const FLAGGED: Array<[string, LintOptions, number]> = [
  ['alter table t rename column a to b;', {}, 1],
  ['alter table t rename a to b;', {}, 1],
];

const ALLOWED: Array<[string, LintOptions]> = [
  ['create table t (a int); alter table t rename column a to b;', {}],
  ['alter table t rename to u;', {}],
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
