/** prefer-robust-stmts: outside a transaction, statements must be safe to run again. */
import { describe, expect, it } from 'vitest';
import { findings } from '../testing.js';
import type { LintOptions } from '../types.js';

const RULE = 'prefer-robust-stmts';

const FLAGGED: Array<[string, LintOptions, number]> = [
  ['alter table app_user add column email text;', {}, 1],
  ['alter table app_user drop column email;', {}, 1],
  ['alter table app_user drop constraint c;', {}, 1],
  ['alter table app_user add constraint c check (a > 0) not valid;', {}, 1],
  ['create table foo (a int);', {}, 1],
  ['create index email_idx on app_user (email);', {}, 1],
  ['create index concurrently on app_user (email);', {}, 1],
  ['drop table foo;', {}, 1],
  ['drop index foo_idx;', {}, 1],
  ['drop type foo_enum;', {}, 1],
  ['alter table foo rename column a to b;', {}, 1],
  ['create index concurrently email_idx on app_user (email);', { assumeInTransaction: true }, 1],
];

const ALLOWED: Array<[string, LintOptions]> = [
  ['alter table app_user add column if not exists email text;', {}],
  ['alter table app_user drop column if exists email;', {}],
  ['alter table app_user drop constraint if exists c;\nalter table app_user add constraint c check (a > 0) not valid;', {}],
  ['create table if not exists foo (a int);', {}],
  ['create temp table foo (a int) on commit drop;', {}],
  ['create index concurrently if not exists email_idx on app_user (email);', {}],
  ['drop table if exists foo;', {}],
  ['drop index concurrently if exists foo_idx;', {}],
  ['begin;\nalter table app_user add column email text;\ncreate table foo (a int);\ndrop table bar;\ncommit;', {}],
  ['alter table app_user add column email text;', { assumeInTransaction: true }],
  ['alter table app_user validate constraint c;', {}],
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
