/** prefer-bigint-over-int: 32-bit integer columns are flagged. */
import { describe, expect, it } from 'vitest';
import { findings } from '../testing.js';
import type { LintOptions } from '../types.js';

const RULE = 'prefer-bigint-over-int';

const FLAGGED: Array<[string, LintOptions, number]> = [
  ['create table posts (id int primary key);', {}, 1],
  ['create table posts (id serial primary key);', {}, 1],
  ['alter table posts add column n integer;', {}, 1],
  ['alter table posts alter column n type int4;', {}, 1],
  ['create table posts (ids int[]);', {}, 1],
];

const ALLOWED: Array<[string, LintOptions]> = [
  ['create table posts (id bigint primary key);', {}],
  ['create table posts (id bigserial primary key);', {}],
  ['select 1::int;', {}],
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
