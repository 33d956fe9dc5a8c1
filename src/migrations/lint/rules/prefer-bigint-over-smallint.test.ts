/** prefer-bigint-over-smallint: 16-bit integer columns are flagged. */
import { describe, expect, it } from 'vitest';
import { findings } from '../testing.js';
import type { LintOptions } from '../types.js';

const RULE = 'prefer-bigint-over-smallint';

const FLAGGED: Array<[string, LintOptions, number]> = [
  ['create table posts (id smallint primary key);', {}, 1],
  ['create table posts (id smallserial primary key);', {}, 1],
  ['alter table posts add column n int2;', {}, 1],
];

const ALLOWED: Array<[string, LintOptions]> = [
  ['create table posts (id bigint primary key);', {}],
  ['create table posts (id int);', {}],
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
