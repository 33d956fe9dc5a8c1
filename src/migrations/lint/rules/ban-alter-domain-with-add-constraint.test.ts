/** ban-alter-domain-with-add-constraint: adding a constraint to a domain rescans every column using it. */
import { describe, expect, it } from 'vitest';
import { findings } from '../testing.js';
import type { LintOptions } from '../types.js';

const RULE = 'ban-alter-domain-with-add-constraint';

const FLAGGED: Array<[string, LintOptions, number]> = [
  ['alter domain positive add constraint c check (value > 0);', {}, 1],
];

const ALLOWED: Array<[string, LintOptions]> = [
  ['alter domain positive drop constraint c;', {}],
  ['alter domain positive set default 1;', {}],
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
