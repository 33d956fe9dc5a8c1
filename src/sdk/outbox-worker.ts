/**
 * The worker that applies a dual writer's outbox to the next database (see outbox.ts for the
 * guarantees). A pass holds the stream's advisory lock on a legacy-side connection for its whole
 * length: if the worker dies, the server drops the connection and with it the lock.
 */
import type pg from 'pg';
import { PromoteError, wrapError } from '../errors.js';
import { inTransaction } from './transaction.js';
import type { OutboxWorker, OutboxWorkerOptions } from './outbox.js';
import { applyRows, countPending, lastQueuedId, markApplied, pendingRows, workerLockName, type OutboxNames } from './outbox-steps.js';
import type { Reporter } from './report.js';

export interface OutboxWorkerConfig extends OutboxWorkerOptions {
  /** the dual writer's name: the outbox stream, and the metric and message prefix */
  name: string;
  table: string;
  names: OutboxNames;
  legacyPool: pg.Pool;
  nextPool: pg.Pool;
  apply: (client: pg.PoolClient, payload: unknown) => Promise<void>;
  /** forgets old applied writes; the background loop calls it once an hour */
  prune: () => Promise<unknown>;
  reporter?: Pick<Reporter, 'count' | 'observe'> | undefined;
  timeoutMs: number;
  retries: number;
}

const PRUNE_EVERY_MS = 3600_000;

export function createOutboxWorker(config: OutboxWorkerConfig): OutboxWorker {
  const batchSize = config.batchSize ?? 100;
  const pollMs = config.pollMs ?? 1000;
  if (!Number.isSafeInteger(batchSize) || batchSize < 1) throw new PromoteError(`dual writer "${config.name}": worker batchSize must be a whole number >= 1, got ${String(config.batchSize)}`);
  if (typeof pollMs !== 'number' || !Number.isFinite(pollMs) || pollMs <= 0) throw new PromoteError(`dual writer "${config.name}": worker pollMs must be a positive number of milliseconds, got ${String(config.pollMs)}`);
  const { name, names, reporter } = config;
  const count = (metric: string, n = 1) => {
    try {
      reporter?.count(`dual_write.${metric}`, n);
      reporter?.count(`dual_write.${name}.${metric}`, n);
    } catch {
      // reporting is best effort and never stops the worker
    }
  };
  const lockName = workerLockName(config.table, name);

  /** One pass: everything queued up to now, batch by batch. 'busy' when another worker holds the lock and `wait` is false. */
  const pass = async (wait: boolean): Promise<number | 'busy'> => {
    const lockClient = await config.legacyPool.connect().catch((error: unknown) => Promise.reject(wrapError(`dual writer "${name}": connecting to the legacy database for the outbox`, error)));
    // a terminated connection also emits 'error'; the failed query below is where it is handled
    const ignore = () => undefined;
    lockClient.on('error', ignore);
    // the connection goes back to the pool only when it surely holds no lock; otherwise it is closed,
    // which makes the server release the lock
    let clean = false;
    try {
      const locked = wait
        ? (await lockClient.query(`select pg_advisory_lock(hashtextextended($1, 0))`, [lockName]), true)
        : (await lockClient.query<{ locked: boolean }>(`select pg_try_advisory_lock(hashtextextended($1, 0)) as locked`, [lockName])).rows[0]?.locked === true;
      if (!locked) {
        clean = true;
        return 'busy';
      }
      try {
        return await applyPending(lockClient);
      } finally {
        // a failed unlock (the connection is gone) must not hide the pass's own error
        await lockClient.query(`select pg_advisory_unlock(hashtextextended($1, 0))`, [lockName]).then(
          () => (clean = true),
          () => undefined,
        );
      }
    } catch (error) {
      throw error instanceof PromoteError ? error : wrapError(`dual writer "${name}": applying the outbox`, error);
    } finally {
      lockClient.off('error', ignore);
      lockClient.release(clean ? undefined : new Error('the outbox lock connection failed'));
    }
  };

  const applyPending = async (lockClient: pg.PoolClient): Promise<number> => {
    const upTo = await lastQueuedId(lockClient, names, name);
    if (upTo === undefined) return 0;
    let total = 0;
    for (;;) {
      const rows = await pendingRows(lockClient, names, name, batchSize, upTo);
      if (rows.length === 0) return total;
      const span = `outbox rows ${rows[0]!.id}..${rows[rows.length - 1]!.id}`;
      const doing = `dual writer "${name}": applying ${span} to the next database`;
      const applied = await inTransaction(config.nextPool, { doing, timeoutMs: config.timeoutMs, retries: config.retries, onRetry: () => count('retry') }, async (client) => ({
        value: await applyRows(client, names, name, rows, (c, payload) => config.apply(c as pg.PoolClient, payload)),
        commit: true,
      })).catch((error: unknown) => {
        // the worker is Promote's: an error from next.write here is reported with the rows it stopped at
        throw error instanceof PromoteError ? error : wrapError(doing, error);
      });
      try {
        await markApplied(lockClient, names, rows.map((row) => row.id));
      } catch (error) {
        throw wrapError(`dual writer "${name}": ${span} are applied on the next side but could not be marked applied (the next pass recognises and skips them)`, error);
      }
      if (applied > 0) count('applied', applied);
      if (applied < rows.length) count('apply_skipped', rows.length - applied);
      total += applied;
    }
  };

  const failed = (error: unknown): Error => {
    count('apply_failure');
    return error instanceof Error ? error : new Error(String(error));
  };

  let running = false;
  let timer: NodeJS.Timeout | undefined;
  let current: Promise<void> | undefined;
  let prunedAt = 0;
  const tick = () => {
    timer = undefined;
    current = pass(false)
      .then(async () => {
        if (Date.now() - prunedAt < PRUNE_EVERY_MS) return;
        prunedAt = Date.now();
        await config.prune();
      })
      .catch((error: unknown) => {
        const reported = failed(error);
        try {
          config.onError?.(reported);
        } catch {
          // the app's listener must not stop the loop
        }
      })
      .finally(() => {
        current = undefined;
        if (running) timer = setTimeout(tick, pollMs);
      });
  };

  return {
    async drain() {
      try {
        const applied = await pass(true);
        return applied === 'busy' ? 0 : applied;
      } catch (error) {
        throw failed(error);
      }
    },
    start() {
      if (running) return;
      running = true;
      tick();
    },
    async stop() {
      running = false;
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      await current;
    },
    pending: () => countPending(config.legacyPool, names, name),
  };
}
