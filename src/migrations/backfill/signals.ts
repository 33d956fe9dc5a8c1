/**
 * What the backfill looks at before each batch to decide whether the database (or the app) has room
 * for it. Each reading is cheap, one catalog query, because it runs before every batch.
 */
import type pg from 'pg';

export type ThrottleReason = 'lockWaits' | 'replicationLag' | 'appP99';

export interface SignalReading {
  /** backends waiting for a lock while holding one on this table: writers queued on its rows */
  lockWaits: number;
  /** the largest replay_lag of any standby, 0 on a server without replicas */
  replicationLagMs: number;
  /** the app's p99 from the router, when a source was given and it had a value */
  appP99Ms: number | undefined;
}

export interface SignalLimits {
  maxLockWaits: number;
  maxReplicationLagMs: number;
  maxAppP99Ms: number;
}

/**
 * A waiting backend counts when it holds or wants a lock on our table: a writer blocked on one of
 * its rows holds the table's RowExclusiveLock while it waits on the row's transaction, and DDL waits
 * on the table itself. Waits elsewhere in the database are not this backfill's business. Without
 * pg_read_all_stats other users' backends show no wait event, and the signal reads 0.
 */
const READ_SIGNALS = `
  select
    (select count(*) from pg_stat_activity a
      where a.wait_event_type = 'Lock' and a.pid <> pg_backend_pid()
        and exists (select 1 from pg_locks l where l.pid = a.pid and l.relation = $1::oid))::int as lock_waits,
    coalesce((select max(extract(epoch from r.replay_lag)) * 1000 from pg_stat_replication r), 0)::float8 as lag_ms`;

export async function readSignals(client: pg.ClientBase, tableOid: number, appP99Ms?: () => Promise<number | undefined>): Promise<SignalReading> {
  const [result, p99] = await Promise.all([
    client.query<{ lock_waits: number; lag_ms: number }>(READ_SIGNALS, [tableOid]),
    appP99Ms ? appP99Ms() : Promise.resolve(undefined),
  ]);
  const row = result.rows[0];
  return { lockWaits: row?.lock_waits ?? 0, replicationLagMs: row?.lag_ms ?? 0, appP99Ms: p99 };
}

/** The first signal over its limit, with a sentence for the progress line, or undefined when all are fine. */
export function overLimit(reading: SignalReading, limits: SignalLimits): { reason: ThrottleReason; detail: string } | undefined {
  if (reading.lockWaits > limits.maxLockWaits) {
    return { reason: 'lockWaits', detail: `${reading.lockWaits} backend(s) waiting on locks of the table (limit ${limits.maxLockWaits})` };
  }
  if (reading.replicationLagMs > limits.maxReplicationLagMs) {
    return { reason: 'replicationLag', detail: `replication lag ${Math.round(reading.replicationLagMs)} ms (limit ${limits.maxReplicationLagMs} ms)` };
  }
  if (reading.appP99Ms !== undefined && reading.appP99Ms > limits.maxAppP99Ms) {
    return { reason: 'appP99', detail: `app p99 ${Math.round(reading.appP99Ms)} ms (limit ${limits.maxAppP99Ms} ms)` };
  }
  return undefined;
}
