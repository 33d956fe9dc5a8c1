/** require-table-schema: opt-in: tables must be named with their schema. */
import { describe, expect, it } from 'vitest';
import { findings } from '../testing.js';
import type { LintOptions } from '../types.js';

const RULE = 'require-table-schema';

const FLAGGED: Array<[string, LintOptions, number]> = [
  ['create table posts (id bigint);', {}, 1],
  ['alter table posts add column name text;', {}, 1],
  ['drop table posts;', {}, 1],
  ['create table posts as select 1;', {}, 1],
];

const ALLOWED: Array<[string, LintOptions]> = [
  ['create table public.posts (id bigint);', {}],
  ['alter table public.posts add column name text;', {}],
  ['drop table public.posts;', {}],
  ['create table public.posts as select 1;', {}],
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
