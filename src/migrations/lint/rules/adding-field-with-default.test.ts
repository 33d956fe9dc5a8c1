/** adding-field-with-default: volatile defaults, generated, identity and serial columns rewrite; constant defaults on 11+ do not. */
import { describe, expect, it } from 'vitest';
import { findings } from '../testing.js';
import type { LintOptions } from '../types.js';

const RULE = 'adding-field-with-default';

const FLAGGED: Array<[string, LintOptions, number]> = [
  ['alter table t add column c uuid default gen_random_uuid();', {}, 1],
  ['alter table t add column c float8 default random() * 10;', {}, 1],
  ['alter table t add column c bigint default nextval(\'s\');', {}, 1],
  ['alter table t add column c int default my_func();', {}, 1],
  ['alter table t add column c int generated always as (a + 1) stored;', {}, 1],
  ['alter table t add column c bigint generated always as identity;', {}, 1],
  ['alter table t add column c bigserial;', {}, 1],
  ['alter table t add column c int default 10;', { postgresVersion: 10 }, 1],
  ['create function f() returns int language sql as \'select 1\'; alter table t add column c int default f();', {}, 1],
];

const ALLOWED: Array<[string, LintOptions]> = [
  ['alter table t add column c int default 10;', {}],
  ['alter table t add column c timestamptz default now();', {}],
  ['alter table t add column c timestamptz default current_timestamp;', {}],
  ['alter table t add column c jsonb default \'{}\'::jsonb;', {}],
  ['alter table t add column c text default lower(\'X\');', {}],
  ['alter table t add column c int[] default array[]::int[];', {}],
  ['alter table t add column c int generated always as (a + 1) virtual;', {}],
  ['create function f() returns int language sql immutable as \'select 1\'; alter table t add column c int default f();', {}],
  ['create table t (a int); alter table t add column c uuid default gen_random_uuid();', {}],
  ['alter table t alter column c set default random();', {}],
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
