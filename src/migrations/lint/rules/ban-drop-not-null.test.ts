/** ban-drop-not-null: DROP NOT NULL on an existing table is flagged. */
import { describe, expect, it } from 'vitest';
import { findings } from '../testing.js';
import type { LintOptions } from '../types.js';

const RULE = 'ban-drop-not-null';

const FLAGGED: Array<[string, LintOptions, number]> = [
  ['alter table t alter column c drop not null;', {}, 1],
];

const ALLOWED: Array<[string, LintOptions]> = [
  ['alter table t alter column c set not null;', {}],
  ['create table t (c int not null); alter table t alter column c drop not null;', {}],
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
