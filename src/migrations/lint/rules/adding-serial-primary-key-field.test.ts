/** adding-serial-primary-key-field: a primary key builds its index under an exclusive lock unless USING INDEX. */
import { describe, expect, it } from 'vitest';
import { findings } from '../testing.js';
import type { LintOptions } from '../types.js';

const RULE = 'adding-serial-primary-key-field';

const FLAGGED: Array<[string, LintOptions, number]> = [
  ['alter table account add primary key (id);', {}, 1],
  ['alter table account add constraint account_pk primary key (id);', {}, 1],
  ['alter table account add column id bigserial primary key;', {}, 1],
];

const ALLOWED: Array<[string, LintOptions]> = [
  ['alter table account add constraint account_pk primary key using index account_pk_idx;', {}],
  ['create table account (id bigint primary key);', {}],
  ['create table account (id bigint); alter table account add primary key (id);', {}],
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
