/** require-concurrent-reindex: REINDEX must be CONCURRENTLY. */
import { describe, expect, it } from 'vitest';
import { findings } from '../testing.js';
import type { LintOptions } from '../types.js';

const RULE = 'require-concurrent-reindex';

const FLAGGED: Array<[string, LintOptions, number]> = [
  ['reindex table foo;', {}, 1],
  ['reindex index foo_idx;', {}, 1],
];

const ALLOWED: Array<[string, LintOptions]> = [
  ['reindex table concurrently foo;', {}],
  ['reindex (concurrently) index foo_idx;', {}],
  ['reindex system app;', {}],
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
