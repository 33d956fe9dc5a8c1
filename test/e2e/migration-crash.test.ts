/**
 * A migrator SIGKILLed between any two SQL steps of start, complete or rollback: the next migrator
 * finishes the job (complete and rollback run again; a start interrupted before its views exist is
 * rolled back and started anew, one interrupted in its backfill resumes it), and no row is lost, doubled or left with a wrong value. Every step boundary is tried.
 */
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { completeMigration, rollbackMigration, startMigration } from '../../src/migrations/runner.js';
import { inFlightRun } from '../../src/migrations/state.js';
import { createMigrationDatabase, migrationFrom, type MigrationDatabase } from '../helpers/migrations.js';
import { scratchFolder } from '../helpers/scratch.js';

const child = fileURLToPath(new URL('../fixtures/migrate-child.mjs', import.meta.url));
const ROWS = 500;
const MIGRATION = `operations:
  - add_column:
      table: accounts
      up: upper(owner)
      column: { name: owner_code, type: text }
  - alter_column:
      table: accounts
      column: balance
      type: bigint
      up: balance::bigint
      down: balance::text
  - rename_column: { table: accounts, from: note, to: remark }
  - drop_column: { table: accounts, column: legacy, down: "'legacy'" }
`;

let db: MigrationDatabase;
let file: string;

beforeAll(async () => {
  db = await createMigrationDatabase();
  file = join(await scratchFolder('promote-migration-crash-'), '07_accounts.yaml');
  await writeFile(file, MIGRATION);
});

async function freshTable(): Promise<void> {
  await db.reset();
  await db.pool.query(`create table accounts (id serial primary key, owner text not null, balance text not null, note text, legacy text);
    insert into accounts (owner, balance, note, legacy) select 'owner' || n, (n * 10)::text, 'note ' || n, 'x' from generate_series(1, ${ROWS}) n`);
}

function runChild(phase: string, killAfter: number): Promise<{ killed: boolean; output: string }> {
  return new Promise((resolve, reject) => {
    const process_ = spawn(process.execPath, [child, db.url, phase, file, String(killAfter)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    process_.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    process_.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    process_.on('error', reject);
    process_.on('exit', (code, signal) => {
      if (signal === 'SIGKILL') resolve({ killed: true, output });
      else if (code === 0) resolve({ killed: false, output });
      else reject(new Error(`the migrator exited with ${code}: ${output}`));
    });
  });
}

async function assertCompleted(): Promise<void> {
  const columns = await db.pool.query<{ column_name: string; data_type: string }>(
    `select column_name, data_type from information_schema.columns where table_schema = 'public' and table_name = 'accounts' order by column_name`,
  );
  expect(columns.rows).toEqual([
    { column_name: 'balance', data_type: 'bigint' },
    { column_name: 'id', data_type: 'integer' },
    { column_name: 'owner', data_type: 'text' },
    { column_name: 'owner_code', data_type: 'text' },
    { column_name: 'remark', data_type: 'text' },
  ]);
  const rows = await db.pool.query<{ n: number; wrong: number }>(
    `select count(*)::int as n, count(*) filter (where owner_code <> upper(owner) or balance <> id * 10 or remark <> 'note ' || id)::int as wrong from accounts`,
  );
  expect(rows.rows[0]).toEqual({ n: ROWS, wrong: 0 });
}

async function assertAsBefore(): Promise<void> {
  const columns = await db.pool.query<{ column_name: string }>(`select column_name from information_schema.columns where table_schema = 'public' and table_name = 'accounts' order by ordinal_position`);
  expect(columns.rows.map((row) => row.column_name)).toEqual(['id', 'owner', 'balance', 'note', 'legacy']);
  const rows = await db.pool.query<{ n: number; wrong: number }>(`select count(*)::int as n, count(*) filter (where balance <> (id * 10)::text or note <> 'note ' || id)::int as wrong from accounts`);
  expect(rows.rows[0]).toEqual({ n: ROWS, wrong: 0 });
}

/** Kills the child after 1, 2, … steps until it finishes without being killed; `check` runs after each. */
async function everyKillPoint(phase: string, prepare: () => Promise<void>, recover: () => Promise<void>, check: () => Promise<void>): Promise<number> {
  for (let killAfter = 1; ; killAfter += 1) {
    await prepare();
    const { killed } = await runChild(phase, killAfter);
    await recover();
    await check();
    if (!killed) return killAfter - 1;
  }
}

describe('a migrator killed between any two steps', () => {
  it('complete: the next migrator finishes it, with every row intact', async () => {
    const migration = migrationFrom('07_accounts', MIGRATION);
    const points = await everyKillPoint(
      'complete',
      async () => {
        await freshTable();
        await startMigration(migration, { pool: db.pool });
      },
      async () => {
        if ((await inFlightRun(db.pool, 'public')) !== undefined) await completeMigration({ pool: db.pool });
      },
      assertCompleted,
    );
    // the validations, each in its own transaction, then the table's switch as one (complete-schedule.ts)
    expect(points).toBeGreaterThan(2);
  }, 240_000);

  it('rollback: the next migrator finishes it, and the table is as it was', async () => {
    const migration = migrationFrom('07_accounts', MIGRATION);
    const points = await everyKillPoint(
      'rollback',
      async () => {
        await freshTable();
        await startMigration(migration, { pool: db.pool });
      },
      async () => {
        if ((await inFlightRun(db.pool, 'public')) !== undefined) await rollbackMigration({ pool: db.pool });
      },
      assertAsBefore,
    );
    // the version schema, the index dropped concurrently, then the table's switch as one (complete-schedule.ts)
    expect(points).toBeGreaterThanOrEqual(3);
  }, 240_000);

  it('start: the interrupted start is rolled back, the next start and complete succeed', async () => {
    const migration = migrationFrom('07_accounts', MIGRATION);
    const points = await everyKillPoint(
      'start',
      freshTable,
      async () => {
        // killed before the expand was whole: roll back; killed in the backfill: start again resumes it
        if ((await inFlightRun(db.pool, 'public'))?.phase === 'starting') {
          await rollbackMigration({ pool: db.pool });
          await assertAsBefore();
        }
        await startMigration(migration, { pool: db.pool });
        await completeMigration({ pool: db.pool });
      },
      assertCompleted,
    );
    expect(points).toBeGreaterThan(5);
  }, 240_000);
});
