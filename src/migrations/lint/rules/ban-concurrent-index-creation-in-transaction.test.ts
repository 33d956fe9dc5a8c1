/** ban-concurrent-index-creation-in-transaction: CONCURRENTLY index commands fail inside a transaction block. */
import { describe, expect, it } from 'vitest';
import { findings } from '../testing.js';
import type { LintOptions } from '../types.js';

const RULE = 'ban-concurrent-index-creation-in-transaction';

const FLAGGED: Array<[string, LintOptions, number]> = [
  ['begin;\ncreate index concurrently i on t (a);\ncommit;', {}, 1],
  ['create table x (a int);\ncreate index concurrently i on t (a);', { assumeInTransaction: true }, 1],
  ['begin;\ndrop index concurrently i;\ncommit;', {}, 1],
  ['begin;\nreindex index concurrently i;\ncommit;', {}, 1],
];

const ALLOWED: Array<[string, LintOptions]> = [
  ['create index concurrently i on t (a);', {}],
  ['create index concurrently i on t (a);', { assumeInTransaction: true }],
  ['begin;\ncreate table x (a int);\ncommit;\ncreate index concurrently i on t (a);', {}],
  ['-- squawk-disable-assume-in-transaction\nselect 1;\ncreate index concurrently i on t (a);', { assumeInTransaction: true }],
  ['begin;\ncreate index i on t (a);\ncommit;', {}],
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
