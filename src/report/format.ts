/**
 * The delivery report as a person reads it in a terminal: one line per figure with the count behind it,
 * "no data" where there was nothing to compute from.
 */
import type { DeliveryReport, DurationSummary, Frequency, Rate } from './types.js';

export function formatReport(report: DeliveryReport): string[] {
  const lines = [
    `Delivery report${report.app === null ? '' : ` of ${report.app}`}: ${day(report.since)} to ${day(report.until)} (${report.days >= 1 ? `${report.days.toFixed(1)} days` : human(report.days * 86_400_000)})`,
    `production: ${report.production.join(', ') || 'no environments recorded'}`,
    '',
  ];
  const rows: Array<[string, string, string]> = [];
  const { deploymentFrequency: deploys, leadTime, changeFailureRate: cfr, rollbacks, recovery, migrations, integrity } = report;
  rows.push(['deployment frequency', perPeriod(deploys), `${deploys.count} production rollout(s) reached Healthy`]);
  rows.push(['lead time', durations(leadTime, true), `${leadTime.count} release(s), created -> Healthy in production`]);
  rows.push([
    'change failure rate',
    percent(cfr),
    `${cfr.numerator} of ${cfr.denominator} finished production rollout(s): ${cfr.rolledBack} rolled back, ${cfr.aborted} aborted, ${cfr.degraded} degraded, ${cfr.rolledBackLater} undone by promote rollback`,
  ]);
  rows.push(['rollbacks', perPeriod(rollbacks), `${rollbacks.count}: ${rollbacks.automatic} automatic, ${rollbacks.abort} abort(s), ${rollbacks.manual} promote rollback; ${rollbacks.unfinished} unfinished`]);
  rows.push(['rollback success rate', percent(rollbacks.successRate), `${rollbacks.successRate.numerator} of ${rollbacks.successRate.denominator} finished rollback(s) got traffic back on stable`]);
  rows.push(['MTTD', durations(recovery.mttd, false), `${recovery.mttd.count} automatic rollback(s) in production: first traffic -> decision`]);
  rows.push(['MTTR', durations(recovery.mttr, false), `${recovery.mttr.count}: decision -> traffic back on stable`]);
  rows.push([
    'migration success rate',
    percent(migrations),
    `${migrations.numerator} of ${migrations.denominator} expand/contract step(s); ${migrations.byPhase.expand.failed + migrations.byPhase.contract.failed} failed, ${migrations.rolledBack} rolled back`,
  ]);
  rows.push([
    'integrity differences',
    String(integrity.checksFailed + integrity.reconcileDifferences),
    `${integrity.checksFailed} failed check(s) in ${integrity.verifySteps} verify step(s) (${integrity.verifyFailed} failed); ${integrity.reconcileDifferences} difference(s) in ${integrity.reconcileBatches} reconcile repair batch(es)`,
  ]);
  const widths = [0, 1].map((column) => Math.max(...rows.map((row) => row[column]!.length)));
  for (const [name, value, basis] of rows) lines.push(`  ${name.padEnd(widths[0]!)}  ${value.padEnd(widths[1]!)}  ${basis}`);
  const environments = deploys.byEnvironment.filter((each) => each.count > 0);
  if (environments.length > 0) {
    lines.push('', 'Rollouts that reached Healthy, per environment:');
    for (const each of environments) lines.push(`  ${each.app}/${each.environment}${each.production ? ' (production)' : ''}: ${perPeriod(each)}`);
  }
  if (recovery.incidents.length > 0) {
    lines.push('', 'Failed changes caught in production:');
    for (const each of recovery.incidents) lines.push(`  #${each.rolloutId} ${each.version} → ${each.environment}: detected ${human(each.mttdMs)} after first traffic, recovered ${human(each.mttrMs)} later (${each.reason})`);
  }
  lines.push('', `note: ${integrity.note}`);
  return lines;
}

function perPeriod(figure: Frequency): string {
  if (figure.perDay === null || figure.perWeek === null) return 'no data';
  return `${round(figure.perDay)}/day, ${round(figure.perWeek)}/week`;
}

function percent(rate: Rate): string {
  return rate.value === null ? 'no data' : `${(rate.value * 100).toFixed(1)}%`;
}

function durations(summary: DurationSummary, withTail: boolean): string {
  if (summary.medianMs === null) return 'no data';
  const parts = [`median ${human(summary.medianMs)}`, withTail ? `p90 ${human(summary.p90Ms!)}` : `mean ${human(summary.meanMs!)}`];
  if (withTail) parts.push(`max ${human(summary.maxMs!)}`);
  return parts.join(', ');
}

/** Seconds under two minutes, minutes under two hours, then hours, then days: as a person says them. */
export function human(ms: number): string {
  const abs = Math.abs(ms);
  if (abs < 1000) return `${Math.round(ms)} ms`;
  if (abs < 120_000) return seconds(ms);
  if (abs < 7_200_000) return `${(ms / 60_000).toFixed(1)} min`;
  if (abs < 172_800_000) return `${(ms / 3_600_000).toFixed(1)} h`;
  return `${(ms / 86_400_000).toFixed(1)} d`;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

function round(value: number): string {
  return value >= 10 ? value.toFixed(0) : value.toFixed(2);
}

function day(iso: string): string {
  return iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}
