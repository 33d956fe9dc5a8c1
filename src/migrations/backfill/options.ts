/**
 * The backfill's knobs and their defaults. The defaults aim at "an app in production does not notice":
 * batches of about 100 ms hold row locks no longer than a slow query would, and a lock the app holds
 * makes the backfill give way after 500 ms rather than queue the app's next writers behind it.
 */
import type { ThrottleReason } from './signals.js';

export interface BackfillProgressEvent {
  table: string;
  phase: 'keyset' | 'sweep';
  rowsDone: number;
  /** an estimate (pg_class.reltuples, or a count when the table was never analysed) */
  rowsTotal: number;
  /** the size the batch just committed was given (the last keyset batch may cover fewer rows) */
  batchSize: number;
  batches: number;
  rowsPerSecond: number;
  etaSeconds: number | undefined;
  /** set when the backfill waited before this batch, with the signal that made it wait */
  throttledBy?: string;
}

export interface BackfillOptions {
  /** the duration a batch aims at, ms (default 100) */
  targetBatchMs?: number;
  /** batch size bounds and start, rows (defaults 100, 50 000, 1 000) */
  minBatchSize?: number;
  maxBatchSize?: number;
  initialBatchSize?: number;
  /** a pause after each batch, ms (default 0) */
  delayMs?: number;
  /** lock_timeout of each batch, ms (default 500): the longest an app writer waits behind a batch's lock request */
  lockTimeoutMs?: number;
  /**
   * statement_timeout of each batch statement, ms (default 80% of lockTimeoutMs). An app writer that
   * meets a row of a batch waits until the batch commits; a batch that overruns (an I/O stall, a slow
   * trigger) is cancelled and retried smaller, so that wait stays within the same budget.
   */
  statementTimeoutMs?: number;
  /** consecutive retryable failures (lock timeouts) before giving up (default 200) */
  maxRetries?: number;
  /** backoff after a lock timeout: base and cap, ms (defaults 50 and 5 000) */
  retryBaseMs?: number;
  retryCapMs?: number;
  /** throttle when more backends than this wait on locks of the table (default 1) */
  maxLockWaits?: number;
  /** throttle when a standby's replay lag is above this, ms (default 5 000) */
  maxReplicationLagMs?: number;
  /** the app's p99 latency, from the router; throttle above `maxAppP99Ms` (default 1 000) */
  appP99Ms?: () => Promise<number | undefined>;
  maxAppP99Ms?: number;
  /** the longest wait for the signals before one batch, ms (default 5 000), and how often they are read meanwhile (default 200) */
  maxThrottleWaitMs?: number;
  throttlePollMs?: number;
  onProgress?: (progress: BackfillProgressEvent) => void;
  /** stops between batches; the cursor is kept and the next run resumes there */
  signal?: AbortSignal;
}

export type ResolvedOptions = Required<Omit<BackfillOptions, 'appP99Ms' | 'onProgress' | 'signal'>> &
  Pick<BackfillOptions, 'appP99Ms' | 'onProgress' | 'signal'>;

export function resolveOptions(options: BackfillOptions): ResolvedOptions {
  const minBatchSize = Math.max(1, Math.floor(options.minBatchSize ?? 100));
  const maxBatchSize = Math.max(minBatchSize, Math.floor(options.maxBatchSize ?? 50_000));
  const lockTimeoutMs = options.lockTimeoutMs ?? 500;
  return {
    targetBatchMs: options.targetBatchMs ?? 100,
    minBatchSize,
    maxBatchSize,
    initialBatchSize: Math.min(maxBatchSize, Math.max(minBatchSize, Math.floor(options.initialBatchSize ?? 1000))),
    delayMs: options.delayMs ?? 0,
    lockTimeoutMs,
    statementTimeoutMs: options.statementTimeoutMs ?? Math.max(50, Math.round(lockTimeoutMs * 0.8)),
    maxRetries: options.maxRetries ?? 200,
    retryBaseMs: options.retryBaseMs ?? 50,
    retryCapMs: options.retryCapMs ?? 5000,
    maxLockWaits: options.maxLockWaits ?? 1,
    maxReplicationLagMs: options.maxReplicationLagMs ?? 5000,
    maxAppP99Ms: options.maxAppP99Ms ?? 1000,
    maxThrottleWaitMs: options.maxThrottleWaitMs ?? 5000,
    throttlePollMs: options.throttlePollMs ?? 200,
    appP99Ms: options.appP99Ms,
    onProgress: options.onProgress,
    signal: options.signal,
  };
}

export type ThrottleWaits = Partial<Record<ThrottleReason, { count: number; ms: number }>>;
