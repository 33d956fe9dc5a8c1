/**
 * One transaction with the guarantees the gate and the dual writer give: a time budget for the whole thing (connect,
 * every attempt, backoff), serialization failures and deadlocks retried with jittered backoff, and
 * a rollback on every other failure so nothing persists.
 *
 * Errors thrown by the app's own work reach the caller unchanged, since they are the app's to handle;
 * failures of Promote's own statements are wrapped with what it was doing (keeping pg's error as the
 * cause, where the retry check finds its code).
 */
import type pg from 'pg';
import { PromoteError, wrapError } from '../errors.js';
import { checkOut } from '../system/pool-checkout.js';

export interface TransactionOptions {
  /** what the transaction is for, at the start of every error message */
  doing: string;
  /** the whole transaction including retries */
  timeoutMs: number;
  /** extra attempts on 40001 / 40P01 */
  retries: number;
  /** told about each retry (for a metric) */
  onRetry?: () => void;
  /** default: the server's (read committed unless configured otherwise) */
  isolation?: Isolation;
}

export const ISOLATIONS = ['read committed', 'repeatable read', 'serializable'] as const;
export type Isolation = (typeof ISOLATIONS)[number];

/** What a transaction's work decides: its value, and whether to commit (false: roll back, e.g. a duplicate). */
export interface TransactionOutcome<T> {
  value: T;
  commit: boolean;
}

const RETRYABLE = new Set(['40001', '40P01']);
export function isRetryable(error: unknown): boolean {
  for (let cause = error, depth = 0; cause !== undefined && cause !== null && depth < 5; depth += 1) {
    const code = (cause as { code?: unknown }).code;
    if (typeof code === 'string' && RETRYABLE.has(code)) return true;
    cause = (cause as { cause?: unknown }).cause;
  }
  return false;
}

export async function inTransaction<T>(pool: pg.Pool, options: TransactionOptions, work: (client: pg.PoolClient) => Promise<TransactionOutcome<T>>): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  for (let attempt = 0; ; attempt += 1) {
    try {
      return await attemptOnce(pool, options, deadline, work);
    } catch (caught) {
      const error = withDoing(options.doing, caught);
      const left = deadline - Date.now();
      if (!isRetryable(error) || attempt >= options.retries || left <= 0) throw error;
      options.onRetry?.();
      // jittered so that the two transactions that collided do not collide again at once
      const backoff = Math.min(left, 10 * 2 ** attempt * (0.5 + Math.random()));
      await new Promise((resolve) => setTimeout(resolve, backoff));
    }
  }
}

async function attemptOnce<T>(pool: pg.Pool, options: TransactionOptions, deadline: number, work: (client: pg.PoolClient) => Promise<TransactionOutcome<T>>): Promise<T> {
  const timeout = () => new PromoteError(`${options.doing}: timed out after ${options.timeoutMs} ms; the transaction was rolled back, nothing was written`);
  let timer: NodeJS.Timeout | undefined;
  let expired = false;
  let committing = false;
  let client: pg.PoolClient | undefined;
  const budget = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      // once COMMIT is on its way its outcome is the database's: cutting the connection then would
      // leave the caller not knowing whether the write happened
      if (committing) return;
      expired = true;
      // closing the connection makes the server roll back whatever the work had done
      client?.release(timeout());
      reject(timeout());
    }, Math.max(0, deadline - Date.now()));
  });
  budget.catch(() => undefined);

  const run = async (): Promise<T> => {
    const connected = await checkOut(pool).catch((error: unknown) => {
      throw wrapError(`${options.doing}: connecting to the database`, error);
    });
    if (expired) {
      connected.release();
      throw timeout();
    }
    client = connected;
    let broken: Error | undefined;
    try {
      // the isolation is one of ISOLATIONS (checked by the callers' option checks), never user text
      const begin = options.isolation === undefined ? 'begin' : `begin isolation level ${options.isolation}`;
      await ownStatement(options.doing, 'starting the transaction', () => connected.query(begin));
      const remaining = Math.max(1, deadline - Date.now());
      // the budget's timer cannot stop a statement on the server; statement_timeout does
      await ownStatement(options.doing, 'setting the statement timeout', () => connected.query(`select set_config('statement_timeout', $1, true)`, [String(remaining)]));
      const outcome = await work(connected);
      if (expired) throw timeout();
      if (outcome.commit) {
        committing = true;
        await ownStatement(options.doing, 'committing', () => connected.query('commit'));
      } else {
        await ownStatement(options.doing, 'rolling back', () => connected.query('rollback'));
      }
      return outcome.value;
    } catch (error) {
      if (!expired && !committing) {
        await connected.query('rollback').catch((rollbackError: unknown) => {
          broken = rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError));
        });
      }
      if (committing) broken = error instanceof Error ? error : new Error(String(error));
      // statement_timeout fired on the server before the budget's timer did: the same timeout
      if ((error as { code?: unknown } | null)?.code === '57014' && !expired) throw new PromoteError(timeout().message, { cause: error });
      throw error;
    } finally {
      if (!expired) connected.release(broken);
    }
  };

  const running = run();
  // after the budget fired, the abandoned attempt still settles (its connection is gone); nobody awaits it
  running.catch(() => undefined);
  try {
    return await Promise.race([running, budget]);
  } finally {
    clearTimeout(timer);
  }
}

/** Promote's own step errors (the outbox statements) also say which transaction they were part of. */
function withDoing(doing: string, error: unknown): unknown {
  if (!(error instanceof PromoteError) || error.message.startsWith(doing)) return error;
  return new PromoteError(`${doing}: ${error.message}`, { cause: error.cause ?? error, ...(error.hint === undefined ? {} : { hint: error.hint }) });
}

/** A statement of Promote's own: its failure is wrapped, keeping pg's code for the retry check. */
async function ownStatement<T>(doing: string, step: string, statement: () => Promise<T>): Promise<T> {
  try {
    return await statement();
  } catch (error) {
    throw wrapError(`${doing}: ${step}`, error);
  }
}
