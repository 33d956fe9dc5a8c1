/**
 * Analysis measurements: the evidence behind every analysis verdict. A measurement is written once
 * per (rollout, action, template, seq); writing it again (a controller that restarted after measuring
 * but before it could go on) keeps the first, so the record never holds two versions of one moment.
 */
import type { MeasurementVerdict } from '../analysis/types.js';
import { query, toId, type Queryable } from './queryable.js';

export interface MeasurementInput {
  rolloutId: number;
  /** the startAnalysis action the measurement belongs to */
  actionId: string;
  template: string;
  seq: number;
  verdict: MeasurementVerdict;
  reason: string;
  dryRun: boolean;
  critical: boolean;
  candidate: unknown;
  baseline: unknown;
  statistics: Record<string, unknown>;
  /** defaults to now */
  takenAt?: Date;
}

export interface Measurement extends Omit<MeasurementInput, 'takenAt'> {
  id: number;
  takenAt: Date;
}

/** A measurement without where it belongs: what an analysis run reads and writes through its log. */
export type RunMeasurement = Omit<Measurement, 'rolloutId' | 'actionId'>;
export type RunMeasurementInput = Omit<MeasurementInput, 'rolloutId' | 'actionId'>;

/**
 * Where an analysis run keeps its measurements, so a run that restarts continues from them: a
 * rollout's analysis action here, a flag's safeguard run in src/flags/safeguard-store.ts.
 */
export interface MeasurementLog {
  /** names the run in logs */
  readonly label: string;
  list(): Promise<RunMeasurement[]>;
  /** the stored measurement: the earlier one when this template's seq was already written */
  record(input: RunMeasurementInput): Promise<RunMeasurement>;
}

/** The measurements of one startAnalysis action of a rollout. */
export function rolloutMeasurements(db: Queryable, rolloutId: number, actionId: string): MeasurementLog {
  return {
    label: actionId,
    list: () => listMeasurements(db, rolloutId, { actionId }),
    record: (input) => recordMeasurement(db, { ...input, rolloutId, actionId }),
  };
}

interface MeasurementRow {
  id: string;
  template: string;
  seq: number;
  taken_at: Date;
  verdict: MeasurementVerdict;
  reason: string;
  dry_run: boolean;
  critical: boolean;
  candidate: unknown;
  baseline: unknown;
  statistics: Record<string, unknown>;
}

/**
 * Where one run's measurements live: a table with the measurement columns and key columns naming the
 * run, unique with (template, seq). Table and column names are constants of this code, never input.
 */
export interface MeasurementPlace {
  table: 'analysis_measurements' | 'flag_safeguard_measurements';
  key: Readonly<Record<string, string | number>>;
  /** the run, for error messages */
  what: string;
}

/** Records a measurement; returns the stored one (the earlier one when this seq was already written). */
export async function recordMeasurement(db: Queryable, input: MeasurementInput): Promise<Measurement> {
  const { rolloutId, actionId, ...measurement } = input;
  const stored = await recordRunMeasurement(db, { table: 'analysis_measurements', key: { rollout_id: rolloutId, action_id: actionId }, what: `analysis ${input.template} (${actionId})` }, measurement);
  return { ...stored, rolloutId, actionId };
}

export async function recordRunMeasurement(db: Queryable, place: MeasurementPlace, input: RunMeasurementInput): Promise<RunMeasurement> {
  const doing = `recording measurement ${input.seq} of ${place.what}`;
  const keys = Object.keys(place.key);
  const keyValues = Object.values(place.key);
  const columns = [...keys, 'template', 'seq', 'taken_at', 'verdict', 'reason', 'dry_run', 'critical', 'candidate', 'baseline', 'statistics'];
  const values = columns.map((column, index) => (column === 'taken_at' ? `coalesce($${index + 1}, now())` : `$${index + 1}`));
  const inserted = await query<MeasurementRow>(
    db,
    doing,
    `insert into promote.${place.table} (${columns.join(', ')}) values (${values.join(', ')})
     on conflict (${[...keys, 'template', 'seq'].join(', ')}) do nothing
     returning *`,
    [
      ...keyValues,
      input.template,
      input.seq,
      input.takenAt ?? null,
      input.verdict,
      input.reason,
      input.dryRun,
      input.critical,
      JSON.stringify(input.candidate ?? null),
      JSON.stringify(input.baseline ?? null),
      JSON.stringify(input.statistics),
    ],
  );
  if (inserted.rows[0]) return fromRow(inserted.rows[0]);
  const existing = await query<MeasurementRow>(db, doing, `select * from promote.${place.table} where ${keyMatch(keys)} and template = $${keys.length + 1} and seq = $${keys.length + 2}`, [...keyValues, input.template, input.seq]);
  return fromRow(existing.rows[0]!);
}

/** Measurements of a rollout, oldest first; of one analysis action, and one template, when given. */
export async function listMeasurements(db: Queryable, rolloutId: number, filter: { actionId?: string; template?: string } = {}): Promise<Measurement[]> {
  const result = await query<MeasurementRow & { rollout_id: string; action_id: string }>(
    db,
    `reading the analysis measurements of rollout ${rolloutId}`,
    `select * from promote.analysis_measurements
     where rollout_id = $1 and ($2::text is null or action_id = $2) and ($3::text is null or template = $3)
     order by taken_at, id`,
    [rolloutId, filter.actionId ?? null, filter.template ?? null],
  );
  return result.rows.map((row) => ({ ...fromRow(row), rolloutId: toId(row.rollout_id), actionId: row.action_id }));
}

/** One run's measurements, oldest first. */
export async function listRunMeasurements(db: Queryable, place: MeasurementPlace): Promise<RunMeasurement[]> {
  const keys = Object.keys(place.key);
  const result = await query<MeasurementRow>(db, `reading the measurements of ${place.what}`, `select * from promote.${place.table} where ${keyMatch(keys)} order by taken_at, id`, Object.values(place.key));
  return result.rows.map(fromRow);
}

function keyMatch(keys: readonly string[]): string {
  return keys.map((key, index) => `${key} = $${index + 1}`).join(' and ');
}

function fromRow(row: MeasurementRow): RunMeasurement {
  return {
    id: toId(row.id),
    template: row.template,
    seq: row.seq,
    takenAt: row.taken_at,
    verdict: row.verdict,
    reason: row.reason,
    dryRun: row.dry_run,
    critical: row.critical,
    candidate: row.candidate,
    baseline: row.baseline,
    statistics: row.statistics,
  };
}
