/**
 * Transactional gating: behind a flag, a new code path writes in one database transaction of its
 * own; when it fails in any way (an error, a statement or overall timeout, a failed commit) the
 * transaction is rolled back, so nothing of it persists, and the legacy path serves the request.
 * Serialization failures and deadlocks are retried first, as the database asks. Repeated failures
 * turn the flag off in this process at once and, with a kill switch, for everyone (gate-kill.ts).
 *
 * What reaches the caller: the new path's result, or the legacy path's result or error (the app's
 * own). The new path's errors never do: they go to `onFailure` and the `gate.failure` metric.
 */
import type pg from 'pg';
import { PromoteError, wrapError } from '../errors.js';
import type { FlagContext } from '../flags/model.js';
import type { FlagsClient } from './flags.js';
import { createKillSwitch } from './gate-kill.js';
import type { Reporter } from './report.js';
import { inTransaction, ISOLATIONS, type Isolation } from './transaction.js';

export interface GateOptions {
  flags: Pick<FlagsClient, 'isEnabled' | 'revision'>;
  /** the new path's transaction runs on a client of this pool */
  pool: pg.Pool;
  reporter?: Pick<Reporter, 'count' | 'observe'>;
  /** the whole new-path transaction including retried attempts; default 2000 ms */
  timeoutMs?: number;
  /** extra attempts on 40001 / 40P01, default 3, jittered backoff */
  retries?: number;
  /** default 'read committed' */
  isolation?: Isolation;
  /** default { failures: 5, withinMs: 60_000 } */
  disableAfter?: { failures: number; withinMs: number };
  /** the Promote server to turn the flag off for everyone, with a client token of the app's scope */
  killSwitch?: { url: string; token: string; instance?: string };
  /** told about every new-path failure and a kill switch the server did not take; its errors are ignored */
  onFailure?: (error: Error, flag: string) => void;
}

export interface GateStats {
  /** new-path transactions committed */
  success: number;
  /** new paths that failed and fell back to the legacy path */
  failure: number;
  /** attempts retried after a serialization failure or deadlock */
  retries: number;
  /** calls that went to the legacy path only (flag off or killed here) */
  legacy: number;
  /** times the gate killed a flag locally */
  disabled: number;
  /** flags killed here now */
  killed: string[];
}

export type Gate = (<T>(flag: string, context: FlagContext, newPath: (client: pg.PoolClient) => Promise<T>, legacyPath: () => Promise<T>) => Promise<T>) & {
  killed(flag: string): boolean;
  stats(): GateStats;
};

type Attempt<T> = { ok: true; value: T } | { ok: false; error: Error };

export function createGate(options: GateOptions): Gate {
  const { flags, pool, timeoutMs = 2000, retries = 3, isolation = 'read committed' } = options;
  const disableAfter = options.disableAfter ?? { failures: 5, withinMs: 60_000 };
  checkOptions(timeoutMs, retries, isolation, disableAfter);
  const reporter = {
    count: (name: string) => ignoreErrors(() => options.reporter?.count(name)),
    observe: (name: string, value: number) => ignoreErrors(() => options.reporter?.observe(name, value)),
  };
  const tell = (error: Error, flag: string) => ignoreErrors(() => options.onFailure?.(error, flag));
  const kill = createKillSwitch({ flags, disableAfter, ...(options.killSwitch ? { killSwitch: options.killSwitch } : {}), reporter, onError: tell });
  const counts = { success: 0, failure: 0, retries: 0, legacy: 0, disabled: 0 };

  const flagOn = (flag: string, context: FlagContext) => {
    if (kill.holds(flag, context)) return false;
    try {
      return flags.isEnabled(flag, context);
    } catch {
      return false;
    }
  };

  /** the new path in one transaction (timeouts, rollback and retries are transaction.ts's); never throws */
  const runNewPath = async <T>(flag: string, newPath: (client: pg.PoolClient) => Promise<T>): Promise<Attempt<T>> => {
    const started = performance.now();
    const onRetry = () => {
      counts.retries++;
      reporter.count('gate.retry');
    };
    try {
      const value = await inTransaction(pool, { doing: `gate ${flag}: the new path`, timeoutMs, retries, isolation, onRetry }, async (client) => ({ value: await newPath(client), commit: true }));
      reporter.observe('gate.new_path_ms', performance.now() - started);
      return { ok: true, value };
    } catch (error) {
      // Promote's own failures (timeouts, connecting, committing) say what they were; the app's are wrapped here
      return { ok: false, error: error instanceof PromoteError ? error : wrapError(`gate ${flag}: the new path failed and was rolled back`, error) };
    }
  };

  const gate = async <T>(flag: string, context: FlagContext, newPath: (client: pg.PoolClient) => Promise<T>, legacyPath: () => Promise<T>): Promise<T> => {
    if (!flagOn(flag, context)) {
      counts.legacy++;
      return legacyPath();
    }
    const result = await runNewPath(flag, newPath);
    if (result.ok) {
      counts.success++;
      reporter.count('gate.success');
      return result.value;
    }
    counts.failure++;
    reporter.count('gate.failure');
    reporter.count('gate.fallback');
    tell(result.error, flag);
    if (kill.failed(flag, result.error)) counts.disabled++;
    return legacyPath();
  };

  return Object.assign(gate, {
    killed: (flag: string) => kill.holds(flag),
    stats: (): GateStats => ({ ...counts, killed: kill.killedFlags() }),
  });
}

function ignoreErrors(work: () => void): void {
  try {
    work();
  } catch {
    // metrics and the app's failure handler are best effort: they must not change the request's outcome
  }
}

function checkOptions(timeoutMs: number, retries: number, isolation: string, disableAfter: { failures: number; withinMs: number }): void {
  const bad = (message: string) => {
    throw new PromoteError(`createGate: ${message}`);
  };
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) bad(`timeoutMs must be a positive number of milliseconds, got ${String(timeoutMs)}`);
  if (!Number.isSafeInteger(retries) || retries < 0) bad(`retries must be a whole number >= 0, got ${String(retries)}`);
  if (!(ISOLATIONS as readonly string[]).includes(isolation)) bad(`isolation must be one of ${ISOLATIONS.join(', ')}, got ${JSON.stringify(isolation)}`);
  if (!Number.isSafeInteger(disableAfter?.failures) || disableAfter.failures < 1) bad(`disableAfter.failures must be a whole number >= 1, got ${String(disableAfter?.failures)}`);
  if (!(disableAfter.withinMs > 0)) bad(`disableAfter.withinMs must be a positive number of milliseconds, got ${String(disableAfter.withinMs)}`);
}
