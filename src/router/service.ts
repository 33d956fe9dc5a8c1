import type { AddressInfo } from 'node:net';
import type pg from 'pg';
import { describeCause } from '../errors.js';
import type { Logger } from '../log.js';
import type { EnvironmentSpec } from '../spec/index.js';
import { appendEvent } from '../store/index.js';
import { RouterAdmin } from './admin.js';
import { TrafficWatcher } from './control.js';
import { DEFAULT_ANSWER_TIMEOUT, Router } from './server.js';

export interface EnvironmentRouterOptions {
  app: string;
  environment: EnvironmentSpec;
  pool: pg.Pool;
  databaseUrl: string;
  listen: { host: string; port: number };
  /** omitted in a cluster worker: the primary serves the admin port */
  admin?: { host: string; port: number };
  log: Logger;
}

export interface EnvironmentRouter {
  router: Router;
  address: AddressInfo;
  adminAddress?: AddressInfo;
  close(): Promise<void>;
}

/**
 * One environment's router as a service: the proxy, its admin port, and the watcher that keeps it on
 * the environment's routing table; availability changes go to the audit trail.
 */
export async function startEnvironmentRouter(options: EnvironmentRouterOptions): Promise<EnvironmentRouter> {
  const { environment, log } = options;
  const timeouts = environment.router?.timeouts ?? { connect: 5_000, request: 60_000, idle: 65_000, answer: DEFAULT_ANSWER_TIMEOUT };
  const readiness = environment.target.type === 'process' ? environment.target.readiness : undefined;
  const scope = { app: options.app, environment: environment.name };
  const router = new Router({
    ...options.listen,
    timeouts,
    log,
    ...(readiness ? { health: { path: readiness.path, interval: Math.max(readiness.interval, 1_000), timeout: Math.min(readiness.timeout, 5_000) } } : {}),
    onAvailabilityChange: ({ version, available }) => {
      log.warn({ version, available }, available ? 'version available again' : 'version has no available instance: its traffic goes to the others');
      appendEvent(options.pool, { type: available ? 'router.version.available' : 'router.version.unavailable', actor: 'router', ...scope, data: { version } }).catch((error: unknown) =>
        log.error({ err: describeCause(error) }, 'could not record the availability change'),
      );
    },
  });
  const admin = options.admin ? new RouterAdmin(router, options.admin) : undefined;
  const watcher = new TrafficWatcher({ databaseUrl: options.databaseUrl, ...scope, onConfig: (config) => router.apply(config), log });
  const close = async () => {
    await watcher.stop();
    await router.close(timeouts.request);
    await admin?.close();
  };
  try {
    await watcher.start();
    const address = await router.listen();
    const adminAddress = await admin?.listen();
    return { router, address, ...(adminAddress ? { adminAddress } : {}), close };
  } catch (error) {
    await close().catch(() => undefined);
    throw error;
  }
}
