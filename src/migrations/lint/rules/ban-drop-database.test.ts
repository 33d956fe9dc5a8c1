/** ban-drop-database: DROP DATABASE is flagged. */
import { describe, expect, it } from 'vitest';
import { findings } from '../testing.js';
import type { LintOptions } from '../types.js';

const RULE = 'ban-drop-database';

const FLAGGED: Array<[string, LintOptions, number]> = [
  ['drop database app;', {}, 1],
  ['drop database if exists app;', {}, 1],
];

const ALLOWED: Array<[string, LintOptions]> = [
  ['drop table app;', {}],
  ['create database app;', {}],
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
