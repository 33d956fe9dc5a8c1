/**
 * Dual writes for moving data from a legacy store to its replacement, driven by a migration flag's
 * stage (src/flags/migration-stages.ts):
 *
 * | stage      | writes                | reads                               |
 * | ---------- | --------------------- | ----------------------------------- |
 * | off        | legacy                | legacy                              |
 * | dual-write | legacy + next         | legacy                              |
 * | shadow     | legacy + next         | both, legacy returned, compared     |
 * | live       | legacy + next         | both, next returned, compared       |
 * | ramp-down  | legacy + next         | next                                |
 * | complete   | next                  | next                                |
 *
 * One database (no `next.pool`, or the same pool): both writes commit in one transaction. Two
 * databases: the legacy write and an outbox row commit together on the legacy side and a worker
 * applies the outbox to the next database (outbox.ts); until it has, reads of the next side lag.
 *
 * What reaches the caller: the app's own errors from its write and read functions (unchanged), and
 * PromoteErrors for a translation that threw, a timeout or a database failure of Promote's own
 * statements. A write that throws was not made, on either side.
 */
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { PromoteError } from '../errors.js';
import type { MigrationStage } from '../flags/migration-stages.js';
import type { FlagContext } from '../flags/model.js';
import { checkDualWriteOptions } from './dual-write-options.js';
import { inTransaction } from './transaction.js';
import { createExperimenter, type Experimenter } from './experiment.js';
import type { FlagsClient } from './flags.js';
import type { OutboxWorker, OutboxWorkerOptions } from './outbox.js';
import { firstPendingId, hasPending, insertOutboxRow, outboxHasKey, pruneApplied, recordApplied } from './outbox-steps.js';
import { createOutboxWorker } from './outbox-worker.js';
import type { Reporter } from './report.js';
import { checkOut } from '../system/pool-checkout.js';

export interface DualWriteOptions<Input, Next, Key, Output> {
  /** /^[a-z][a-z0-9_-]{0,40}$/: metrics (`dual_write.<name>.*`), the experiment and the outbox stream */
  name: string;
  /** a migration flag: its stage decides writes and reads */
  flag: string;
  flags: Pick<FlagsClient, 'migrationStage'>;
  legacy: { pool: pg.Pool; write(client: pg.PoolClient, input: Input): Promise<void>; read(client: pg.PoolClient, key: Key): Promise<Output | undefined> };
  /** `pool` absent or the legacy pool: one database, both writes in one transaction */
  next: { pool?: pg.Pool; write(client: pg.PoolClient, row: Next): Promise<void>; read(client: pg.PoolClient, key: Key): Promise<Output | undefined> };
  /**
   * Called before any write; throwing means a clear error and nothing written. With two databases
   * the row travels as JSON, so the worker's `next.write` gets it back as JSON.parse would (dates as strings).
   */
  translate(input: Input): Next;
  reporter?: Pick<Reporter, 'count' | 'observe'>;
  /** shadow and live reads compare through it (one is created, reporting to `reporter`, if absent) */
  experimenter?: Experimenter;
  compare?: (legacy: Output | undefined, next: Output | undefined) => boolean;
  /** default 'promote_outbox' (legacy side; `<table>_applied` on the next side) */
  outboxTable?: string;
  /** per write, including retries; default 2000 ms */
  timeoutMs?: number;
  /** extra attempts on serialization failures and deadlocks (40001 / 40P01); default 3 */
  retries?: number;
}

export interface DualWriteResult {
  stage: MigrationStage;
  /** whether the legacy side was written */
  legacy: boolean;
  next: 'written' | 'queued' | 'skipped';
  /** the idempotency key was seen before: nothing was written */
  duplicate: boolean;
}

export interface DualWriter<Input, Key, Output> {
  /**
   * Writes by stage. `idempotencyKey` makes a retried request a no-op (`duplicate: true`) in every stage
   * but `off`, which writes only the legacy side exactly as before the migration. The key is kept in
   * the outbox table, which must then exist in one-database mode too (installOutbox(pool, pool)).
   */
  write(context: FlagContext, input: Input, options?: { idempotencyKey?: string }): Promise<DualWriteResult>;
  read(context: FlagContext, key: Key): Promise<Output | undefined>;
  /** the outbox worker; two-database mode only */
  worker(options?: OutboxWorkerOptions): OutboxWorker;
  /**
   * Forgets writes applied more than `olderThanMs` ago (default 7 days): their outbox rows and, once
   * nothing before them is pending, their `<table>_applied` records. An idempotency key is remembered
   * that long. A started worker does this once an hour.
   */
  prune(options?: { olderThanMs?: number }): Promise<{ outbox: number; applied: number }>;
}

const DEFAULT_RETAIN_MS = 7 * 24 * 3600_000;

const WRITES_BOTH: ReadonlySet<MigrationStage> = new Set(['dual-write', 'shadow', 'live', 'ramp-down']);

export function createDualWriter<Input, Next, Key, Output>(options: DualWriteOptions<Input, Next, Key, Output>): DualWriter<Input, Key, Output> {
  const { names, table, timeoutMs, retries } = checkDualWriteOptions(options as unknown as Record<string, unknown>);
  const { name, flag, flags, legacy, next, reporter } = options;
  const legacyPool = legacy.pool;
  const nextPool = next.pool ?? legacy.pool;
  const oneDatabase = nextPool === legacyPool;
  const experimenter = options.experimenter ?? createExperimenter(reporter === undefined ? {} : { reporter });
  const compare = options.compare;

  const count = (metric: string) => {
    try {
      reporter?.count(`dual_write.${metric}`);
      reporter?.count(`dual_write.${name}.${metric}`);
    } catch {
      // reporting is best effort
    }
  };
  const tx = <T>(pool: pg.Pool, doing: string, work: (client: pg.PoolClient) => Promise<{ value: T; commit: boolean }>) =>
    inTransaction(pool, { doing: `dual writer "${name}": ${doing}`, timeoutMs, retries, onRetry: () => count('retry') }, work);

  const translate = (input: Input): Next => {
    try {
      return options.translate(input);
    } catch (error) {
      throw new PromoteError(`dual writer "${name}": translate threw, so nothing was written (neither legacy nor next): ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
  };
  const asJson = (row: Next): string => {
    let text: string | undefined;
    try {
      text = JSON.stringify(row);
    } catch (error) {
      throw new PromoteError(`dual writer "${name}": the translated row cannot be queued as JSON, so nothing was written: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
    if (text === undefined) throw new PromoteError(`dual writer "${name}": translate returned ${String(row)}, which cannot be queued as JSON; nothing was written`);
    return text;
  };

  const result = (stage: MigrationStage, legacyWritten: boolean, nextState: DualWriteResult['next'], duplicate = false): DualWriteResult =>
    duplicate ? { stage, legacy: false, next: 'skipped', duplicate: true } : { stage, legacy: legacyWritten, next: nextState, duplicate: false };

  /** One database: everything in one transaction; the key row (applied at once) first, so a duplicate does no work. */
  const writeOneDatabase = (stage: MigrationStage, input: Input, row: Next, key: string | undefined) =>
    tx(legacyPool, `writing ${stage === 'complete' ? 'the next side' : 'both sides in one transaction'}`, async (client) => {
      if (key !== undefined && !(await insertOutboxRow(client, names, { stream: name, key, payload: null, appliedNow: true }))) {
        return { value: result(stage, false, 'skipped', true), commit: false };
      }
      if (stage !== 'complete') await legacy.write(client, input);
      await next.write(client, row);
      return { value: result(stage, stage !== 'complete', 'written'), commit: true };
    });

  /**
   * Two databases: the legacy write (not in `complete`) then its outbox row, in one legacy transaction;
   * the outbox id comes after the legacy write so it follows that row's lock order (see outbox.ts).
   * In `complete` with the outbox empty, the row goes straight to the next side.
   */
  const writeTwoDatabases = async (stage: MigrationStage, input: Input, row: Next, key: string | undefined): Promise<DualWriteResult> => {
    const payload = asJson(row);
    const queued = await tx(legacyPool, stage === 'complete' ? 'queueing the write behind the pending outbox' : 'writing the legacy side and the outbox', async (client) => {
      if (key !== undefined && (await outboxHasKey(client, names, name, key))) return { value: result(stage, false, 'skipped', true), commit: false };
      if (stage === 'complete' && !(await hasPending(client, names, name))) return { value: undefined, commit: false };
      if (stage !== 'complete') await legacy.write(client, input);
      const inserted = await insertOutboxRow(client, names, { stream: name, key: key ?? randomUUID(), payload, appliedNow: false });
      if (!inserted) return { value: result(stage, false, 'skipped', true), commit: false };
      return { value: result(stage, stage !== 'complete', 'queued'), commit: true };
    });
    if (queued !== undefined) return queued;
    return tx(nextPool, 'writing the next side', async (client) => {
      if (key !== undefined && !(await recordApplied(client, names, name, key, null))) return { value: result(stage, false, 'skipped', true), commit: false };
      await next.write(client, row);
      return { value: result(stage, false, 'written'), commit: true };
    });
  };

  const writeForStage = async (stage: MigrationStage, input: Input, key: string | undefined): Promise<DualWriteResult> => {
    if (stage === 'off') {
      return tx(legacyPool, 'writing the legacy side', async (client) => {
        await legacy.write(client, input);
        return { value: result(stage, true, 'skipped'), commit: true };
      });
    }
    if (!WRITES_BOTH.has(stage) && stage !== 'complete') throw new PromoteError(`dual writer "${name}": flag "${flag}" answered an unknown stage ${JSON.stringify(stage)}`);
    const row = translate(input);
    return oneDatabase ? writeOneDatabase(stage, input, row, key) : writeTwoDatabases(stage, input, row, key);
  };

  const prune = async (olderThanMs: number) => {
    try {
      return await pruneApplied(nextPool, legacyPool, names, name, olderThanMs, await firstPendingId(legacyPool, names, name));
    } catch (error) {
      throw error instanceof PromoteError ? new PromoteError(`dual writer "${name}": ${error.message}`, { cause: error }) : error;
    }
  };

  const withClient = async <T>(pool: pg.Pool, side: string, work: (client: pg.PoolClient) => Promise<T>): Promise<T> => {
    const client = await checkOut(pool).catch((error: unknown) => {
      throw new PromoteError(`dual writer "${name}": connecting to the ${side} database to read: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    });
    try {
      return await work(client);
    } finally {
      client.release();
    }
  };

  return {
    async write(context, input, writeOptions) {
      const key = writeOptions?.idempotencyKey;
      if (key !== undefined && (typeof key !== 'string' || key === '')) {
        throw new PromoteError(`dual writer "${name}": idempotencyKey must be a non-empty string, got ${JSON.stringify(key)}`);
      }
      const started = performance.now();
      const stage = flags.migrationStage(flag, context);
      try {
        const written = await writeForStage(stage, input, key);
        count(written.duplicate ? 'duplicate' : 'success');
        return written;
      } catch (error) {
        count('failure');
        throw error;
      } finally {
        try {
          reporter?.observe('dual_write.write_ms', performance.now() - started);
        } catch {
          // reporting is best effort
        }
      }
    },

    async read(context, key) {
      const stage = flags.migrationStage(flag, context);
      const readLegacy = () => withClient(legacyPool, 'legacy', (client) => legacy.read(client, key));
      const readNext = () => withClient(nextPool, 'next', (client) => next.read(client, key));
      switch (stage) {
        case 'off':
        case 'dual-write':
          return readLegacy();
        case 'shadow':
          return experimenter.run({ name, key: String(key), use: readLegacy, try: readNext, ...(compare === undefined ? {} : { compare: (l, n) => compare(l, n) }) });
        case 'live':
          return experimenter.run({ name, key: String(key), use: readNext, try: readLegacy, ...(compare === undefined ? {} : { compare: (n, l) => compare(l, n) }) });
        case 'ramp-down':
        case 'complete':
          return readNext();
      }
    },

    worker(workerOptions = {}) {
      if (oneDatabase) {
        throw new PromoteError(`dual writer "${name}": worker() is for two databases; with one database (next.pool absent or the legacy pool) both writes commit together and there is no outbox to apply`);
      }
      return createOutboxWorker({ ...workerOptions, name, table, names, legacyPool, nextPool, apply: (client, payload) => next.write(client, payload as Next), prune: () => prune(DEFAULT_RETAIN_MS), reporter, timeoutMs, retries });
    },

    prune: ({ olderThanMs = DEFAULT_RETAIN_MS } = {}) => {
      if (typeof olderThanMs !== 'number' || !Number.isFinite(olderThanMs) || olderThanMs < 0) {
        return Promise.reject(new PromoteError(`dual writer "${name}": prune olderThanMs must be a number of milliseconds >= 0, got ${String(olderThanMs)}`));
      }
      return prune(olderThanMs);
    },
  };
}
