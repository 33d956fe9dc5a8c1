/**
 * Which batch failures are worth another try, and how long to wait first. A batch that met a lock
 * it could not get in time gave up on purpose (lock_timeout): the app's transaction holding it will
 * end, so waiting and trying again with fewer rows is the plan, not an error.
 */

/** lock_not_available (lock_timeout), query_canceled (statement_timeout), deadlock, serialization */
const RETRYABLE_CODES = new Set(['55P03', '57014', '40P01', '40001']);

export function isRetryableBatchError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && RETRYABLE_CODES.has(code);
}

/**
 * Exponential backoff with full jitter: a uniform wait in [0, min(cap, base * 2^attempt)), so
 * several backfills blocked by the same transaction do not all come back at the same instant.
 */
export function backoffDelayMs(attempt: number, baseMs: number, capMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.floor(random() * ceiling);
}

/** Waits `ms`, or less when the signal aborts: a stop request never sits behind a backoff. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (ms <= 0 || signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * Connection-class failures: the server went away (restart, crash, failover) or is not taking
 * connections yet, so the same work may succeed once it is back. SQLSTATE class 08 (connection
 * exception), 57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now.
 */
const CONNECTION_CODES = new Set(['57P01', '57P02', '57P03', 'ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT']);
/** node-postgres reports a socket closed under it with these messages and no code */
const CONNECTION_MESSAGES = ['Connection terminated unexpectedly', 'Client has encountered a connection error and is not queryable'];

/**
 * Whether the failure, or any error it wraps (`cause`, an AggregateError's errors), is a lost or
 * refused connection. Promote wraps database errors with what it was doing, so the cause chain is
 * where the driver's error sits.
 */
export function isConnectionError(error: unknown, depth = 0): boolean {
  if (!(error instanceof Error) || depth > 8) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && (code.startsWith('08') || CONNECTION_CODES.has(code))) return true;
  if (CONNECTION_MESSAGES.some((message) => error.message.includes(message))) return true;
  if (error instanceof AggregateError && error.errors.some((each) => isConnectionError(each, depth + 1))) return true;
  return isConnectionError(error.cause, depth + 1);
}

export interface ReconnectOptions {
  /** how long, from the first lost connection, to keep trying before giving up with the last error */
  budgetMs?: number;
  baseMs?: number;
  capMs?: number;
  random?: () => number;
  signal?: AbortSignal;
  /** told before each wait: the retry's number (1 first), the failure and how long the wait is */
  onRetry?: (attempt: number, error: unknown, delayMs: number) => void;
}

/** A PostgreSQL restart takes seconds; a failover up to a minute or so. Two minutes covers both. */
export const RECONNECT_BUDGET_MS = 120_000;

/**
 * Runs `work` again after a connection-class failure, with capped exponential backoff and jitter,
 * until it succeeds, fails otherwise (at once, no retry), or the budget since the first lost
 * connection is spent. `work` must be safe to repeat: each try resumes what the last one left.
 */
export async function retryOnConnectionLoss<T>(work: () => Promise<T>, options: ReconnectOptions = {}): Promise<{ value: T; retries: number }> {
  const budgetMs = options.budgetMs ?? RECONNECT_BUDGET_MS;
  let firstFailureAt: number | undefined;
  for (let retries = 0; ; retries += 1) {
    try {
      return { value: await work(), retries };
    } catch (error) {
      if (!isConnectionError(error) || options.signal?.aborted) throw error;
      firstFailureAt ??= Date.now();
      const left = firstFailureAt + budgetMs - Date.now();
      if (left <= 0) throw error;
      const delayMs = Math.min(left, backoffDelayMs(retries + 1, options.baseMs ?? 250, options.capMs ?? 10_000, options.random));
      options.onRetry?.(retries + 1, error, delayMs);
      await sleep(delayMs, options.signal);
    }
  }
}
