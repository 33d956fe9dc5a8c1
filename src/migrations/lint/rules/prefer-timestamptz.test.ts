/** prefer-timestamptz: timestamp without time zone is flagged. */
import { describe, expect, it } from 'vitest';
import { findings } from '../testing.js';
import type { LintOptions } from '../types.js';

const RULE = 'prefer-timestamptz';

const FLAGGED: Array<[string, LintOptions, number]> = [
  ['create table app_user (created_at timestamp);', {}, 1],
  ['create table app_user (created_at timestamp(3) without time zone);', {}, 1],
  ['alter table app_user add column created_at timestamp;', {}, 1],
  ['alter table app_user alter column created_at type timestamp;', {}, 1],
];

const ALLOWED: Array<[string, LintOptions]> = [
  ['create table app_user (created_at timestamptz);', {}],
  ['create table app_user (created_at timestamp with time zone);', {}],
  ['select now()::timestamp;', {}],
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
