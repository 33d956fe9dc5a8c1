/** adding-not-nullable-field: SET NOT NULL scans under an exclusive lock unless a validated check proves it (12+). */
import { describe, expect, it } from 'vitest';
import { findings } from '../testing.js';
import type { LintOptions } from '../types.js';

const RULE = 'adding-not-nullable-field';

const FLAGGED: Array<[string, LintOptions, number]> = [
  ['alter table recipe alter column view_count set not null;', {}, 1],
  ['alter table recipe add constraint c check (view_count is not null) not valid;\nalter table recipe validate constraint c;\nalter table recipe alter column view_count set not null;', { postgresVersion: 11 }, 1],
];

const ALLOWED: Array<[string, LintOptions]> = [
  ['create table recipe (view_count int); alter table recipe alter column view_count set not null;', {}],
  ['alter table recipe add constraint c check (view_count is not null) not valid;\nalter table recipe validate constraint c;\nalter table recipe alter column view_count set not null;', {}],
  ['alter table recipe validate constraint added_by_an_earlier_file;\nalter table recipe alter column view_count set not null;', {}],
  ['alter table recipe add constraint nn not null view_count not valid;\nalter table recipe validate constraint nn;\nalter table recipe alter column view_count set not null;', {}],
  ['alter table recipe alter column view_count drop not null;', {}],
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
