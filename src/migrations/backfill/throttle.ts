/**
 * Holding back while a signal is over its limit. The wait is capped: a signal that never recovers
 * (an app whose p99 is always high) slows the backfill to small batches but cannot stop it, since a
 * migration stuck in expand forever is worse than a slower one.
 */
import { sleep } from './retry.js';
import { overLimit, type SignalLimits, type SignalReading, type ThrottleReason } from './signals.js';

export interface ThrottleOutcome {
  /** the signal that made the backfill wait, the first one seen over its limit */
  reason?: ThrottleReason;
  detail?: string;
  waitedMs: number;
}

export async function waitForRoom(
  read: () => Promise<SignalReading>,
  limits: SignalLimits,
  options: { maxWaitMs: number; pollMs: number; signal?: AbortSignal; now?: () => number },
): Promise<ThrottleOutcome> {
  const now = options.now ?? (() => performance.now());
  const started = now();
  let first: { reason: ThrottleReason; detail: string } | undefined;
  for (;;) {
    const over = overLimit(await read(), limits);
    if (!over) break;
    first ??= over;
    const waited = now() - started;
    if (waited >= options.maxWaitMs || options.signal?.aborted) break;
    await sleep(Math.min(options.pollMs, options.maxWaitMs - waited), options.signal);
  }
  const waitedMs = now() - started;
  return first ? { reason: first.reason, detail: first.detail, waitedMs } : { waitedMs: 0 };
}
