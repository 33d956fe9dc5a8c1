/** ban-truncate-cascade: TRUNCATE CASCADE is flagged. */
import { describe, expect, it } from 'vitest';
import { findings } from '../testing.js';
import type { LintOptions } from '../types.js';

const RULE = 'ban-truncate-cascade';

const FLAGGED: Array<[string, LintOptions, number]> = [
  ['truncate a cascade;', {}, 1],
  ['truncate table a, b cascade;', {}, 1],
];

const ALLOWED: Array<[string, LintOptions]> = [
  ['truncate a, b;', {}],
  ['truncate a restrict;', {}],
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
