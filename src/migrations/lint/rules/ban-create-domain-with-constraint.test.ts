/** ban-create-domain-with-constraint: domains with CHECK or NOT NULL constraints are flagged. */
import { describe, expect, it } from 'vitest';
import { findings } from '../testing.js';
import type { LintOptions } from '../types.js';

const RULE = 'ban-create-domain-with-constraint';

const FLAGGED: Array<[string, LintOptions, number]> = [
  ['create domain positive as int check (value > 0);', {}, 1],
  ['create domain required_text as text not null;', {}, 1],
];

const ALLOWED: Array<[string, LintOptions]> = [
  ['create domain label as text;', {}],
  ['create domain counter as int default 0;', {}],
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
