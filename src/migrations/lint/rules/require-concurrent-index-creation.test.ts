/** require-concurrent-index-creation: indexes on existing tables must be built CONCURRENTLY. */
import { describe, expect, it } from 'vitest';
import { findings } from '../testing.js';
import type { LintOptions } from '../types.js';

const RULE = 'require-concurrent-index-creation';

const FLAGGED: Array<[string, LintOptions, number]> = [
  ['create index email_idx on app_user (email);', {}, 1],
  ['create unique index on app_user (lower(email));', {}, 1],
];

const ALLOWED: Array<[string, LintOptions]> = [
  ['create index concurrently email_idx on app_user (email);', {}],
  ['create table app_user (email text); create index email_idx on app_user (email);', {}],
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
