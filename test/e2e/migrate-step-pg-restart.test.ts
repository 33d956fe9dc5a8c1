/**
 * A rollout's `migrate` expand step (expandReleaseMigrations, what the executor's migrate action
 * calls) while PostgreSQL crashes in the middle of its backfill: the step waits the restart out and
 * succeeds, its backfill resumed from the saved cursor (not from the first key), every row filled
 * once. Before, the step failed on the lost connection and the engine rolled the rollout back,
 * deleting the backfill's progress with it. A failure that is not about the connection (a bad `up`
 * expression) still fails the step at once, without a retry.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { PromoteError, wrapError } from '../../src/errors.js';
import { runBackfill, type BackfillReport } from '../../src/migrations/backfill/backfill.js';
import { backfillProgress } from '../../src/migrations/backfill/progress.js';
import { isConnectionError, retryOnConnectionLoss } from '../../src/migrations/backfill/retry.js';
import { contractReleaseMigrations, expandReleaseMigrations } from '../../src/migrations/release-migrations.js';
import type { Backfiller } from '../../src/migrations/runner.js';
import { createTestDatabase } from '../helpers/database.js';
import { createVisitLoggedAccounts, type PrivatePostgres, startPrivatePostgres } from '../helpers/private-postgres.js';
import { scratchFolder } from '../helpers/scratch.js';

const ROWS = 30_000;

let postgres: PrivatePostgres;

beforeAll(async () => {
  postgres = await startPrivatePostgres('promote-migrate-restart-');
}, 120_000);

async function migrationsFolder(up: string): Promise<string> {
  const dir = join(await scratchFolder('promote-migrate-restart-migrations-'), 'migrations');
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, '01_name_upper.yaml'), `operations:\n  - add_column:\n      table: accounts\n      up: ${up}\n      column: { name: name_upper, type: text }\n`);
  return dir;
}

async function count(db: pg.Pool, sql: string): Promise<number> {
  const result = await db.query<{ count: string }>(sql);
  return Number(result.rows[0]!.count);
}

describe('the migrate step and a PostgreSQL restart', () => {
  it('tells connection failures from the rest, through the errors Promote wraps them in', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    expect(isConnectionError(wrapError('backfilling table "accounts"', refused))).toBe(true);
    expect(isConnectionError(Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }))).toBe(true);
    expect(isConnectionError(Object.assign(new Error('the database system is starting up'), { code: '57P03' }))).toBe(true);
    expect(isConnectionError(Object.assign(new Error('connection failure'), { code: '08006' }))).toBe(true);
    expect(isConnectionError(new PromoteError('starting', { cause: new Error('Connection terminated unexpectedly') }))).toBe(true);
    expect(isConnectionError(new AggregateError([refused], 'all addresses failed'))).toBe(true);
    expect(isConnectionError(wrapError('backfilling', Object.assign(new Error('function nope() does not exist'), { code: '42883' })))).toBe(false);
    expect(isConnectionError(Object.assign(new Error('duplicate key'), { code: '23505' }))).toBe(false);
    expect(isConnectionError(undefined)).toBe(false);
  });

  it('gives up with the last connection error once the reconnect budget is spent', async () => {
    let tries = 0;
    const gone = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
    const failure = await retryOnConnectionLoss(() => {
      tries += 1;
      return Promise.reject(gone);
    }, { budgetMs: 200, baseMs: 5, capMs: 20 }).then(() => undefined, (error: unknown) => error);
    expect(failure).toBe(gone);
    expect(tries).toBeGreaterThan(1);
  });

  it('expand waits out a crash mid-backfill and resumes from the cursor: every row filled once', async () => {
    const admin = postgres.pool('test-admin', 2);
    await createVisitLoggedAccounts(admin, ROWS);

    const reports: BackfillReport[] = [];
    let crash: Promise<void> | undefined;
    const backfill: Backfiller = async (db, table) => {
      const report = await runBackfill(db, table, {
        // small batches with a pause: the crash must land while many batches remain, however fast the machine
        maxBatchSize: 1_000,
        delayMs: 20,
        onProgress: (progress) => {
          if (crash === undefined && progress.rowsDone >= ROWS / 3) crash = postgres.crashAndRestart();
        },
      });
      reports.push(report);
      return report;
    };
    const retries: string[] = [];
    const url = new URL(postgres.server.url);
    url.searchParams.set('application_name', 'migrator');
    const migrationsDir = await migrationsFolder('upper(name)');

    const result = await expandReleaseMigrations({
      databaseUrl: url.toString(),
      migrationsDir,
      schema: 'public',
      backfill,
      reconnect: { onRetry: (attempt, error) => retries.push(`${attempt}: ${String(error)}`) },
    });
    expect(crash, 'the backfill finished before a third of the rows: nothing was interrupted').toBeDefined();
    await crash;
    console.log(`expand: ${result.detail}; retries: ${retries.join(' | ')}`);

    expect(result.applied).toEqual(['01_name_upper']);
    expect(result.reconnects).toBe(retries.length);
    expect(result.reconnects).toBeGreaterThan(0);
    expect(result.detail).toMatch(/^resumed 01_name_upper: .* \(after \d+ reconnects?\)$/);

    // the first backfill died part of the way; the last one started from the cursor it saved
    const resumed = reports.at(-1)!;
    expect(resumed.done).toBe(true);
    expect(resumed.resumedFrom, 'the backfill after the restart started from the first key').not.toBeNull();
    expect(resumed.resumedFrom!.batches).toBeGreaterThan(0);
    expect(resumed.resumedFrom!.lastKey).not.toBeNull();
    // what the cursor says was done before the crash, plus what the resumed run visited: each row once
    expect(resumed.resumedFrom!.keysetRows).toBeGreaterThan(0);
    expect(resumed.resumedFrom!.keysetRows + resumed.rowsVisited).toBe(ROWS);

    // every row visited exactly once across the runs, and filled
    const visits = await admin.query<{ twice: string; distinct: string }>(`select count(*) filter (where n > 1) as twice, count(*) as distinct from (select count(*) as n from backfill_visits group by id) v`);
    expect(Number(visits.rows[0]!.twice)).toBe(0);
    expect(Number(visits.rows[0]!.distinct)).toBe(ROWS);
    const [finished] = await backfillProgress(admin, '01_name_upper');
    expect(finished!.keysetRows + finished!.sweepRows).toBe(ROWS);
    expect(await count(admin, `select count(*) from "${result.versionSchema}".accounts where name_upper is distinct from upper(name)`)).toBe(0);

    const contracted = await contractReleaseMigrations({ databaseUrl: url.toString(), migrationsDir, schema: 'public' });
    expect(contracted.applied).toEqual(['01_name_upper']);
    expect(contracted.reconnects).toBeUndefined();
  }, 90_000);

  it('a failure that is not about the connection fails the step at once, without a retry', async () => {
    const { url } = await createTestDatabase();
    const setup = new pg.Client({ connectionString: url });
    await setup.connect();
    await setup.query(`create table accounts (id serial primary key, name text not null); insert into accounts (name) select 'n' || g from generate_series(1, 100) g`);
    await setup.end();

    const retries: number[] = [];
    const failure = await expandReleaseMigrations({
      databaseUrl: url,
      migrationsDir: await migrationsFolder('no_such_function(name)'),
      schema: 'public',
      reconnect: { onRetry: (attempt) => retries.push(attempt) },
    }).then(() => undefined, (error: unknown) => error);
    expect(failure).toBeInstanceOf(Error);
    expect(String(failure)).toMatch(/no_such_function/);
    expect(isConnectionError(failure)).toBe(false);
    expect(retries).toEqual([]);
  }, 30_000);
});
