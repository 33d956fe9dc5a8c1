// The demo promotion's figures: requests served and failed per phase, p99 of each phase against the
// p99 before the rollout (the same load, in the same run, on the stable version), MTTD and MTTR of
// the 3.0.0 regression, backfill rows/s. Runs `promote demo` itself and reads its JSON summary.
//
//   node bench/demo/run.mjs [--fast] [--rate N] [--users N] [--orders N] [--out FILE]
//
// Needs `npm run build` first (npm run bench:demo does both).
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeResults } from '../lib/results.mjs';

const root = fileURLToPath(new URL('../../', import.meta.url));
const cli = join(root, 'dist', 'cli', 'main.js');
const argv = process.argv.slice(2);
const value = (flag) => (argv.includes(flag) ? argv[argv.indexOf(flag) + 1] : undefined);
const passThrough = ['--fast', '--rate', '--users', '--orders'].flatMap((flag) => (flag === '--fast' ? (argv.includes(flag) ? [flag] : []) : value(flag) === undefined ? [] : [flag, value(flag)]));

const startedAt = new Date();
const scratch = mkdtempSync(join(tmpdir(), 'promote-bench-demo-'));
const json = join(scratch, 'summary.json');
const child = spawn(process.execPath, [cli, 'demo', ...passThrough, '--json', json], { stdio: ['ignore', 'ignore', 'inherit'] });
const code = await new Promise((resolve) => child.once('close', resolve));
if (code !== 0) {
  console.error(`promote demo exited with code ${code}`);
  process.exit(1);
}
const summary = JSON.parse(readFileSync(json, 'utf8'));
rmSync(scratch, { recursive: true, force: true });

// the steady phase before any rollout (the warm-up before it is not the comparison)
const baseline = summary.load.phases.find((phase) => phase.name === '1.0.0 serving');
const phases = summary.load.phases.map((phase) => ({
  phase: phase.name,
  requests: phase.requests,
  failed: phase.failed,
  rate: Math.round(phase.rate),
  p50: phase.latencyMs.p50,
  p99: phase.latencyMs.p99,
  p99VsBefore: Math.round((phase.latencyMs.p99 / baseline.latencyMs.p99) * 100) / 100,
}));
const backfill = summary.backfill.map((table) => ({ table: table.table, rows: table.rows, seconds: table.durationMs / 1000, rowsPerSecond: Math.round(table.rows / Math.max(table.durationMs / 1000, 0.001)) }));
const promotion = summary.load.phases.filter((phase) => phase.name.startsWith('2.0.0 ') && phase.name !== '2.0.0 serving');
const body = {
  startedAt: startedAt.toISOString(),
  machine: { cores: cpus().length, cpu: cpus()[0]?.model, node: process.version },
  mode: argv.includes('--fast') ? 'fast' : 'full',
  durationSeconds: summary.durationMs / 1000,
  requests: summary.load.total.requests,
  failed: summary.load.total.failed,
  failures: summary.load.total.failures,
  promotion: { requests: promotion.reduce((sum, phase) => sum + phase.requests, 0), failed: promotion.reduce((sum, phase) => sum + phase.failed, 0) },
  phases,
  backfill,
  regression: summary.regression ?? null,
  ledger: summary.ledger.summary,
  reconcile: summary.reconcile?.detail ?? null,
  rollouts: summary.rollouts.map((rollout) => `${rollout.version} → ${rollout.environment}: ${rollout.phase} in ${(rollout.durationMs / 1000).toFixed(1)} s`),
};
const path = writeResults({ root, name: 'demo', script: fileURLToPath(import.meta.url), startedAt, out: value('--out'), body });

console.log(`promote demo (${body.mode}), ${body.durationSeconds.toFixed(0)} s, ${body.machine.cores} cores\n`);
console.table(phases);
console.table(backfill);
console.log(`2.0.0's promotion: ${body.promotion.requests} requests, ${body.promotion.failed} failed; all phases: ${body.requests} requests, ${body.failed} failed ${JSON.stringify(body.failures)}`);
if (summary.regression) console.log(`3.0.0: MTTD ${(summary.regression.mttdMs / 1000).toFixed(2)} s, MTTR ${(summary.regression.mttrMs / 1000).toFixed(2)} s (${summary.regression.reason})`);
console.log(`${body.ledger}\n${body.reconcile ?? ''}\nJSON: ${path}`);
