/** adding-required-field: a NOT NULL column without a default fails on existing rows. */
import { describe, expect, it } from 'vitest';
import { findings } from '../testing.js';
import type { LintOptions } from '../types.js';

const RULE = 'adding-required-field';

const FLAGGED: Array<[string, LintOptions, number]> = [
  ['alter table recipe add column public boolean not null;', {}, 1],
  ['alter table recipe add column id bigint primary key;', {}, 1],
];

const ALLOWED: Array<[string, LintOptions]> = [
  ['alter table recipe add column public boolean;', {}],
  ['alter table recipe add column public boolean not null default false;', {}],
  ['alter table recipe add column g int not null generated always as (a * 2) stored;', {}],
  ['alter table recipe add column i bigint not null generated always as identity;', {}],
  ['create table recipe (id bigint); alter table recipe add column public boolean not null;', {}],
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
