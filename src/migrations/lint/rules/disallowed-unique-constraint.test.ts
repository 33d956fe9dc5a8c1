/** disallowed-unique-constraint: UNIQUE constraints must be attached USING INDEX built concurrently. */
import { describe, expect, it } from 'vitest';
import { findings } from '../testing.js';
import type { LintOptions } from '../types.js';

const RULE = 'disallowed-unique-constraint';

const FLAGGED: Array<[string, LintOptions, number]> = [
  ['alter table distributors add constraint dist_id_uniq unique (dist_id);', {}, 1],
  ['alter table distributors add column dist_id text unique;', {}, 1],
  ['alter table bookings add constraint no_overlap exclude using gist (room with =, during with &&);', {}, 1],
];

const ALLOWED: Array<[string, LintOptions]> = [
  ['alter table distributors add constraint distributors_dist_id_key unique using index dist_id_uniq;', {}],
  ['create table distributors (dist_id text unique);', {}],
  ['create table distributors (dist_id text); alter table distributors add constraint u unique (dist_id);', {}],
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
