/**
 * The backfill of one table during a migration: every row that existed when the triggers were
 * created is visited once by a no-op UPDATE, so the triggers fill its new columns. It walks the
 * primary key in batches (keyset, never OFFSET over the table), saves its cursor with each batch, sizes
 * batches by time, gives way to the app when the database is busy, and ends with one sweep in page
 * order for any row the walk could not see.
 */
import { performance } from 'node:perf_hooks';
import type pg from 'pg';
import { PromoteError, wrapError } from '../../errors.js';
import { nextBatchSize, shrinkBatchSize, type BatchSizeLimits } from './adaptive.js';
import { currentMaxKey, inBatchTransaction, keysetStep, sweepStep, type BatchSettings } from './batch.js';
import { resolveOptions, type BackfillOptions, type BackfillProgressEvent, type ResolvedOptions, type ThrottleWaits } from './options.js';
import { ensureProgressTable, loadCursor, saveCursor, type BackfillCursor, type ProgressKey } from './progress.js';
import { backoffDelayMs, isRetryableBatchError, sleep } from './retry.js';
import { readSignals } from './signals.js';
import { describeTable, estimateRows, tablePages, type TableShape } from './table.js';
import { waitForRoom } from './throttle.js';

export type { BackfillOptions, BackfillProgressEvent, ThrottleWaits } from './options.js';
export type { BackfillCursor, BackfillPhase, BackfillProgressRow } from './progress.js';
export { backfillProgress, forgetBackfill } from './progress.js';

export interface BackfillTarget {
  migration: string;
  schema: string;
  /** the physical table */
  table: string;
  /** physical key columns in the order of their unique index; empty: the table's primary key */
  primaryKey: string[];
}

export interface BackfillReport {
  table: string;
  /** both passes finished: every row has its new columns */
  done: boolean;
  /** stopped by the abort signal between batches; the cursor is kept */
  aborted: boolean;
  /** rows this run touched (each fired the triggers once): keysetRows + sweepRows */
  rowsVisited: number;
  keysetRows: number;
  /** rows the final sweep found still flagged */
  sweepRows: number;
  batches: number;
  elapsedMs: number;
  rowsPerSecond: number;
  throttleWaits: ThrottleWaits;
  lockTimeoutRetries: number;
  /** the cursor this run started from, null on a first run */
  resumedFrom: BackfillCursor | null;
}

export async function runBackfill(pool: pg.Pool, target: BackfillTarget, options: BackfillOptions = {}): Promise<BackfillReport> {
  const display = `${target.schema}.${target.table}`;
  let client: pg.PoolClient;
  try {
    client = await pool.connect();
  } catch (error) {
    throw wrapError(`connecting to back-fill ${display}`, error);
  }
  let lost: Error | undefined;
  const onError = (error: Error) => {
    lost = error;
  };
  client.on('error', onError);
  let locked = false;
  const lockKey = JSON.stringify(['promote-backfill', target.migration, target.schema, target.table]);
  try {
    await ensureProgressTable(client);
    const shape = await describeTable(client, target.schema, target.table, target.primaryKey).catch((error: unknown) => {
      throw error instanceof PromoteError ? error : wrapError(`reading the shape of ${display}`, error);
    });
    locked = await client
      .query<{ locked: boolean }>(`select pg_try_advisory_lock(hashtextextended($1, 0)) as locked`, [lockKey])
      .then((result) => result.rows[0]?.locked === true, (error: unknown) => Promise.reject(wrapError(`locking the backfill of ${display}`, error)));
    if (!locked) {
      throw new PromoteError(`another backfill of ${display} for migration ${target.migration} is running`, {
        hint: 'wait for it to finish; two runs on one table would only take turns',
      });
    }
    return await new BackfillRun(client, shape, { migration: target.migration, schema: target.schema, table: target.table }, resolveOptions(options)).run();
  } catch (error) {
    if (error instanceof PromoteError && !lost) throw error;
    // after a lost connection pg only says the client is unusable; the server's reason is in `lost`
    throw wrapError(`back-filling ${display}`, lost ?? error, { hint: 'the cursor of the last committed batch is kept: running the backfill again resumes there' });
  } finally {
    if (locked && !lost) await client.query(`select pg_advisory_unlock(hashtextextended($1, 0))`, [lockKey]).catch(() => undefined);
    client.off('error', onError);
    client.release(lost ?? false);
  }
}

const SWEEP_SIZE_FACTOR = 20;

class BackfillRun {
  private readonly started = performance.now();
  private readonly keysetLimits: BatchSizeLimits;
  private readonly sweepLimits: BatchSizeLimits;
  private readonly settings: BatchSettings;
  private size: number;
  private cursor!: BackfillCursor;
  private resumedFrom: BackfillCursor | null = null;
  private keysetRows = 0;
  private sweepRows = 0;
  private coveredThisRun = 0;
  private pagesThisRun = 0;
  private batches = 0;
  private retries = 0;
  private consecutiveRetries = 0;
  private readonly throttleWaits: ThrottleWaits = {};
  private throttledBy: string | undefined;
  private rowsPerPage = 50;

  constructor(
    private readonly client: pg.PoolClient,
    private readonly shape: TableShape,
    private readonly key: ProgressKey,
    private readonly options: ResolvedOptions,
  ) {
    this.keysetLimits = { targetMs: options.targetBatchMs, min: options.minBatchSize, max: options.maxBatchSize };
    // A sweep batch reads many pages but locks only the few rows still flagged, so it may cover far
    // more rows than a keyset batch in the same time; its size is still bounded by duration.
    this.sweepLimits = { ...this.keysetLimits, max: options.maxBatchSize * SWEEP_SIZE_FACTOR };
    this.settings = { lockTimeoutMs: options.lockTimeoutMs, statementTimeoutMs: options.statementTimeoutMs };
    this.size = options.initialBatchSize;
  }

  private limits(): BatchSizeLimits {
    return this.cursor.phase === 'keyset' ? this.keysetLimits : this.sweepLimits;
  }

  async run(): Promise<BackfillReport> {
    const saved = await loadCursor(this.client, this.key);
    if (saved) {
      this.resumedFrom = stripRow(saved);
      this.cursor = stripRow(saved);
    } else {
      // The pass ends at today's largest key: rows inserted from now on go through the triggers, so
      // a table under heavy inserts cannot keep the pass running forever.
      const endKey = await currentMaxKey(this.client, this.shape);
      const rowsTotal = await estimateRows(this.client, this.shape);
      this.cursor = { phase: endKey ? 'keyset' : 'sweep', lastKey: null, endKey, sweepPage: 0, sweepPages: null, rowsDone: 0, rowsTotal, keysetRows: 0, sweepRows: 0, batches: 0 };
      await saveCursor(this.client, this.key, this.cursor);
    }
    if (this.cursor.phase === 'sweep') this.rowsPerPage = (await tablePages(this.client, this.shape)).rowsPerPage;
    while (this.cursor.phase !== 'done' && !this.options.signal?.aborted) {
      if (this.cursor.phase === 'sweep' && this.cursor.sweepPages === null) await this.planSweep();
      else await this.batch();
    }
    const elapsedMs = performance.now() - this.started;
    const rowsVisited = this.keysetRows + this.sweepRows;
    return {
      table: this.shape.display,
      done: this.cursor.phase === 'done',
      aborted: this.cursor.phase !== 'done',
      rowsVisited,
      keysetRows: this.keysetRows,
      sweepRows: this.sweepRows,
      batches: this.batches,
      elapsedMs,
      rowsPerSecond: elapsedMs > 0 ? (rowsVisited * 1000) / elapsedMs : 0,
      throttleWaits: this.throttleWaits,
      lockTimeoutRetries: this.retries,
      resumedFrom: this.resumedFrom,
    };
  }

  /** The sweep's end is the table's size once the keyset pass is over. */
  private async planSweep(): Promise<void> {
    const { pages, rowsPerPage } = await tablePages(this.client, this.shape);
    this.rowsPerPage = rowsPerPage;
    this.cursor = { ...this.cursor, sweepPage: 0, sweepPages: pages, phase: pages === 0 ? 'done' : 'sweep' };
    await saveCursor(this.client, this.key, this.cursor);
  }

  private async batch(): Promise<void> {
    await this.throttle();
    if (this.options.signal?.aborted) return;
    const began = performance.now();
    try {
      const phase = this.cursor.phase === 'keyset' ? 'keyset' : 'sweep';
      const { next, touched, covered, pages } = await inBatchTransaction(this.client, this.settings, async () => {
        const step = await this.step();
        await saveCursor(this.client, this.key, step.next);
        return step;
      });
      this.cursor = next;
      this.batches += 1;
      this.consecutiveRetries = 0;
      this.coveredThisRun += covered;
      this.pagesThisRun += pages;
      if (pages > 0) this.sweepRows += touched;
      else this.keysetRows += touched;
      this.report(phase);
      this.size = nextBatchSize(this.size, performance.now() - began, this.limits());
      await sleep(this.options.delayMs, this.options.signal);
    } catch (error) {
      if (!isRetryableBatchError(error)) throw error;
      this.retries += 1;
      this.consecutiveRetries += 1;
      if (this.consecutiveRetries > this.options.maxRetries) {
        throw wrapError(`back-filling ${this.shape.display}: ${this.consecutiveRetries} batches in a row could not get their locks or finish in time`, error, {
          hint: 'a long transaction holds rows of the table; end it, or raise lockTimeoutMs / maxRetries, and run the backfill again: it resumes after the last committed batch',
        });
      }
      this.size = shrinkBatchSize(this.size, this.limits());
      await sleep(backoffDelayMs(this.consecutiveRetries, this.options.retryBaseMs, this.options.retryCapMs), this.options.signal);
    }
  }

  private async step(): Promise<{ next: BackfillCursor; touched: number; covered: number; pages: number }> {
    const cursor = this.cursor;
    if (cursor.phase === 'keyset') {
      const step = await keysetStep(this.client, this.shape, cursor.lastKey, cursor.endKey!, this.size);
      const next: BackfillCursor = {
        ...cursor,
        phase: step.last ? 'sweep' : 'keyset',
        lastKey: step.end,
        rowsDone: cursor.rowsDone + step.covered,
        keysetRows: cursor.keysetRows + step.updated,
        batches: cursor.batches + 1,
      };
      return { next, touched: step.updated, covered: step.covered, pages: 0 };
    }
    const to = Math.min(cursor.sweepPages!, cursor.sweepPage + Math.max(1, Math.ceil(this.size / this.rowsPerPage)));
    const touched = await sweepStep(this.client, this.shape, cursor.sweepPage, to);
    const next: BackfillCursor = {
      ...cursor,
      phase: to >= cursor.sweepPages! ? 'done' : 'sweep',
      sweepPage: to,
      sweepRows: cursor.sweepRows + touched,
      batches: cursor.batches + 1,
    };
    return { next, touched, covered: 0, pages: to - cursor.sweepPage };
  }

  /** Before each batch: wait while a signal is over its limit (capped), and make the next batch smaller. */
  private async throttle(): Promise<void> {
    const options = this.options;
    const outcome = await waitForRoom(
      () => readSignals(this.client, this.shape.oid, options.appP99Ms),
      { maxLockWaits: options.maxLockWaits, maxReplicationLagMs: options.maxReplicationLagMs, maxAppP99Ms: options.maxAppP99Ms },
      { maxWaitMs: options.maxThrottleWaitMs, pollMs: options.throttlePollMs, signal: options.signal },
    );
    this.throttledBy = outcome.detail;
    if (!outcome.reason) return;
    const waits = (this.throttleWaits[outcome.reason] ??= { count: 0, ms: 0 });
    waits.count += 1;
    waits.ms += outcome.waitedMs;
    this.size = shrinkBatchSize(this.size, this.limits());
  }

  /** `phase` is the pass the batch belonged to: the last keyset batch already leaves the cursor in the sweep */
  private report(phase: 'keyset' | 'sweep'): void {
    const onProgress = this.options.onProgress;
    if (!onProgress) return;
    const seconds = (performance.now() - this.started) / 1000;
    const cursor = this.cursor;
    const rowsPerSecond = seconds > 0 ? this.coveredThisRun / seconds : 0;
    let etaSeconds: number | undefined;
    if (cursor.phase === 'keyset') {
      etaSeconds = rowsPerSecond > 0 ? Math.max(0, cursor.rowsTotal - cursor.rowsDone) / rowsPerSecond : undefined;
    } else if (cursor.phase === 'sweep' && cursor.sweepPages !== null) {
      const pagesPerSecond = seconds > 0 ? this.pagesThisRun / seconds : 0;
      etaSeconds = pagesPerSecond > 0 ? (cursor.sweepPages - cursor.sweepPage) / pagesPerSecond : undefined;
    } else if (cursor.phase === 'done') {
      etaSeconds = 0;
    }
    const event: BackfillProgressEvent = {
      table: this.shape.display,
      phase,
      rowsDone: cursor.rowsDone,
      rowsTotal: Math.max(cursor.rowsTotal, cursor.rowsDone),
      batchSize: this.size,
      batches: cursor.batches,
      rowsPerSecond,
      etaSeconds,
    };
    if (this.throttledBy) event.throttledBy = this.throttledBy;
    onProgress(event);
  }
}

function stripRow(row: BackfillCursor): BackfillCursor {
  const { phase, lastKey, endKey, sweepPage, sweepPages, rowsDone, rowsTotal, keysetRows, sweepRows, batches } = row;
  return { phase, lastKey, endKey, sweepPage, sweepPages, rowsDone, rowsTotal, keysetRows, sweepRows, batches };
}
