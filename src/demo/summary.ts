/**
 * The demo's closing summary, computed from what was recorded (the rollouts' audit trail and
 * analysis measurements, the load generator's report and ledger), never from what the demo meant to do.
 */
import type { RegressionTiming } from '../report/timing.js';
import type { LedgerVerification, LoadReport } from './load.js';

// the delivery report computes MTTD and MTTR the same way: one definition for both
export { regressionTiming, type RegressionTiming } from '../report/timing.js';

export interface BackfillFigure {
  table: string;
  rows: number;
  durationMs: number;
}

export interface RolloutOutcome {
  id: number;
  environment: string;
  version: string;
  phase: string;
  reason: string;
  durationMs: number;
}

export interface DemoSummary {
  fast: boolean;
  durationMs: number;
  rollouts: RolloutOutcome[];
  load: LoadReport;
  ledger: LedgerVerification;
  backfill: BackfillFigure[];
  /** the reconciliation of dollars and cents at the release gate */
  reconcile: { command: string; equal: boolean; detail: string } | undefined;
  regression: RegressionTiming | undefined;
  urls: { api: string; production: string; staging: string };
  /** the scratch folder everything ran in */
  folder: string;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

export function formatSummary(summary: DemoSummary): string[] {
  const lines = ['', `Summary (${summary.fast ? 'fast' : 'full'} demo, ${seconds(summary.durationMs)})`, '', 'Rollouts:'];
  for (const rollout of summary.rollouts) lines.push(`  #${rollout.id} ${rollout.version} → ${rollout.environment}: ${rollout.phase} in ${seconds(rollout.durationMs)} (${rollout.reason})`);
  lines.push('', 'Production traffic by phase (through the router, from the clients\' side):');
  const header = ['phase', 'requests', 'failed', 'req/s', 'p50 ms', 'p99 ms', 'receipts'];
  const rows = [...summary.load.phases, { ...summary.load.total, name: 'all' }].map((phase) => [
    phase.name,
    String(phase.requests),
    String(phase.failed),
    phase.rate.toFixed(0),
    phase.latencyMs.p50.toFixed(1),
    phase.latencyMs.p99.toFixed(1),
    String(phase.receipts),
  ]);
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)));
  const format = (row: string[]) => `  ${row.map((cell, column) => (column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join('  ')}`;
  lines.push(format(header), ...rows.map(format));
  lines.push('  (receipts: reads answered with an itemized receipt, which flag itemized-receipts turns on in 2.0.0 and later)');
  const failures = Object.entries(summary.load.total.failures);
  if (failures.length > 0) lines.push(`  failures: ${failures.map(([what, count]) => `${what} × ${count}`).join(', ')}`);
  lines.push('');
  for (const table of summary.backfill) {
    lines.push(`Backfill: ${table.rows} rows of ${table.table} in ${seconds(table.durationMs)} (${Math.round(table.rows / Math.max(table.durationMs / 1000, 0.001))} rows/s), under live traffic`);
  }
  if (summary.reconcile !== undefined) lines.push(`Reconciliation: ${summary.reconcile.equal ? 'checksums equal' : 'DIFFERENCES'}: ${summary.reconcile.detail}`, `  ($ ${summary.reconcile.command})`);
  lines.push(`Ledger: ${summary.ledger.summary}`);
  if (summary.regression === undefined) lines.push('Regression: 3.0.0 was not caught by analysis');
  else {
    const { mttdMs, mttrMs, reason } = summary.regression;
    lines.push(`Regression 3.0.0: detected ${seconds(mttdMs)} after it took traffic (MTTD), traffic back on 2.0.0 ${seconds(mttrMs)} later (MTTR)`, `  evidence: ${reason}`);
  }
  lines.push('', `dashboard ${summary.urls.api}/, API ${summary.urls.api} (OpenAPI at /openapi.json), production router ${summary.urls.production}, staging router ${summary.urls.staging}`);
  return lines;
}
