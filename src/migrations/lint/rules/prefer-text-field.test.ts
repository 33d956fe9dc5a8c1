/** prefer-text-field: varchar with a limit is flagged. */
import { describe, expect, it } from 'vitest';
import { findings } from '../testing.js';
import type { LintOptions } from '../types.js';

const RULE = 'prefer-text-field';

const FLAGGED: Array<[string, LintOptions, number]> = [
  ['create table app_user (email varchar(100));', {}, 1],
  ['alter table app_user add column email character varying(255);', {}, 1],
  ['create table app_user (tags varchar(10)[]);', {}, 1],
];

const ALLOWED: Array<[string, LintOptions]> = [
  ['create table app_user (email text);', {}],
  ['create table app_user (email varchar);', {}],
  ['select \'a\'::varchar(3);', {}],
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
