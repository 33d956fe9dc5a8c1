/**
 * PostgreSQL crashes (pg_ctl stop -m immediate: no checkpoint, crash recovery at the next start) in the
 * middle of a migration's backfill while a writer keeps inserting and updating rows. The start fails
 * with the lost connection; run again once the server is back, it resumes from the cursor the last
 * committed batch saved, not from the first key. Afterwards every row has its new column, no row was
 * visited twice by the backfill, and every write the server acknowledged is there.
 *
 * The run's shared server is left alone: this file starts a PostgreSQL of its own (private-postgres.ts).
 */
import type pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { runBackfill, type BackfillReport } from '../../src/migrations/backfill/backfill.js';
import { backfillProgress } from '../../src/migrations/backfill/progress.js';
import { completeMigration, startMigration } from '../../src/migrations/runner.js';
import { inFlightRun } from '../../src/migrations/state.js';
import { seededRandom } from '../../src/system/seeded-random.js';
import { migrationFrom } from '../helpers/migrations.js';
import { createVisitLoggedAccounts, type PrivatePostgres, startPrivatePostgres } from '../helpers/private-postgres.js';

const ROWS = 80_000;
const SEED = Number(process.env.PROMOTE_TEST_SEED ?? 9);
const MIGRATION = migrationFrom('01_name_upper', `operations:
  - add_column:
      table: accounts
      up: upper(name)
      column: { name: name_upper, type: text }
`);

let postgres: PrivatePostgres;
const crashAndRestart = () => postgres.crashAndRestart();
const pool = (application: string, max: number) => postgres.pool(application, max);

beforeAll(async () => {
  postgres = await startPrivatePostgres('promote-pg-restart-');
}, 120_000);

/**
 * A writer that inserts rows and renames random ones, one statement at a time, keeping a ledger: the
 * value each row was last acknowledged with, and the writes whose outcome it never learnt (the
 * connection died before the answer), which may or may not have committed.
 */
function startWriter(db: pg.Pool, random: () => number) {
  const acked = new Map<number, string>();
  const inDoubt = new Map<number, string[]>();
  const counts = { acked: 0, failed: 0 };
  let stopping = false;
  let sequence = 0;
  const loop = (async () => {
    while (!stopping) {
      sequence += 1;
      const name = `w${sequence}`;
      const insert = random() < 0.4;
      const id = insert ? undefined : 1 + Math.floor(random() * ROWS);
      try {
        if (insert) {
          const result = await db.query<{ id: number }>(`insert into accounts (name) values ($1) returning id`, [name]);
          acked.set(result.rows[0]!.id, name);
        } else {
          await db.query(`update accounts set name = $1 where id = $2`, [name, id]);
          acked.set(id!, name);
          inDoubt.delete(id!);
        }
        counts.acked += 1;
      } catch {
        counts.failed += 1;
        // an insert in doubt has no id to check; an update in doubt may have landed
        if (id !== undefined) inDoubt.set(id, [...(inDoubt.get(id) ?? []), name]);
        await new Promise((done) => setTimeout(done, 50));
      }
    }
  })();
  return {
    acked,
    inDoubt,
    counts,
    async stop() {
      stopping = true;
      await loop;
    },
  };
}

describe('PostgreSQL crashing during a backfill', () => {
  it('the backfill resumes from its cursor; every row filled once; every acknowledged write kept', async () => {
    const admin = pool('test-admin', 2);
    await createVisitLoggedAccounts(admin, ROWS);

    const migrator = pool('migrator', 2);
    const writer = startWriter(pool('writer', 2), seededRandom(SEED));
    const reports: BackfillReport[] = [];
    let crash: Promise<void> | undefined;
    const backfill = async (db: pg.Pool, table: Parameters<typeof runBackfill>[1]) => {
      const report = await runBackfill(db, table, {
        // small batches with a pause: the crash must land while many batches remain, however fast the machine
        maxBatchSize: 1_000,
        delayMs: 20,
        onProgress: (progress) => {
          // about a third of the way: late enough that many batches committed, early enough that many remain
          if (crash === undefined && progress.rowsDone >= ROWS / 3) crash = crashAndRestart();
        },
      });
      reports.push(report);
      return report;
    };

    const first = await startMigration(MIGRATION, { pool: migrator, backfill }).then(() => undefined, (error: unknown) => error as Error);
    expect(crash, 'the backfill finished before a third of the rows: nothing was interrupted').toBeDefined();
    await crash;
    expect(first, 'the start should fail with the lost connection').toBeInstanceOf(Error);
    expect(String(first)).toMatch(/run the start again to resume/);

    // what the crash left: a cursor part of the way, as many rows visited as the cursor says
    const [saved] = await backfillProgress(admin, MIGRATION.name);
    expect(saved?.phase).toBe('keyset');
    const visitedBefore = await count(admin, 'select count(*) from backfill_visits');
    expect(saved!.rowsDone).toBeGreaterThan(0);
    expect(saved!.rowsDone).toBeLessThan(ROWS);
    expect(saved!.keysetRows).toBe(visitedBefore);
    expect((await inFlightRun(admin, 'public'))?.backfilled).toBe(false);

    // the migrator runs the start again, as the error told it to
    const again = await startMigration(MIGRATION, { pool: migrator, backfill });
    expect(again.resumed).toBe(true);
    const resumed = reports.at(-1)!;
    expect(resumed.done).toBe(true);
    expect(resumed.resumedFrom?.lastKey).toEqual(saved!.lastKey);
    expect(resumed.resumedFrom?.batches).toBe(saved!.batches);

    await writer.stop();
    console.log(`crash at ${saved!.rowsDone} of ${ROWS} rows (batch ${saved!.batches}); resumed run: ${resumed.batches} batches, ${resumed.rowsVisited} rows; writer: ${writer.counts.acked} acknowledged, ${writer.counts.failed} failed`);
    expect(writer.counts.failed, 'the writer should have met the crash').toBeGreaterThan(0);
    expect(writer.counts.acked).toBeGreaterThan(0);

    // no row visited twice, and the resumed run visited only what the first left
    const visits = await admin.query<{ twice: string; total: string }>(
      `select count(*) filter (where n > 1) as twice, coalesce(sum(n), 0) as total from (select count(*) as n from backfill_visits group by id) v`);
    expect(Number(visits.rows[0]!.twice)).toBe(0);
    expect(Number(visits.rows[0]!.total)).toBe(visitedBefore + resumed.rowsVisited);
    const [finished] = await backfillProgress(admin, MIGRATION.name);
    expect(finished!.keysetRows + finished!.sweepRows).toBe(Number(visits.rows[0]!.total));

    // every row filled, and every acknowledged write there (an unanswered one may or may not have landed)
    // the new column through the new version's view (the table holds it under a temporary name until complete)
    const rows = await admin.query<{ id: number; name: string; name_upper: string | null }>(`select id, name, name_upper from "${again.versionSchema}".accounts`);
    const byId = new Map(rows.rows.map((row) => [row.id, row]));
    expect(rows.rows.filter((row) => row.name_upper !== row.name.toUpperCase())).toEqual([]);
    const missing: string[] = [];
    for (const [id, name] of writer.acked) {
      const row = byId.get(id);
      const allowed = [name, ...(writer.inDoubt.get(id) ?? [])];
      if (!row || !allowed.includes(row.name)) missing.push(`${id}: acknowledged ${name}, found ${row?.name ?? 'no row'}`);
    }
    expect(missing).toEqual([]);

    const completed = await completeMigration({ pool: migrator });
    expect(completed.phase).toBe('completed');
    expect(await count(admin, 'select count(*) from accounts where name_upper is distinct from upper(name)')).toBe(0);
  }, 120_000);
});

async function count(db: pg.Pool, sql: string): Promise<number> {
  const result = await db.query<{ count: string }>(sql);
  return Number(result.rows[0]!.count);
}
