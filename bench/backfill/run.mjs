// Backfill benchmark: Promote's backfill against the unsafe baseline (one big UPDATE), on the same
// data, each while writers update random rows of the table being backfilled.
//
//   npm run build && node bench/backfill/run.mjs [--rows 1000000]
//
// Options (all optional):
//   --rows N        rows in each table (default 1 000 000)
//   --writers N     concurrent writer connections, each in a closed loop (default 4)
//   --idle S        seconds of writes with no migration running, for reference latencies (default 3)
//   --skip-baseline run only the backfill (the baseline holds locks on the whole table until it commits)
//   --keep          keep the scratch folder
//   --out FILE      where the JSON goes (default bench/results/backfill-<date>.json)
//
// One scratch folder and one embedded PostgreSQL (durable: fsync on, as in production). Two tables with
// the same N rows (id bigint primary key, name, email, created_at, a 40-byte payload), vacuumed and
// analysed as an old table would be, each with a new column `_promote_new_email`. Table `a` gets the
// flag column and the BEFORE INSERT OR UPDATE trigger a started migration leaves (new column =
// lower(email) || '-' || md5(name)); then:
//   (a) runBackfill from dist/migrations/backfill (default options: batches of ~100 ms, lock_timeout
//       500 ms) while the writers update random rows of `a` (through the trigger);
//   (b) the unsafe baseline: `update b set _promote_new_email = lower(email) || '-' || md5(name)` in one
//       statement while the writers update random rows of `b`.
// Every write's latency is recorded (µs); "over 500 ms" counts writes slower than the lock budget. A
// slow write may have waited on a row lock or on I/O (a checkpoint, its own commit's fsync): a sampler
// reads pg_stat_activity every 20 ms and keeps the longest lock wait it saw among the writers. CPU: utime+stime of the PostgreSQL process tree and of this process, in cores.
import { mkdtempSync, chmodSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { descendants, machineTicks, processTicks, TICKS } from '../lib/cpu.mjs';
import { writeResults } from '../lib/results.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const { ensureEmbeddedPostgres } = await import(join(root, 'dist', 'store', 'embedded', 'server.js'));
const { runBackfill } = await import(join(root, 'dist', 'migrations', 'backfill', 'backfill.js'));

const { values: args } = parseArgs({
  options: {
    rows: { type: 'string', default: '1000000' },
    writers: { type: 'string', default: '4' },
    idle: { type: 'string', default: '3' },
    'skip-baseline': { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
    out: { type: 'string' },
  },
});
const ROWS = Number(args.rows);
const WRITERS = Number(args.writers);
const LOCK_BUDGET_MS = 500;
const UP = `lower(email) || '-' || md5(name)`;
const startedAt = new Date();

const scratch = mkdtempSync(join(tmpdir(), 'promote-backfill-bench-'));
// run as root, Promote runs the embedded PostgreSQL as "postgres", who must be able to traverse the folder
chmodSync(scratch, 0o755);
const home = join(scratch, 'pg');
const server = await ensureEmbeddedPostgres({ home });
const postmasterPid = Number(readFileSync(join(home, 'data', 'postmaster.pid'), 'utf8').split('\n')[0]);
const pool = new pg.Pool({ connectionString: server.url, max: 4 });
pool.on('error', () => undefined);
// the writers' own pool, named, so the lock-wait sampler can tell their waits from the backfill's
const writerPool = new pg.Pool({ connectionString: server.url, max: WRITERS, application_name: 'bench-writer' });
writerPool.on('error', () => undefined);
const seconds = (ms) => (ms / 1000).toFixed(1);

async function createTable(name) {
  await pool.query(`drop table if exists ${name}`);
  await pool.query(`create table ${name} (id bigint primary key, name text not null, email text not null, created_at timestamptz not null default now(), payload text not null)`);
  // in chunks, so the WAL of one statement stays small
  for (let from = 1; from <= ROWS; from += 1_000_000) {
    const to = Math.min(ROWS, from + 999_999);
    await pool.query(`insert into ${name} (id, name, email, payload) select g, 'name ' || g, 'User' || g || '@Example.COM', repeat('x', 40) from generate_series($1::int8, $2::int8) g`, [from, to]);
  }
  await pool.query(`alter table ${name} add column _promote_new_email text`);
}

const setupStarted = performance.now();
await createTable('a');
await pool.query(`alter table a add column _promote_needs_backfill boolean not null default true`);
if (!args['skip-baseline']) await createTable('b');
await pool.query('vacuum analyze');
await pool.query(`
  create function a_fill() returns trigger language plpgsql as $$
  begin
    new._promote_new_email := lower(new.email) || '-' || md5(new.name);
    new._promote_needs_backfill := false;
    return new;
  end $$`);
await pool.query(`create trigger a_fill before insert or update on a for each row execute function a_fill()`);
const sizes = await pool.query(`select relname, pg_size_pretty(pg_total_relation_size(oid)) as size from pg_class where relname in ('a', 'b') order by relname`);
console.log(`setup: ${seconds(performance.now() - setupStarted)} s, ${ROWS} rows per table (${sizes.rows.map((r) => `${r.relname} ${r.size}`).join(', ')}), ${WRITERS} writers`);

/** Writers updating random rows of `table` until stopped; every latency in µs. */
function startWriters(table) {
  let stop = false;
  const latencies = [];
  let errors = 0;
  const one = async () => {
    const client = await writerPool.connect();
    try {
      while (!stop) {
        const id = 1 + Math.floor(Math.random() * ROWS);
        const began = performance.now();
        try {
          await client.query(`update ${table} set email = $2 where id = $1`, [id, `Writer${id}-${Math.floor(Math.random() * 1e6)}@Example.COM`]);
        } catch {
          errors += 1;
        }
        latencies.push(Math.round((performance.now() - began) * 1000));
      }
    } finally {
      client.release();
    }
  };
  const running = Array.from({ length: WRITERS }, one);
  const sampler = sampleLockWaits(() => stop);
  return async () => {
    stop = true;
    await Promise.all(running);
    return { ...summarise(latencies, errors), ...(await sampler) };
  };
}

/**
 * Every 20 ms, the writers waiting on a lock and for how long so far (their statements are single-row
 * updates, so the time since the statement began is the wait): tells lock waits from I/O stalls,
 * which a write's latency alone cannot.
 */
async function sampleLockWaits(stopped) {
  const client = new pg.Client({ connectionString: server.url });
  await client.connect();
  let longestLockWaitMs = 0;
  let samplesWithLockWaits = 0;
  let samples = 0;
  try {
    while (!stopped()) {
      const result = await client.query(
        `select coalesce(max(extract(epoch from clock_timestamp() - query_start)) * 1000, 0)::float8 as wait_ms, count(*)::int as waiting
           from pg_stat_activity where application_name = 'bench-writer' and wait_event_type = 'Lock' and state = 'active'`,
      );
      samples += 1;
      if (result.rows[0].waiting > 0) samplesWithLockWaits += 1;
      longestLockWaitMs = Math.max(longestLockWaitMs, result.rows[0].wait_ms);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  } finally {
    await client.end();
  }
  return { longestLockWaitMs: Math.round(longestLockWaitMs), lockWaitSamples: `${samplesWithLockWaits}/${samples}` };
}

function summarise(latencies, errors) {
  const sorted = Float64Array.from(latencies).sort();
  const at = (q) => (sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] / 1000);
  return {
    writes: sorted.length,
    errors,
    p50Ms: at(0.5),
    p99Ms: at(0.99),
    p999Ms: at(0.999),
    maxMs: sorted.length ? sorted[sorted.length - 1] / 1000 : 0,
    overBudget: latencies.filter((us) => us > LOCK_BUDGET_MS * 1000).length,
  };
}

function cpuMark() {
  const pgTicks = descendants(postmasterPid).reduce((sum, pid) => sum + (processTicks(pid) ?? 0), 0);
  return { pg: pgTicks, self: processTicks(process.pid) ?? 0, machine: machineTicks(), at: performance.now() };
}
function cpuSince(mark) {
  const now = cpuMark();
  const wall = (now.at - mark.at) / 1000;
  const cores = (ticks) => Number((ticks / TICKS / wall).toFixed(2));
  return { postgresCores: cores(now.pg - mark.pg), benchCores: cores(now.self - mark.self), machineBusy: Number(((now.machine.busy - mark.machine.busy) / (now.machine.total - mark.machine.total)).toFixed(2)) };
}

async function phase(name, table, work) {
  const stopWriters = startWriters(table);
  await new Promise((resolve) => setTimeout(resolve, 500));
  const mark = cpuMark();
  const began = performance.now();
  const result = await work();
  const elapsedMs = performance.now() - began;
  const cpu = cpuSince(mark);
  const writers = await stopWriters();
  console.log(`${name}: ${seconds(elapsedMs)} s`);
  return { elapsedMs: Math.round(elapsedMs), ...result, writers, cpu };
}

const results = {};
results.idle = await phase('idle (writers only)', 'a', async () => {
  await new Promise((resolve) => setTimeout(resolve, Number(args.idle) * 1000));
  return {};
});

let lastPrint = 0;
results.backfill = await phase('backfill', 'a', async () => {
  const report = await runBackfill(
    pool,
    { migration: 'bench', schema: 'public', table: 'a', primaryKey: ['id'] },
    {
      onProgress: (p) => {
        if (performance.now() - lastPrint < 2000) return;
        lastPrint = performance.now();
        console.log(`  ${p.phase} ${p.rowsDone}/${p.rowsTotal} rows, batch ${p.batchSize}, ${Math.round(p.rowsPerSecond)} rows/s, eta ${p.etaSeconds === undefined ? '?' : Math.round(p.etaSeconds)} s${p.throttledBy ? `, throttled: ${p.throttledBy}` : ''}`);
      },
    },
  );
  const left = await pool.query(`select count(*) filter (where _promote_needs_backfill) as flagged, count(*) filter (where _promote_new_email is null) as empty from a`);
  if (Number(left.rows[0].flagged) !== 0 || Number(left.rows[0].empty) !== 0) throw new Error(`the backfill left rows behind: ${JSON.stringify(left.rows[0])}`);
  return { rowsPerSecond: Math.round(report.rowsPerSecond), report };
});

if (!args['skip-baseline']) {
  results.baseline = await phase('baseline (one UPDATE)', 'b', async () => {
    const began = performance.now();
    const updated = await pool.query(`update b set _promote_new_email = ${UP}`);
    return { rows: updated.rowCount, rowsPerSecond: Math.round((updated.rowCount * 1000) / (performance.now() - began)) };
  });
}

const row = (name, r) =>
  `| ${name} | ${r.rowsPerSecond ?? '–'} | ${seconds(r.elapsedMs)} | ${r.writers.writes} | ${r.writers.p50Ms.toFixed(2)} | ${r.writers.p99Ms.toFixed(2)} | ${r.writers.maxMs.toFixed(1)} | ${r.writers.overBudget} | ${r.writers.longestLockWaitMs} | ${r.cpu.postgresCores} |`;
console.log(`\n${ROWS} rows, ${WRITERS} writers, lock budget ${LOCK_BUDGET_MS} ms\n`);
console.log('| run | rows/s | seconds | writes | writer p50 ms | writer p99 ms | writer max ms | writes over 500 ms | longest lock wait seen, ms | postgres cores |');
console.log('|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|');
console.log(row('writers alone', results.idle));
console.log(row('Promote backfill', results.backfill));
if (results.baseline) {
  console.log(row('one UPDATE (unsafe)', results.baseline));
  results.ratios = {
    rowsPerSecond: Number((results.backfill.rowsPerSecond / results.baseline.rowsPerSecond).toFixed(2)),
    writerMaxMs: Number((results.backfill.writers.maxMs / results.baseline.writers.maxMs).toFixed(4)),
    writerP99Ms: Number((results.backfill.writers.p99Ms / results.baseline.writers.p99Ms).toFixed(4)),
  };
  console.log(`\nbackfill / baseline: rows/s ×${results.ratios.rowsPerSecond}, writer p99 ×${results.ratios.writerP99Ms}, writer max ×${results.ratios.writerMaxMs}`);
}

const versions = await pool.query('select version()');
const path = writeResults({
  root,
  name: 'backfill',
  script: fileURLToPath(import.meta.url),
  startedAt,
  out: args.out,
  body: {
    startedAt: startedAt.toISOString(),
    machine: { cpus: availableParallelism(), model: cpus()[0]?.model, memoryGb: Math.round(totalmem() / 2 ** 30), node: process.version, postgres: versions.rows[0].version },
    rows: ROWS,
    writers: WRITERS,
    up: UP,
    lockBudgetMs: LOCK_BUDGET_MS,
    results,
  },
});
console.log(`\nwrote ${path}`);

await pool.end();
await writerPool.end();
await server.release();
if (!args.keep) rmSync(scratch, { recursive: true, force: true });
