/** require-concurrent-index-deletion: indexes must be dropped CONCURRENTLY. */
import { describe, expect, it } from 'vitest';
import { findings } from '../testing.js';
import type { LintOptions } from '../types.js';

const RULE = 'require-concurrent-index-deletion';

const FLAGGED: Array<[string, LintOptions, number]> = [
  ['drop index email_idx;', {}, 1],
  ['drop index if exists app.email_idx;', {}, 1],
];

const ALLOWED: Array<[string, LintOptions]> = [
  ['drop index concurrently email_idx;', {}],
  ['create table t (a int); create index i on t (a); drop index i;', {}],
  ['drop table t;', {}],
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
