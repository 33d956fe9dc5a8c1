import { UsageError } from '../errors.js';
import { query, rethrow, toDate, withTransaction, type Queryable } from '../store/queryable.js';
import type { FlagScope } from './source.js';
import { assertScope, scopeText } from './store-changes.js';

/** What an SDK says about itself in Unleash's `POST /api/client/register`. */
export interface ClientRegistration {
  appName: string;
  instanceId: string;
  sdkVersion?: string | null;
  strategies?: string[];
  /** when the SDK started */
  startedAt?: Date | null;
  /** how often it polls and reports, in milliseconds */
  intervalMs?: number | null;
}

/** One report of Unleash's `POST /api/client/metrics`: yes/no and variant counts of one time bucket. */
export interface ClientMetrics {
  appName: string;
  instanceId?: string;
  /** the bucket's start; counts are summed per minute */
  start: Date;
  stop?: Date;
  toggles: Record<string, { yes?: number; no?: number; variants?: Record<string, number> }>;
}

export interface RegisteredClient {
  appName: string;
  instanceId: string;
  sdkVersion: string | null;
  strategies: string[];
  startedAt: Date | null;
  intervalMs: number | null;
  firstSeen: Date;
  lastSeen: Date;
}

export interface FlagUsage {
  flag: string;
  yes: number;
  no: number;
  variants: Record<string, number>;
}

const MAX_TOGGLES = 10_000;
const MAX_TEXT = 255;

function text(field: string, value: unknown, required: boolean): string | null {
  if (value === undefined || value === null) {
    if (required) throw new UsageError(`${field} is required`);
    return null;
  }
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_TEXT || value.includes('\u0000')) throw new UsageError(`${field} must be text of 1 to ${MAX_TEXT} characters`);
  return value;
}

function time(field: string, value: unknown): Date | null {
  if (value === undefined || value === null) return null;
  const date = value instanceof Date ? value : typeof value === 'string' ? new Date(value) : new Date(Number.NaN);
  if (Number.isNaN(date.getTime())) throw new UsageError(`${field} must be a time (ISO 8601), got ${JSON.stringify(value)}`);
  return date;
}

function count(field: string, value: unknown): number {
  if (value === undefined) return 0;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw new UsageError(`${field} must be a whole number from 0, got ${JSON.stringify(value)}`);
  return value;
}

/** Records (or refreshes) one SDK instance that reads the scope's flags. */
export async function recordClientRegistration(db: Queryable, scope: FlagScope, registration: ClientRegistration): Promise<void> {
  const appName = text('appName', registration.appName, true)!;
  const instanceId = text('instanceId', registration.instanceId, true)!;
  const sdkVersion = text('sdkVersion', registration.sdkVersion, false);
  const strategies = registration.strategies ?? [];
  if (!Array.isArray(strategies) || strategies.some((each) => typeof each !== 'string')) throw new UsageError('strategies must be a list of strategy names');
  const started = time('started', registration.startedAt);
  const interval = registration.intervalMs === undefined || registration.intervalMs === null ? null : count('interval', registration.intervalMs);
  const doing = `recording SDK instance ${instanceId} of ${appName} for ${scopeText(scope)}`;
  try {
    await assertScope(db, scope);
    await query(
      db,
      doing,
      `insert into promote.flag_clients (app, environment, app_name, instance_id, sdk_version, strategies, started_at, interval_ms) values ($1, $2, $3, $4, $5, $6::jsonb, $7, $8)
       on conflict (app, environment, app_name, instance_id) do update set sdk_version = excluded.sdk_version, strategies = excluded.strategies, started_at = excluded.started_at, interval_ms = excluded.interval_ms, last_seen = now()`,
      [scope.app, scope.environment, appName, instanceId, sdkVersion, JSON.stringify(strategies), started, interval],
    );
  } catch (error) {
    rethrow(doing, error);
  }
}

/**
 * Adds one SDK report of evaluation counts to the per-minute totals of each flag (a minute reported
 * twice, or by several instances, sums). Flags the scope does not have are counted too: an SDK asking
 * for an unknown flag is worth knowing about. Returns the number of flags counted.
 */
export async function recordFlagUsage(db: Queryable, scope: FlagScope, metrics: ClientMetrics): Promise<number> {
  const appName = text('appName', metrics.appName, true)!;
  const instanceId = text('instanceId', metrics.instanceId, false);
  const start = time('bucket.start', metrics.start);
  if (!start) throw new UsageError('bucket.start is required');
  const toggles = metrics.toggles ?? {};
  if (typeof toggles !== 'object' || Array.isArray(toggles)) throw new UsageError('bucket.toggles must be an object of flag name -> { yes, no, variants }');
  const entries = Object.entries(toggles);
  if (entries.length > MAX_TOGGLES) throw new UsageError(`bucket.toggles has ${entries.length} flags, at most ${MAX_TOGGLES} per report`);
  const rows = entries.map(([flag, counts]) => {
    if (flag.length === 0 || flag.length > MAX_TEXT) throw new UsageError(`bucket.toggles has a flag name of ${flag.length} characters, expected 1 to ${MAX_TEXT}`);
    const variants: Record<string, number> = {};
    for (const [variant, value] of Object.entries(counts?.variants ?? {})) variants[variant] = count(`bucket.toggles.${flag}.variants.${variant}`, value);
    return { flag, yes: count(`bucket.toggles.${flag}.yes`, counts?.yes), no: count(`bucket.toggles.${flag}.no`, counts?.no), variants };
  });
  const doing = `recording flag usage from ${appName} for ${scopeText(scope)}`;
  try {
    return await withTransaction(db, async (tx) => {
      await assertScope(tx, scope);
      if (rows.length > 0) {
        await query(
          tx,
          doing,
          `insert into promote.flag_usage as u (app, environment, flag, app_name, bucket, yes, no, variants)
           select $1, $2, t.flag, $3, date_trunc('minute', $4::timestamptz), t.yes, t.no, t.variants
             from jsonb_to_recordset($5::jsonb) as t (flag text, yes bigint, no bigint, variants jsonb)
           on conflict (app, environment, flag, bucket, app_name) do update set
             yes = u.yes + excluded.yes,
             no = u.no + excluded.no,
             variants = (select coalesce(jsonb_object_agg(key, total), '{}'::jsonb)
                           from (select key, sum(value::bigint) as total
                                   from (select * from jsonb_each_text(u.variants) union all select * from jsonb_each_text(excluded.variants)) as both_sides
                                  group by key) as summed)`,
          [scope.app, scope.environment, appName, start, JSON.stringify(rows)],
        );
      }
      if (instanceId) await query(tx, doing, 'update promote.flag_clients set last_seen = now() where app = $1 and environment = $2 and app_name = $3 and instance_id = $4', [scope.app, scope.environment, appName, instanceId]);
      return rows.length;
    });
  } catch (error) {
    rethrow(doing, error);
  }
}

/** The SDK instances that registered for the scope, most recently seen first. */
export async function listClients(db: Queryable, scope: FlagScope): Promise<RegisteredClient[]> {
  const doing = `listing the SDK instances of ${scopeText(scope)}`;
  try {
    await assertScope(db, scope);
    const result = await query<{ app_name: string; instance_id: string; sdk_version: string | null; strategies: string[]; started_at: Date | null; interval_ms: number | null; first_seen: Date; last_seen: Date }>(
      db,
      doing,
      'select app_name, instance_id, sdk_version, strategies, started_at, interval_ms, first_seen, last_seen from promote.flag_clients where app = $1 and environment = $2 order by last_seen desc, app_name, instance_id',
      [scope.app, scope.environment],
    );
    return result.rows.map((row) => ({ appName: row.app_name, instanceId: row.instance_id, sdkVersion: row.sdk_version, strategies: row.strategies, startedAt: row.started_at ? toDate(row.started_at) : null, intervalMs: row.interval_ms, firstSeen: toDate(row.first_seen), lastSeen: toDate(row.last_seen) }));
  } catch (error) {
    rethrow(doing, error);
  }
}

/** Evaluation counts per flag since `since` (all SDK apps summed), by flag name. */
export async function flagUsage(db: Queryable, scope: FlagScope, options: { since: Date; flag?: string }): Promise<FlagUsage[]> {
  const doing = `reading the flag usage of ${scopeText(scope)}`;
  try {
    await assertScope(db, scope);
    const result = await query<{ flag: string; yes: string; no: string; variants: Record<string, string | number> | null }>(
      db,
      doing,
      `select u.flag, sum(u.yes) as yes, sum(u.no) as no,
              (select jsonb_object_agg(key, total) from (select v.key, sum(v.value::bigint) as total from promote.flag_usage w, jsonb_each_text(w.variants) v
                 where w.app = u.app and w.environment = u.environment and w.flag = u.flag and w.bucket >= $3 group by v.key) as s) as variants
         from promote.flag_usage u
        where u.app = $1 and u.environment = $2 and u.bucket >= $3 and ($4::text is null or u.flag = $4)
        group by u.app, u.environment, u.flag order by u.flag`,
      [scope.app, scope.environment, options.since, options.flag ?? null],
    );
    return result.rows.map((row) => ({ flag: row.flag, yes: Number(row.yes), no: Number(row.no), variants: Object.fromEntries(Object.entries(row.variants ?? {}).map(([key, value]) => [key, Number(value)])) }));
  } catch (error) {
    rethrow(doing, error);
  }
}
