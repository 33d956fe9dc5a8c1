/** require-enum-value-ordering: ADD VALUE must say where the value goes. */
import { describe, expect, it } from 'vitest';
import { findings } from '../testing.js';
import type { LintOptions } from '../types.js';

const RULE = 'require-enum-value-ordering';

const FLAGGED: Array<[string, LintOptions, number]> = [
  ['alter type status add value \'pending_review\';', {}, 1],
  ['alter type status add value if not exists \'pending_review\';', {}, 1],
];

const ALLOWED: Array<[string, LintOptions]> = [
  ['alter type status add value \'pending_review\' before \'approved\';', {}],
  ['alter type status add value \'pending_review\' after \'submitted\';', {}],
  ['alter type status rename value \'a\' to \'b\';', {}],
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
