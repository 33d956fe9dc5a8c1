// Soak benchmark (issue 9): the demo orders service under the demo's load for N minutes through
// repeated promote / bad-release / rollback cycles; memory, descriptors and sockets of the router and
// the controller, and both databases' connections, with their slopes. What runs: bench/soak/soak.mjs.
//
//   npm run build && node bench/soak/run.mjs [--minutes 10]
//
// Options (all optional):
//   --minutes N   minutes of cycles after the warm-up (default 10)
//   --warmup S    seconds of load before the first cycle, left out of the slopes (default 30)
//   --sample S    seconds between samples (default 5)
//   --rate N      requests per second of the load (default 100), --users N (default 20)
//   --keep        keep the scratch folder (logs of the instances under .promote/run)
//   --out FILE    where the JSON goes (default bench/results/soak-<date>.json)
//
// One scratch folder and one embedded PostgreSQL with two databases: the state store and the
// orders service's. The machine's other load is recorded (machine busy share over the run).
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { machineTicks } from '../lib/cpu.mjs';
import { writeResults } from '../lib/results.mjs';
import { formatSoak } from './report.mjs';
import { runSoak } from './soak.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const { ensureEmbeddedPostgres } = await import(join(root, 'dist', 'store', 'embedded', 'server.js'));

const { values: args } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '30' },
    sample: { type: 'string', default: '5' },
    rate: { type: 'string', default: '100' },
    users: { type: 'string', default: '20' },
    keep: { type: 'boolean', default: false },
    out: { type: 'string' },
  },
});
const startedAt = new Date();
const scratch = mkdtempSync(join(tmpdir(), 'promote-soak-bench-'));
// run as root, Promote runs the embedded PostgreSQL as "postgres", who must be able to traverse the folder
chmodSync(scratch, 0o755);
const server = await ensureEmbeddedPostgres({ home: join(scratch, 'pg') });
const admin = new pg.Client({ connectionString: server.url });
await admin.connect();
const urlOf = (name) => Object.assign(new URL(server.url), { pathname: `/${name}` }).toString();
for (const name of ['soak_store', 'soak_orders']) await admin.query(`create database ${name}`);
const postgres = (await admin.query('select version()')).rows[0].version;
await admin.end();

const machineBefore = machineTicks();
let report;
try {
  report = await runSoak({
    folder: scratch,
    storeUrl: urlOf('soak_store'),
    appUrl: urlOf('soak_orders'),
    durationMs: Number(args.minutes) * 60_000,
    warmupMs: Number(args.warmup) * 1000,
    sampleEveryMs: Number(args.sample) * 1000,
    rate: Number(args.rate),
    users: Number(args.users),
    log: (line) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${line}`),
  });
} finally {
  await server.release();
}
const machineAfter = machineTicks();
const machineBusy = Number(((machineAfter.busy - machineBefore.busy) / (machineAfter.total - machineBefore.total)).toFixed(2));

console.log(`\n${formatSoak(report)}\nmachine busy over the run: ${Math.round(machineBusy * 100)}% of ${availableParallelism()} cores`);
const path = writeResults({
  root,
  name: 'soak',
  script: fileURLToPath(import.meta.url),
  startedAt,
  out: args.out,
  body: {
    machine: { cpus: availableParallelism(), model: cpus()[0]?.model, memoryGb: Math.round(totalmem() / 2 ** 30), node: process.version, postgres, busy: machineBusy },
    ...report,
  },
});
console.log(`\nwrote ${path}`);
if (!args.keep) rmSync(scratch, { recursive: true, force: true });
else console.log(`kept ${scratch}`);
