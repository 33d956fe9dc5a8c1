/** require-lock-timeout: the first locking DDL needs a lock_timeout set before it, once per file. */
import { describe, expect, it } from 'vitest';
import { findings } from '../testing.js';
import type { LintOptions } from '../types.js';

const RULE = 'require-lock-timeout';

const FLAGGED: Array<[string, LintOptions, number]> = [
  ['alter table t add column c boolean;', {}, 1],
  ['alter table t add column c boolean;\nalter table t add column d boolean;', {}, 1],
  ['create index concurrently i on t (a);', {}, 1],
  ['set lock_timeout = 0;\nalter table t add column c boolean;', {}, 1],
  ['set lock_timeout = \'1s\';\nreset lock_timeout;\ndrop table t;', {}, 1],
  ['set local lock_timeout = \'1s\';\nalter table t add column c boolean;', {}, 1],
  ['create table a (b_id bigint references b (id));', {}, 1],
];

const ALLOWED: Array<[string, LintOptions]> = [
  ['set lock_timeout = \'1s\';\nalter table t add column c boolean;', {}],
  ['set lock_timeout to 1000;\nalter table t add column c boolean;', {}],
  ['begin;\nset local lock_timeout = \'1s\';\nalter table t add column c boolean;\ncommit;', {}],
  ['select set_config(\'lock_timeout\', \'1s\', false);\nalter table t add column c boolean;', {}],
  ['create table t (a int);\ncreate index i on t (a);\nalter table t add column c int;', {}],
  ['insert into t values (1);\nupdate t set a = 2;', {}],
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
