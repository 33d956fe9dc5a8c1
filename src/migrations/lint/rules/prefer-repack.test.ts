/** prefer-repack: VACUUM FULL and CLUSTER are flagged. */
import { describe, expect, it } from 'vitest';
import { findings } from '../testing.js';
import type { LintOptions } from '../types.js';

const RULE = 'prefer-repack';

const FLAGGED: Array<[string, LintOptions, number]> = [
  ['vacuum full t;', {}, 1],
  ['vacuum (full, analyze) t;', {}, 1],
  ['cluster t using t_pkey;', {}, 1],
];

const ALLOWED: Array<[string, LintOptions]> = [
  ['vacuum t;', {}],
  ['vacuum analyze t;', {}],
  ['analyze t;', {}],
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
