/** require-statement-timeout: the first locking DDL needs a statement_timeout set before it. */
import { describe, expect, it } from 'vitest';
import { findings } from '../testing.js';
import type { LintOptions } from '../types.js';

const RULE = 'require-statement-timeout';

const FLAGGED: Array<[string, LintOptions, number]> = [
  ['alter table t add column c boolean;', {}, 1],
  ['set lock_timeout = \'1s\';\nalter table t add column c boolean;', {}, 1],
];

const ALLOWED: Array<[string, LintOptions]> = [
  ['set statement_timeout = \'5s\';\nalter table t add column c boolean;', {}],
  ['create table t (a int);', {}],
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
