/** constraint-missing-not-valid: constraints that can be NOT VALID must be, and validated in a later transaction. */
import { describe, expect, it } from 'vitest';
import { findings } from '../testing.js';
import type { LintOptions } from '../types.js';

const RULE = 'constraint-missing-not-valid';

const FLAGGED: Array<[string, LintOptions, number]> = [
  ['alter table accounts add constraint positive_balance check (balance >= 0);', {}, 1],
  ['alter table email add constraint fk foreign key (user_id) references users (id);', {}, 1],
  ['alter table t add constraint nn not null a;', {}, 1],
  ['begin;\nalter table accounts add constraint c check (balance >= 0) not valid;\nalter table accounts validate constraint c;\ncommit;', {}, 1],
  ['alter table accounts add constraint c check (balance >= 0) not valid;\nalter table accounts validate constraint c;', { assumeInTransaction: true }, 1],
];

const ALLOWED: Array<[string, LintOptions]> = [
  ['alter table accounts add constraint c check (balance >= 0) not valid;', {}],
  ['alter table accounts add constraint c check (balance >= 0) not valid;\nalter table accounts validate constraint c;', {}],
  ['begin;\nalter table accounts add constraint c check (balance >= 0) not valid;\ncommit;\nbegin;\nalter table accounts validate constraint c;\ncommit;', {}],
  ['create table accounts (balance int); alter table accounts add constraint c check (balance >= 0);', {}],
  ['alter table t add constraint u unique using index i;', {}],
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
