/** adding-foreign-key-constraint: a validated foreign key blocks writes to both tables; NOT VALID and new tables do not. */
import { describe, expect, it } from 'vitest';
import { findings } from '../testing.js';
import type { LintOptions } from '../types.js';

const RULE = 'adding-foreign-key-constraint';

const FLAGGED: Array<[string, LintOptions, number]> = [
  ['alter table email add constraint fk_user foreign key (user_id) references users (id);', {}, 1],
  ['alter table email add column user_id bigint references users (id);', {}, 1],
];

const ALLOWED: Array<[string, LintOptions]> = [
  ['alter table email add constraint fk_user foreign key (user_id) references users (id) not valid;', {}],
  ['alter table email validate constraint fk_user;', {}],
  ['create table email (id bigint, user_id bigint references users (id));', {}],
  ['create table email (id bigint, user_id bigint); alter table email add constraint fk foreign key (user_id) references users (id);', {}],
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
