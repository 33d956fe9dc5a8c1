/** transaction-nesting: BEGIN inside a transaction and COMMIT outside one are flagged. */
import { describe, expect, it } from 'vitest';
import { findings } from '../testing.js';
import type { LintOptions } from '../types.js';

const RULE = 'transaction-nesting';

const FLAGGED: Array<[string, LintOptions, number]> = [
  ['begin;\nbegin;\nselect 1;\ncommit;', {}, 1],
  ['commit;', {}, 1],
  ['rollback;', {}, 1],
  ['begin;\nselect 1;\ncommit;', { assumeInTransaction: true }, 2],
];

const ALLOWED: Array<[string, LintOptions]> = [
  ['begin;\nselect 1;\ncommit;', {}],
  ['begin;\nselect 1;\ncommit;\nstart transaction;\nselect 2;\nend;', {}],
  ['select 1;', { assumeInTransaction: true }],
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
