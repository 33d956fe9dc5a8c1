/** ban-uncommitted-transaction: a BEGIN without COMMIT or ROLLBACK is flagged. */
import { describe, expect, it } from 'vitest';
import { findings } from '../testing.js';
import type { LintOptions } from '../types.js';

const RULE = 'ban-uncommitted-transaction';

const FLAGGED: Array<[string, LintOptions, number]> = [
  ['begin;\ncreate table users (id bigint);', {}, 1],
  ['begin;\ncommit;\nstart transaction;\nselect 1;', {}, 1],
];

const ALLOWED: Array<[string, LintOptions]> = [
  ['begin;\ncreate table users (id bigint);\ncommit;', {}],
  ['begin;\nselect 1;\nrollback;', {}],
  ['create table users (id bigint);', {}],
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
