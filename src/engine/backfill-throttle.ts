/**
 * The backfill of a rollout's expand watches the app it must not hurt: the stable version's p99
 * from the environment's router. The limit is relative to the p99 when the backfill began, since
 * what is slow depends on the app: twice that, and never less than 100 ms above it.
 */
import type pg from 'pg';
import { createBuiltinProvider } from '../analysis/providers/builtin.js';
import { runBackfill } from '../migrations/backfill/backfill.js';
import type { Backfiller } from '../migrations/runner.js';
import type { EnvironmentSpec } from '../spec/index.js';

const WINDOW_MS = 10_000;

export function routerAwareBackfill(environment: EnvironmentSpec, app: string, stable: string | null): Backfiller | undefined {
  if (environment.router === undefined || stable === null) return undefined;
  const p99 = routerP99(environment.router.admin, { app, environment: environment.name, version: stable });
  return async (pool: pg.Pool, table) => {
    const baseline = await p99();
    return runBackfill(pool, table, baseline === undefined ? {} : { appP99Ms: p99, maxAppP99Ms: p99Limit(baseline) });
  };
}

export function p99Limit(baselineMs: number): number {
  return Math.max(baselineMs * 2, baselineMs + 100);
}

/** Reads one version's p99 over the last 10 s from the router admin port; undefined without requests. */
export function routerP99(routerAdmin: string, of: { app: string; environment: string; version: string }): () => Promise<number | undefined> {
  const provider = createBuiltinProvider({ type: 'builtin', metric: 'latency_p99', window: WINDOW_MS }, routerAdmin);
  return async () => {
    try {
      return (await provider.measure({ ...of, signal: AbortSignal.timeout(5_000) })).value;
    } catch {
      // a router that cannot be read says nothing about the app: the backfill's other signals still throttle
      return undefined;
    }
  };
}
