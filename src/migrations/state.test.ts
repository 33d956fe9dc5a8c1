import { beforeAll, describe, expect, it } from 'vitest';
import { createMigrationDatabase, migrationFrom, type MigrationDatabase } from '../../test/helpers/migrations.js';
import { completeMigration, rollbackMigration, startMigration } from './runner.js';
import { listRuns, verifyRunChain } from './state.js';

let db: MigrationDatabase;

beforeAll(async () => {
  db = await createMigrationDatabase();
  await db.reset(`create table notes (id serial primary key, body text)`);
  const add = (name: string, column: string) => migrationFrom(name, `operations:\n  - add_column: { table: notes, column: { name: ${column}, type: text, nullable: true } }\n`);
  await startMigration(add('02_title', 'title'), { pool: db.pool });
  await completeMigration({ pool: db.pool });
  await startMigration(add('03_tag', 'tag'), { pool: db.pool });
  await rollbackMigration({ pool: db.pool });
  await startMigration(add('03_tag', 'tag'), { pool: db.pool });
  await completeMigration({ pool: db.pool });
});

describe('the chain of migration runs', () => {
  it('links every run, rolled back ones too, to the one before', async () => {
    const runs = await listRuns(db.pool, 'public');
    expect(runs.map((run) => [run.name, run.phase])).toEqual([
      ['02_title', 'completed'],
      ['03_tag', 'rolled_back'],
      ['03_tag', 'completed'],
    ]);
    expect(runs[1]?.previousHash).toBe(runs[0]?.chainHash);
    expect(await verifyRunChain(db.pool, 'public')).toMatchObject({ ok: true, runs: 3, head: runs[2]?.chainHash });
  });

  it('names the first run that was edited, and the one after a removed run', async () => {
    const [first] = await listRuns(db.pool, 'public');
    await db.pool.query(`update promote_migrate.runs set checksum = repeat('0', 64) where id = $1`, [first?.id]);
    expect(await verifyRunChain(db.pool, 'public')).toMatchObject({ ok: false, index: 0, name: '02_title', reason: expect.stringContaining('the entry was edited') as unknown });
    await db.pool.query(`delete from promote_migrate.runs where id = $1`, [first?.id]);
    expect(await verifyRunChain(db.pool, 'public')).toMatchObject({ ok: false, index: 0, name: '03_tag', reason: expect.stringContaining('removed, inserted or reordered') as unknown });
  });
});
