/**
 * The records of flag safeguard runs: their measurements (the analysis runner's log, one run per flag
 * version) and the verdict a run ended with, so an ended run is never started again.
 */
import { listRunMeasurements, recordRunMeasurement, type MeasurementLog, type MeasurementPlace } from '../store/analysis.js';
import { query, type Queryable } from '../store/queryable.js';
import type { FlagScope } from './source.js';

export interface SafeguardRunKey extends FlagScope {
  flag: string;
  /** the flag's version the run judges: every change starts a run of its own */
  version: number;
}

export type SafeguardVerdict = 'Successful' | 'Failed' | 'Inconclusive';

function placeOf(key: SafeguardRunKey): MeasurementPlace {
  return {
    table: 'flag_safeguard_measurements',
    key: { app: key.app, environment: key.environment, flag: key.flag, flag_version: key.version },
    what: `the safeguards of flag ${key.flag} v${key.version} in ${key.app} ${key.environment}`,
  };
}

export function safeguardMeasurements(db: Queryable, key: SafeguardRunKey): MeasurementLog {
  const place = placeOf(key);
  return { label: `flag ${key.flag} v${key.version}`, list: () => listRunMeasurements(db, place), record: (input) => recordRunMeasurement(db, place, input) };
}

export async function recordSafeguardVerdict(db: Queryable, key: SafeguardRunKey, verdict: SafeguardVerdict, reason: string): Promise<void> {
  await query(
    db,
    `recording the verdict of ${placeOf(key).what}`,
    `insert into promote.flag_safeguard_runs (app, environment, flag, flag_version, verdict, reason) values ($1, $2, $3, $4, $5, $6) on conflict do nothing`,
    [key.app, key.environment, key.flag, key.version, verdict, reason],
  );
}

/** `flag@version` of every run in the scope that has a verdict. */
export async function endedSafeguardRuns(db: Queryable, scope: FlagScope): Promise<Set<string>> {
  const result = await query<{ flag: string; flag_version: number }>(db, `reading the ended flag safeguard runs of ${scope.app} ${scope.environment}`, 'select flag, flag_version from promote.flag_safeguard_runs where app = $1 and environment = $2', [scope.app, scope.environment]);
  return new Set(result.rows.map((row) => `${row.flag}@${row.flag_version}`));
}
