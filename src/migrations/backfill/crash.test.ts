/**
 * A backfill process killed with SIGKILL at seeded points: each next run must resume after the last
 * committed batch, so in the end every row fired its trigger exactly once. The child runs the built
 * code (dist/, which the test setup builds), as `promote` itself would.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { setTimeout as delay } from 'node:timers/promises';
import type pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { backfillPool, checkTable, createBackfillTable } from '../../../test/fixtures/backfill-table.js';
import { backfillProgress, runBackfill } from './backfill.js';
import { seededRandom as seeded } from '../../system/seeded-random.js';

const child = fileURLToPath(new URL('../../../test/fixtures/backfill-child.mjs', import.meta.url));
const built = fileURLToPath(new URL('../../../dist/migrations/backfill/backfill.js', import.meta.url));

let pool: pg.Pool;
let url: string;

beforeAll(async () => {
  pool = await backfillPool();
  url = (pool.options as { connectionString: string }).connectionString;
});

/** Runs the child until it prints `batch <killAt>`, waits `extraMs` (so the kill may land mid-batch), then SIGKILLs it. */
function runAndKill(target: object, batchSize: number, killAt: number, extraMs: number): Promise<{ killed: boolean; lastBatch: number }> {
  return new Promise((resolve, reject) => {
    const process = spawn('node', [child, url, JSON.stringify(target), String(batchSize)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let lastBatch = 0;
    let killing = false;
    let stderr = '';
    let buffered = '';
    process.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    process.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines) {
        const match = /^batch (\d+)/.exec(line);
        if (match) lastBatch = Number(match[1]);
        if (!killing && lastBatch >= killAt) {
          killing = true;
          void delay(extraMs).then(() => process.kill('SIGKILL'));
        }
      }
    });
    process.on('error', reject);
    process.on('exit', (code, signal) => {
      if (signal === 'SIGKILL') resolve({ killed: true, lastBatch });
      else if (code === 0) resolve({ killed: false, lastBatch });
      else reject(new Error(`backfill child exited with ${code}: ${stderr}`));
    });
  });
}

/**
 * The killed child's server session may still be reading what the child sent (a COMMIT already on
 * the wire commits): wait until it ended, which releases the backfill's advisory lock.
 */
async function childSessionGone(): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const held = await pool.query(
      `select 1 from pg_locks where locktype = 'advisory' and database = (select oid from pg_database where datname = current_database())`,
    );
    if (held.rowCount === 0) return;
    await delay(25);
  }
  throw new Error('the killed backfill session did not end within 5 s');
}

describe('a backfill killed with SIGKILL', () => {
  it.each([7, 42])('resumes after the last committed batch, no row skipped or visited twice (seed %i)', async (seed) => {
    expect(existsSync(built), `${built} is missing: run npm run build (the test setup does, unless PROMOTE_TEST_SKIP_BUILD=1)`).toBe(true);
    const rows = 30_000;
    const table = await createBackfillTable(pool, `crash_${seed}`, { rows, key: seed % 2 === 0 ? 'composite' : 'bigint' });
    const target = { migration: `m_crash_${seed}`, schema: table.schema, table: table.table, primaryKey: table.primaryKey };
    const random = seeded(seed);
    let kills = 0;
    let previousDone = 0;
    for (let round = 0; round < 3; round++) {
      const outcome = await runAndKill(target, 500, 2 + Math.floor(random() * 8), Math.floor(random() * 15));
      if (!outcome.killed) break;
      kills += 1;
      await childSessionGone();
      const [saved] = await backfillProgress(pool, target.migration);
      expect(saved!.rowsDone).toBeGreaterThanOrEqual(previousDone);
      previousDone = saved!.rowsDone;
      // what is committed matches the cursor exactly: no batch is half there
      const touched = await pool.query<{ count: string }>(`select count(*) from ${table.sql} where not _promote_needs_backfill`);
      expect(Number(touched.rows[0]!.count)).toBe(saved!.keysetRows);
    }
    expect(kills).toBe(3);
    const report = await runBackfill(pool, target, { lockTimeoutMs: 100, retryBaseMs: 10, retryCapMs: 100 });
    expect(report).toMatchObject({ done: true, resumedFrom: { rowsDone: previousDone } });
    expect(report.keysetRows).toBe(rows - previousDone);
    expect(await checkTable(pool, table)).toEqual({ rows, notOnce: 0, stillFlagged: 0, wrongValue: 0 });
  }, 60_000);
});
