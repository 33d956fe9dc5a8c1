/** require-concurrent-partition-detach: DETACH PARTITION must be CONCURRENTLY. */
import { describe, expect, it } from 'vitest';
import { findings } from '../testing.js';
import type { LintOptions } from '../types.js';

const RULE = 'require-concurrent-partition-detach';

const FLAGGED: Array<[string, LintOptions, number]> = [
  ['alter table t detach partition p;', {}, 1],
  ['alter table t detach partition p;', { postgresVersion: 13 }, 1],
];

const ALLOWED: Array<[string, LintOptions]> = [
  ['alter table t detach partition p concurrently;', {}],
  ['alter table t attach partition p for values in (1);', {}],
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
