/**
 * `promote explain`: why a rollout went the way it did, from its audit events and the analysis
 * measurements behind them. Pure: it reads records and returns text, so what a person reads is
 * exactly what was recorded when the decisions were taken.
 */
import type { Measurement } from '../store/analysis.js';
import type { PromoteEvent } from '../store/events.js';

export interface ExplainInput {
  rollout: { id: number; app: string; environment: string; phase: string; phaseReason: string | null };
  events: readonly PromoteEvent[];
  measurements: readonly Measurement[];
  /** show every measurement rather than the last few of each analysis */
  all?: boolean;
}

const SHOWN_PER_TEMPLATE = 5;

export function explainRollout(input: ExplainInput): string[] {
  const { rollout } = input;
  const lines = [`rollout #${rollout.id} of ${rollout.app} to ${rollout.environment}: ${rollout.phase}${rollout.phaseReason ? `, ${rollout.phaseReason}` : ''}`, ''];
  const byAction = new Map<string, Measurement[]>();
  for (const measurement of input.measurements) byAction.set(measurement.actionId, [...(byAction.get(measurement.actionId) ?? []), measurement]);
  const explained = new Set<string>();

  for (const event of input.events) {
    const line = describeEvent(event);
    if (line === undefined) continue;
    lines.push(`${time(event.createdAt)}  ${line}`);
    const actionId = analysisActionOf(event);
    if (actionId !== undefined && !explained.has(actionId)) {
      explained.add(actionId);
      lines.push(...describeMeasurements(byAction.get(actionId) ?? [], input.all === true).map((each) => `          ${each}`));
    }
  }
  // analyses still running have measurements but no outcome event yet
  for (const [actionId, measurements] of byAction) {
    if (explained.has(actionId)) continue;
    lines.push(`${time(measurements[0]!.takenAt)}  analysis ${actionId} (still running)`);
    lines.push(...describeMeasurements(measurements, input.all === true).map((each) => `          ${each}`));
  }
  return lines;
}

function describeEvent(event: PromoteEvent): string | undefined {
  const data = event.data;
  const text = (key: string): string => {
    const value = data[key];
    return typeof value === 'string' || typeof value === 'number' ? String(value) : value === undefined || value === null ? '' : JSON.stringify(value);
  };
  switch (event.type) {
    case 'rollout.created':
      return `rollout created by ${event.actor}`;
    case 'rollout.phase':
      return `${text('from')} -> ${text('to')}: ${text('reason')}`;
    case 'rollout.failing':
    case 'rollout.aborting':
      return `${event.type === 'rollout.failing' ? 'rolling back' : 'aborting'} at step ${Number(data.step) + 1}: ${text('reason')}`;
    case 'rollout.promoted-fully':
      return `promoted fully by ${text('by')}, skipping ${(data.skipped as string[] | undefined)?.join(', ') ?? 'nothing'}`;
    case 'step.completed':
      return `step ${Number(data.step) + 1} (${text('label')}) done: ${text('summary')}`;
    case 'action.succeeded':
    case 'action.failed': {
      const outcome = (data.outcome ?? {}) as { verdict?: string; detail?: string };
      const id = String(data.action);
      if (id.endsWith('.startAnalysis')) return `analysis ${id}: ${outcome.verdict ?? (event.type === 'action.failed' ? 'could not run' : 'stopped')}${outcome.detail ? `, ${outcome.detail}` : ''}`;
      if (event.type === 'action.failed') return `action ${id} failed${outcome.detail ? `: ${outcome.detail}` : ''}`;
      return undefined;
    }
    case 'rollout.switched':
      return `all traffic on ${text('release')}${data.previous ? ` (was ${text('previous')})` : ''}`;
    default:
      return undefined;
  }
}

function analysisActionOf(event: PromoteEvent): string | undefined {
  if (event.type !== 'action.succeeded' && event.type !== 'action.failed') return undefined;
  const id = String(event.data.action);
  return id.endsWith('.startAnalysis') ? id : undefined;
}

function describeMeasurements(measurements: readonly Measurement[], all: boolean): string[] {
  const lines: string[] = [];
  const templates = [...new Set(measurements.map((each) => each.template))];
  for (const template of templates) {
    const own = measurements.filter((each) => each.template === template);
    const counts = countVerdicts(own);
    lines.push(`${template}${own[0]?.dryRun ? ' (dry run)' : ''}: ${own.length} measurement(s), ${counts}`);
    const shown = all ? own : own.slice(-SHOWN_PER_TEMPLATE);
    if (shown.length < own.length) lines.push(`  ... ${own.length - shown.length} earlier (--all shows them)`);
    for (const each of shown) {
      lines.push(`  #${each.seq} ${time(each.takenAt)} ${each.verdict}${each.critical ? ' (critical)' : ''}: ${each.reason}`);
      const inputs = [describeData('candidate', each.candidate), describeData('baseline', each.baseline)].filter(Boolean).join('; ');
      if (inputs) lines.push(`     ${inputs}`);
      const statistics = describeStatistics(each.statistics);
      if (statistics) lines.push(`     ${statistics}`);
    }
  }
  return lines;
}

function countVerdicts(measurements: readonly Measurement[]): string {
  const counts = new Map<string, number>();
  for (const each of measurements) counts.set(each.verdict, (counts.get(each.verdict) ?? 0) + 1);
  return [...counts].map(([verdict, count]) => `${count} ${verdict}`).join(', ');
}

function describeData(label: string, data: unknown): string {
  if (data === null || typeof data !== 'object') return '';
  const record = data as { version?: string; value?: number; events?: number; total?: number; support?: number; samples?: { n: number; p50?: number; p99?: number } };
  const parts: string[] = [];
  if (record.value !== undefined) parts.push(`value ${format(record.value)}`);
  if (record.events !== undefined && record.total !== undefined) parts.push(`${record.events}/${record.total}`);
  if (record.samples !== undefined) parts.push(record.samples.n === 0 ? 'no samples' : `${record.samples.n} samples, p50 ${format(record.samples.p50)}, p99 ${format(record.samples.p99)}`);
  if (record.support !== undefined && record.samples === undefined && record.total === undefined) parts.push(`from ${record.support}`);
  return `${label} ${record.version ?? '?'}: ${parts.join(', ') || 'no value'}`;
}

function describeStatistics(statistics: Record<string, unknown>): string {
  const shown = ['test', 'statistic', 'pValue', 'interval', 'estimate', 'effect'].filter((key) => statistics[key] !== undefined);
  return shown.map((key) => `${key} ${Array.isArray(statistics[key]) ? `[${(statistics[key] as unknown[]).map(format).join(', ')}]` : format(statistics[key])}`).join(', ');
}

function format(value: unknown): string {
  if (typeof value !== 'number') return String(value);
  if (Number.isInteger(value)) return String(value);
  return Math.abs(value) >= 100 ? value.toFixed(1) : Number(value.toPrecision(4)).toString();
}

function time(date: Date): string {
  return date.toISOString().slice(11, 19);
}
