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
