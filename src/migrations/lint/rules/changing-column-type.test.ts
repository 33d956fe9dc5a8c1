/**
 * changing-column-type: unsafe changes are flagged with the expand/contract plan; changes in
 * strong_migrations' safe-cast table pass once the current type is known from earlier statements.
 */
import { describe, expect, it } from 'vitest';
import { findings } from '../testing.js';
import { lintSql, SchemaModel } from '../index.js';

const RULE = 'changing-column-type';
const table = (column: string) => `create table t (c ${column});\ncommit;\n`;

async function verdict(from: string, to: string, options: { postgresVersion?: number; prelude?: string } = {}): Promise<string[]> {
  const schema = new SchemaModel();
  const exclude = ['require-lock-timeout', 'require-statement-timeout'];
  await lintSql(table(from), { schema, exclude });
  const found = await findings(RULE, `${options.prelude ?? ''}alter table t alter column c type ${to};`, { schema, postgresVersion: options.postgresVersion });
  return found.map((each) => each.message);
}

describe(RULE, () => {
  it.each([
    ['varchar(10)', 'varchar(20)'],
    ['varchar(10)', 'varchar'],
    ['varchar(10)', 'text'],
    ['text', 'varchar'],
    ['numeric(10, 2)', 'numeric(12, 2)'],
    ['numeric(10, 2)', 'numeric'],
    ['decimal(10, 2)', 'numeric(14, 2)'],
    ['timestamp(3)', 'timestamp(6)'],
    ['timestamp(3)', 'timestamp'],
    ['timestamptz(0)', 'timestamptz'],
    ['time(2)', 'time(4)'],
    ['interval(2)', 'interval'],
    ['bit varying(4)', 'bit varying(8)'],
    ['cidr', 'inet'],
    ['text', 'citext'],
    ['bigint', 'int8'],
  ])('%s -> %s is safe', async (from, to) => {
    expect(await verdict(from, to)).toEqual([]);
  });

  it.each([
    ['int', 'bigint', /integer to bigint rewrites the table/],
    ['smallint', 'int', /rewrites/],
    ['varchar(20)', 'varchar(10)', /shorter or new length limit/],
    ['text', 'varchar(10)', /length limit/],
    ['numeric(10, 2)', 'numeric(10, 4)', /precision or changing the scale/],
    ['numeric', 'numeric(10, 2)', /precision or changing the scale/],
    ['timestamp(6)', 'timestamp(3)', /rounds every value/],
    ['interval year to month', 'interval', /fields of an interval/],
    ['text', 'int', /stored differently/],
    ['inet', 'cidr', /stored differently/],
    ['int[]', 'int', /array/],
  ])('%s -> %s rewrites the table', async (from, to, why) => {
    const messages = await verdict(from, to);
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatch(why);
  });

  it('timestamp -> timestamptz is safe only on Postgres 12+ with the session in UTC', async () => {
    expect(await verdict('timestamp', 'timestamptz')).toEqual([expect.stringMatching(/session time zone is UTC/)]);
    expect(await verdict('timestamp', 'timestamptz', { prelude: "set time zone 'UTC';\n" })).toEqual([]);
    expect(await verdict('timestamptz', 'timestamp', { prelude: "set timezone = 'Etc/UTC';\n" })).toEqual([]);
    expect(await verdict('timestamp', 'timestamptz', { prelude: "set time zone 'UTC';\n", postgresVersion: 11 })).toEqual([expect.stringMatching(/before Postgres 12/)]);
  });

  it('text -> citext is unsafe when the column is indexed', async () => {
    const schema = new SchemaModel();
    await lintSql('create table t (c text);\ncreate index i on t (c);', { schema });
    expect(await findings(RULE, 'alter table t alter column c type citext;', { schema })).toHaveLength(1);
  });

  it('follows renames and earlier type changes across statements and files', async () => {
    const schema = new SchemaModel();
    await lintSql('create table t (a varchar(5));\nalter table t rename column a to b;\nalter table t rename to u;', { schema });
    expect(await findings(RULE, 'alter table u alter column b type varchar(8);', { schema })).toEqual([]);
    expect(await findings(RULE, 'alter table u alter column b type varchar(6);', { schema })).toHaveLength(1);
  });

  it('flags a type change whose current type is unknown, saying how to make it known', async () => {
    const [found] = await findings(RULE, 'alter table t alter column c type varchar(20);');
    expect(found?.message).toMatch(/current type is not known/);
    expect(found?.help).toMatch(/alter_column migration/);
  });

  it('flags a USING expression that computes new values, but not a plain cast of the column', async () => {
    expect(await verdict('varchar(10)', 'text using c::text')).toEqual([]);
    expect(await verdict('varchar(10)', 'text using upper(c)')).toEqual([expect.stringMatching(/USING expression/)]);
  });

  it('leaves tables created earlier in the same file alone: they have no rows yet', async () => {
    expect(await findings(RULE, 'create table t (c int);\nalter table t alter column c type bigint;')).toEqual([]);
  });

  it('says what to do instead: the expand/contract plan', async () => {
    const schema = new SchemaModel();
    await lintSql('create table t (c int);', { schema });
    const [later] = await findings(RULE, 'alter table t alter column c type bigint;', { schema });
    expect(later?.help).toMatch(/add a new column of the new type, backfill it with a batched update.*switch readers.*drop the old one.*alter_column migration with `type`, `up` and `down`/);
  });
});
