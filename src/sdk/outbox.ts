/**
 * The transactional outbox behind two-database dual writes. The legacy write and its outbox row
 * commit together on the legacy side; a worker then applies the rows, in id order, to the next
 * database. Each apply commits together with a record of its key on the next side, and the row is
 * marked applied only after that commit, so a worker that dies anywhere in between re-runs without
 * applying anything twice. One worker per stream applies at a time (a session advisory lock).
 *
 * Ids are allocated after the legacy write, inside the same transaction: a second write to the same
 * legacy row waits on the first one's row lock, so it gets a larger id, and id order is write order
 * per key. (Writes to different keys may commit out of id order; the worker picks a late one up on
 * its next pass, which is harmless since they touch different keys.)
 */
import type pg from 'pg';
import { DEFAULT_OUTBOX_TABLE, installOutboxTables, outboxNames } from './outbox-steps.js';

export interface OutboxWorker {
  /** applies everything pending now (waiting for a worker that holds the lock), returns how many rows it applied */
  drain(): Promise<number>;
  /** polls in the background, applying as rows arrive; failures are reported, never thrown */
  start(): void;
  /** stops polling and waits for a pass under way */
  stop(): Promise<void>;
  /** rows of this stream not yet applied */
  pending(): Promise<number>;
}

export interface OutboxWorkerOptions {
  /** rows applied per next-side transaction, default 100 */
  batchSize?: number;
  /** the background loop's interval, default 1000 ms */
  pollMs?: number;
  /** told about each failed background pass (also counted as dual_write.apply_failure) */
  onError?: (error: Error) => void;
}

export { DEFAULT_OUTBOX_TABLE };

/**
 * Creates the outbox table on the legacy side and `<table>_applied` on the next side (both in one
 * database when the pools are the same). Idempotent; safe to run from every instance at start-up.
 */
export async function installOutbox(legacyPool: pg.Pool, nextPool: pg.Pool, table: string = DEFAULT_OUTBOX_TABLE): Promise<void> {
  const names = outboxNames(table, 'installOutbox');
  await installOutboxTables(legacyPool, names, 'legacy');
  await installOutboxTables(nextPool, names, 'next');
}
