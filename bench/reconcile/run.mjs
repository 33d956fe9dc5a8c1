// Reconcile benchmark: Promote's reconcile (chunked checksums + bisection) against a naive full outer
// join comparison, on the same two tables in the same run.
//
//   npm run build && node bench/reconcile/run.mjs [--rows 10000000]
//
// Options (all optional):
//   --rows N      rows in each table (default 1 000 000; the recorded figure uses 10 000 000)
//   --drift F     share of rows changed for the drift run (default 0.001, i.e. 0.1%)
//   --k LIST      difference counts for the localisation runs (default 1,10,100,1000)
//   --keep        keep the scratch folder
//   --out FILE    where the JSON goes (default bench/results/reconcile-<date>.json)
//
// One scratch embedded PostgreSQL (durable). Tables a and b (id bigint primary key, name, email,
// amount numeric(12,2), created_at timestamptz, a 40-byte payload) with the same N rows, vacuumed and
// analysed. Runs, each for reconcile and for the naive join
//   select count(*) from a full join b on a.id = b.id where a.id is null or b.id is null or row(a.*) is distinct from row(b.*)
// (one query that reads both tables whole and returns only a count; listing the keys costs more):
//   (1) equal tables; (2) with `drift` of b's rows changed; (3) for each k, k rows changed: the queries
//   reconcile used to localise them (the join always uses one query, over every row).
// rows/s counts the rows of one side per second of wall time.
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { writeResults } from '../lib/results.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const { ensureEmbeddedPostgres } = await import(join(root, 'dist', 'store', 'embedded', 'server.js'));
const { reconcile } = await import(join(root, 'dist', 'integrity', 'reconcile.js'));

const { values: args } = parseArgs({
  options: {
    rows: { type: 'string', default: '1000000' },
    drift: { type: 'string', default: '0.001' },
    k: { type: 'string', default: '1,10,100,1000' },
    keep: { type: 'boolean', default: false },
    out: { type: 'string' },
  },
});
const ROWS = Number(args.rows);
const DRIFT = Number(args.drift);
const KS = args.k.split(',').map(Number);
const startedAt = new Date();

const scratch = mkdtempSync(join(tmpdir(), 'promote-reconcile-bench-'));
chmodSync(scratch, 0o755);
const server = await ensureEmbeddedPostgres({ home: join(scratch, 'pg') });
const pool = new pg.Pool({ connectionString: server.url, max: 6 });
pool.on('error', () => undefined);
const seconds = (ms) => (ms / 1000).toFixed(1);

const setupStarted = performance.now();
for (const name of ['a', 'b']) {
  await pool.query(`drop table if exists ${name}`);
  await pool.query(`create table ${name} (id bigint primary key, name text not null, email text, amount numeric(12,2), created_at timestamptz not null, payload text)`);
  for (let from = 1; from <= ROWS; from += 1_000_000) {
    const to = Math.min(ROWS, from + 999_999);
    await pool.query(
      `insert into ${name} select g, 'name ' || g, case when g % 7 = 0 then null else 'user' || g || '@example.com' end, (g % 100000) / 100.0, timestamptz '2024-01-01' + g * interval '1 second', repeat('x', 40)
         from generate_series($1::int8, $2::int8) g`,
      [from, to],
    );
  }
}
await pool.query('vacuum analyze a');
await pool.query('vacuum analyze b');
console.log(`setup: ${seconds(performance.now() - setupStarted)} s, ${ROWS} rows per table`);

/** Changes `count` distinct random rows of b (every 1/share-th row, offset at random); returns how to undo it. */
async function drift(count) {
  const step = Math.max(1, Math.floor(ROWS / count));
  const offset = Math.floor(Math.random() * step);
  const where = (table) => `${table}.id % ${step} = ${offset} and ${table}.id <= ${step * count}`;
  const changed = await pool.query(`update b set name = name || '!' where ${where('b')}`);
  return { changed: changed.rowCount, undo: () => pool.query(`update b set name = a.name from a where a.id = b.id and ${where('b')}`) };
}

async function timeReconcile() {
  const began = performance.now();
  const report = await reconcile({ source: { pool, table: 'a' }, target: { pool, table: 'b' }, recheck: { delayMs: 0, rounds: 1 } });
  const elapsedMs = performance.now() - began;
  return { elapsedMs: Math.round(elapsedMs), rowsPerSecond: Math.round((ROWS * 1000) / elapsedMs), queries: report.source.queries + report.target.queries, differences: report.differences.length, chunks: report.chunks, differingRanges: report.differingRanges, rowsChecked: report.source.rowsChecked };
}

async function timeJoin() {
  const began = performance.now();
  const result = await pool.query(`select count(*)::int8 as n from a full join b on a.id = b.id where a.id is null or b.id is null or row(a.*) is distinct from row(b.*)`);
  const elapsedMs = performance.now() - began;
  return { elapsedMs: Math.round(elapsedMs), rowsPerSecond: Math.round((ROWS * 1000) / elapsedMs), queries: 1, differences: Number(result.rows[0].n) };
}

const results = { equal: {}, drift: {}, localise: [] };
results.equal.reconcile = await timeReconcile();
results.equal.join = await timeJoin();
console.log(`equal: reconcile ${seconds(results.equal.reconcile.elapsedMs)} s, join ${seconds(results.equal.join.elapsedMs)} s`);

const drifted = await drift(Math.round(ROWS * DRIFT));
results.drift.changed = drifted.changed;
results.drift.reconcile = await timeReconcile();
results.drift.join = await timeJoin();
await drifted.undo();
console.log(`drift ${drifted.changed} rows: reconcile ${seconds(results.drift.reconcile.elapsedMs)} s, join ${seconds(results.drift.join.elapsedMs)} s`);
for (const run of [results.drift.reconcile, results.drift.join]) {
  if (run.differences !== drifted.changed) throw new Error(`expected ${drifted.changed} differences, a run found ${run.differences}`);
}

for (const k of KS) {
  const changed = await drift(k);
  const run = await timeReconcile();
  await changed.undo();
  if (run.differences !== changed.changed) throw new Error(`k=${k}: expected ${changed.changed} differences, reconcile found ${run.differences}`);
  results.localise.push({ k: changed.changed, queries: run.queries, differingRanges: run.differingRanges, elapsedMs: run.elapsedMs });
  console.log(`k=${changed.changed}: ${run.queries} queries, ${seconds(run.elapsedMs)} s`);
}
const check = await timeReconcile();
if (check.differences !== 0) throw new Error(`the tables did not return to equal: ${check.differences} differences`);

console.log(`\n${ROWS} rows per table\n`);
console.log('| run | reconcile rows/s | naive join rows/s | reconcile / join | reconcile queries | reconcile s | join s |');
console.log('|---|--:|--:|--:|--:|--:|--:|');
for (const [name, run] of [['equal', results.equal], [`${(DRIFT * 100).toFixed(2)}% drift (${results.drift.changed} rows)`, results.drift]]) {
  run.ratio = Number((run.reconcile.rowsPerSecond / run.join.rowsPerSecond).toFixed(2));
  console.log(`| ${name} | ${run.reconcile.rowsPerSecond} | ${run.join.rowsPerSecond} | ×${run.ratio} | ${run.reconcile.queries} | ${seconds(run.reconcile.elapsedMs)} | ${seconds(run.join.elapsedMs)} |`);
}
console.log('\n| k differences | reconcile queries (both sides) | differing ranges | seconds | naive join queries |');
console.log('|--:|--:|--:|--:|--:|');
for (const run of results.localise) console.log(`| ${run.k} | ${run.queries} | ${run.differingRanges} | ${seconds(run.elapsedMs)} | 1 (reads all ${ROWS} rows of each side) |`);

const versions = await pool.query('select version()');
const path = writeResults({
  root,
  name: 'reconcile',
  script: fileURLToPath(import.meta.url),
  startedAt,
  out: args.out,
  body: {
    startedAt: startedAt.toISOString(),
    machine: { cpus: availableParallelism(), model: cpus()[0]?.model, memoryGb: Math.round(totalmem() / 2 ** 30), node: process.version, postgres: versions.rows[0].version },
    rows: ROWS,
    drift: DRIFT,
    results,
  },
});
console.log(`\nwrote ${path}`);
await pool.end();
await server.release();
if (!args.keep) rmSync(scratch, { recursive: true, force: true });
