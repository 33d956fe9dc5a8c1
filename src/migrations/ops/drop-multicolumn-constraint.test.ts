import type pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { createMigrationDatabase, migrationFrom, type MigrationDatabase } from '../../../test/helpers/migrations.js';
import { completeMigration, rollbackMigration, startMigration } from '../runner.js';
import { listRuns } from '../state.js';
import { runSteps } from '../steps.js';
import { dropMultiColumnConstraint } from './drop-multicolumn-constraint.js';

let db: MigrationDatabase;

beforeAll(async () => {
  db = await createMigrationDatabase();
});

// the tickets of pgroll's examples 43-47: a unique constraint, a check and a foreign key over the same two columns
async function fresh(): Promise<void> {
  await db.reset(`
    create table sellers (name varchar(255), zip integer, primary key (name, zip));
    insert into sellers values ('alice', 0), ('bob', 5);
    create table tickets (ticket_id serial primary key, sellers_name varchar(255) not null, sellers_zip integer not null, ticket_type varchar(255) default 'paper',
      constraint unique_zip_name unique (sellers_name, sellers_zip),
      constraint check_zip_name check (sellers_name = 'alice' or sellers_zip > 0),
      constraint fk_sellers foreign key (sellers_name, sellers_zip) references sellers (name, zip));
    insert into tickets (sellers_name, sellers_zip) values ('alice', 0), ('bob', 5);`);
}

async function rows(client: pg.Client | pg.Pool, sql: string): Promise<unknown[]> {
  return (await client.query<Record<string, unknown>>(sql)).rows;
}

async function definitions(): Promise<unknown[]> {
  return rows(db.pool, `select conname, convalidated, pg_get_constraintdef(oid) as def from pg_constraint where conrelid = 'public.tickets'::regclass and contype <> 'n' order by conname`);
}

async function leftovers(): Promise<unknown[]> {
  return rows(
    db.pool,
    `select attname as name from pg_attribute where attrelid = 'public.tickets'::regclass and attnum > 0 and not attisdropped and attname like '\\_promote%'
     union all select proname from pg_proc where proname like '\\_promote%'
     union all select conname from pg_constraint where conname like '\\_promote%'
     union all select relname from pg_class where relname like '\\_promote%'`,
  );
}

async function phaseAgain(phase: 'complete' | 'rollback'): Promise<void> {
  const run = (await listRuns(db.pool, 'public')).at(-1);
  const operation = run?.operations[0];
  if (run === undefined || operation?.kind !== 'drop_multicolumn_constraint') throw new Error('no run');
  const { kind: _kind, ...body } = operation;
  const context = { before: run.before, after: structuredClone(run.after), versionSchema: run.versionSchema };
  await runSteps(db.pool, phase === 'complete' ? dropMultiColumnConstraint.complete(body, context).steps : dropMultiColumnConstraint.rollback(body, context));
}

const dropCheck = migrationFrom(
  '48_drop_tickets_check',
  `operations:
  - drop_multicolumn_constraint:
      table: tickets
      name: check_zip_name
      up:
        sellers_name: sellers_name
        sellers_zip: sellers_zip
      down:
        sellers_name: sellers_name
        sellers_zip: SELECT CASE WHEN sellers_name != 'alice' AND sellers_zip <= 0 THEN 1 ELSE sellers_zip END
`,
);

describe('drop_multicolumn_constraint', () => {
  it('pgroll example 48: the new version writes rows the check refused, down fixes them for the old version; the unique constraint and foreign key live on', async () => {
    await fresh();
    const { versionSchema } = await startMigration(dropCheck, { pool: db.pool });
    const oldApp = await db.clientFor('public');
    const newApp = await db.clientFor(versionSchema);
    await db.pool.query(`insert into sellers values ('bob', 0), ('bob', 1), ('carol', 2)`);
    await newApp.query(`insert into tickets (sellers_name, sellers_zip) values ('bob', 0)`);
    expect(await rows(newApp, 'select sellers_name, sellers_zip, ticket_type from tickets where ticket_id = 3')).toEqual([{ sellers_name: 'bob', sellers_zip: 0, ticket_type: 'paper' }]);
    expect(await rows(oldApp, 'select sellers_name, sellers_zip from tickets where ticket_id = 3')).toEqual([{ sellers_name: 'bob', sellers_zip: 1 }]);
    // the copies of the other constraints hold on the new columns
    await expect(newApp.query(`insert into tickets (sellers_name, sellers_zip) values ('bob', 0)`)).rejects.toThrow(/unique_zip_name/);
    await expect(newApp.query(`insert into tickets (sellers_name, sellers_zip) values ('nobody', 3)`)).rejects.toThrow(/fk_sellers/);
    expect(await rows(db.pool, `select conname from pg_constraint where conname like '\\_promote\\_dup%' union all select relname from pg_class where relname like '\\_promote\\_dup%' order by 1`)).toEqual([
      { conname: '_promote_dup_fk_sellers' },
      { conname: '_promote_dup_unique_zip_name' },
    ]);
    await expect(oldApp.query(`insert into tickets (sellers_name, sellers_zip) values ('bob', 0)`)).rejects.toThrow(/check_zip_name/);
    await expect(oldApp.query(`insert into tickets (sellers_name, sellers_zip) values ('alice', 0)`)).rejects.toThrow(/unique_zip_name/);
    const fromOld = await oldApp.query<{ ticket_id: number }>(`insert into tickets (sellers_name, sellers_zip) values ('carol', 2) returning ticket_id`);
    expect(await rows(newApp, `select sellers_name, sellers_zip from tickets where ticket_id = ${fromOld.rows[0]?.ticket_id}`)).toEqual([{ sellers_name: 'carol', sellers_zip: 2 }]);

    // the new version wrote values that up does not reproduce from the old column (down is lossy), which the integrity gate refuses by design
    await completeMigration({ pool: db.pool });
    await phaseAgain('complete');
    expect(await definitions()).toEqual([
      { conname: 'fk_sellers', convalidated: true, def: 'FOREIGN KEY (sellers_name, sellers_zip) REFERENCES sellers(name, zip)' },
      { conname: 'tickets_pkey', convalidated: true, def: 'PRIMARY KEY (ticket_id)' },
      { conname: 'unique_zip_name', convalidated: true, def: 'UNIQUE (sellers_name, sellers_zip)' },
    ]);
    expect(await rows(db.pool, `select column_name, is_nullable from information_schema.columns where table_schema = 'public' and table_name = 'tickets' order by column_name`)).toEqual([
      { column_name: 'sellers_name', is_nullable: 'NO' },
      { column_name: 'sellers_zip', is_nullable: 'NO' },
      { column_name: 'ticket_id', is_nullable: 'NO' },
      { column_name: 'ticket_type', is_nullable: 'YES' },
    ]);
    expect(await leftovers()).toEqual([]);
    await db.pool.query(`insert into sellers values ('dan', 0)`);
    await newApp.query(`insert into tickets (sellers_name, sellers_zip) values ('dan', 0)`);
    await expect(newApp.query(`insert into tickets (sellers_name, sellers_zip) values ('dan', 0)`)).rejects.toThrow(/unique_zip_name/);
  });

  it('rolls back to the table as it was, twice harmlessly', async () => {
    await fresh();
    const before = await definitions();
    await startMigration(dropCheck, { pool: db.pool });
    await rollbackMigration({ pool: db.pool });
    await phaseAgain('rollback');
    expect(await definitions()).toEqual(before);
    expect(await leftovers()).toEqual([]);
  });

  it('refuses a down map that misses a column or names one the constraint does not cover, and a constraint the table lacks', async () => {
    await fresh();
    const attempt = (body: string) => startMigration(migrationFrom('03_bad', `operations:\n  - drop_multicolumn_constraint:\n      table: tickets\n${body}`), { pool: db.pool });
    await expect(attempt(`      name: check_zip_name\n      down: { sellers_name: sellers_name }\n`)).rejects.toThrow(/down has no expression for column "sellers_zip"/);
    await expect(attempt(`      name: check_zip_name\n      down: { sellers_name: a, sellers_zip: b, ticket_type: c }\n`)).rejects.toThrow(/down names column "ticket_type", which the constraint does not cover/);
    await expect(attempt(`      name: nope\n      down: { a: a }\n`)).rejects.toThrow(/constraint "nope" does not exist on table "tickets" \(it has: check_zip_name, fk_sellers, tickets_pkey, unique_zip_name\)/);
    expect(await listRuns(db.pool, 'public')).toEqual([]);
  });
});
