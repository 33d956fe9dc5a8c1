/** ban-char-field: char(n) is flagged, text, varchar and the internal "char" are not. */
import { describe, expect, it } from 'vitest';
import { findings } from '../testing.js';
import type { LintOptions } from '../types.js';

const RULE = 'ban-char-field';

const FLAGGED: Array<[string, LintOptions, number]> = [
  ['create table u (name char(100));', {}, 1],
  ['create table u (code character);', {}, 1],
  ['alter table u add column code char(2);', {}, 1],
  ['alter table u alter column code type character(3);', {}, 1],
];

const ALLOWED: Array<[string, LintOptions]> = [
  ['create table u (name varchar(100), email text);', {}],
  ['create table u (flag "char");', {}],
  ['select \'a\'::char(3);', {}],
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
