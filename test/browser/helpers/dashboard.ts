/**
 * A dashboard to test against, as a user runs it: `promote server` (API, controller, routers and the
 * built dashboard at /) as a child process on a scratch folder, with real app processes behind the
 * staging router and a real app database per environment. Staging runs v1 (deployed with a migration,
 * so the migrations page has history); production has nothing deployed yet (the dashboard must show an
 * empty environment too) unless asked for v1 there as well; the flag `new-checkout` exists in both. v2 and v3 are recorded, ready to roll
 * out with the `held` strategy, which stops at 10% and again at 50% until resumed.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { expect } from 'vitest';
import { freePort } from '../../../src/system/processes.js';
import { afterFile } from '../../helpers/cleanup.js';
import { runInProcess, type CliResult } from '../../helpers/cli.js';
import { createTestDatabase, createUsersDatabase } from '../../helpers/database.js';
import { createReleases, servePromote, stopServed, type Api, type ServedFolder } from '../../helpers/promote-server.js';
import { scratchFolder } from '../../helpers/scratch.js';

const canaryApp = fileURLToPath(new URL('../../fixtures/canary-app.mjs', import.meta.url));
export const VERSIONS = ['v1', 'v2', 'v3'] as const;

export interface Dashboard {
  folder: string;
  /** where the dashboard and its API answer, e.g. http://127.0.0.1:41234 */
  origin: string;
  /** the staging router */
  routerUrl: string;
  api: Api;
  served: ServedFolder;
  /** `promote <args>` in the folder, in this process */
  cli(...args: string[]): Promise<CliResult>;
  /** stops `promote server` (SIGTERM) and waits until it has exited */
  stopServer(): Promise<void>;
  /** starts `promote server` again on the same port and folder (after stopServer) */
  restartServer(): Promise<void>;
}

/**
 * `production`: v1 also runs in production (deployed before the server starts); `serverArgs`: added to
 * `promote server` (e.g. --auth tokens); `beforeServer`: runs in the folder just before the server starts
 * (e.g. creating the API tokens `--auth tokens` insists on)
 */
export async function startDashboard(name: string, options: { production?: boolean; serverArgs?: readonly string[]; beforeServer?: (cli: Dashboard['cli']) => Promise<void> } = {}): Promise<Dashboard> {
  const folder = await scratchFolder(`promote-browser-${name}-`);
  const marker = `browser-${name}-${process.pid}`;
  const [staging, production] = [await createUsersDatabase(20), await createUsersDatabase(20)];
  const env = { DATABASE_URL: (await createTestDatabase()).url, PROMOTE_ACTOR: 'browser-test' };
  const [apiPort, routerPort, adminPort, productionRouterPort, productionAdminPort] = [await freePort(), await freePort(), await freePort(), await freePort(), await freePort()];
  const environment = (environmentName: string, database: string, router: number, admin: number, strategy: string) => `  - name: ${environmentName}
    database: ${database}
    target: { type: process, command: "node ${canaryApp}", instances: 1, env: { PROMOTE_TEST_MARKER: ${marker} }, readiness: { path: /healthz, timeout: 10s, interval: 100ms }, drainTimeout: 1s }
    router: { listen: 127.0.0.1:${router}, admin: 127.0.0.1:${admin} }
    strategy: ${strategy}`;
  const spec = (strategy: string) => `version: 1
app: { name: shop }
environments:
${environment('staging', staging.url, routerPort, adminPort, strategy)}
${environment('production', production.url, productionRouterPort, productionAdminPort, strategy)}
strategies:
  held:
    type: canary
    steps:
      - setWeight: 10
      - pause: {}
      - setWeight: 50
      - pause: {}
      - promote: {}
  first:
    type: canary
    steps:
      - migrate: expand
      - promote: {}
      - migrate: contract
flags:
  - name: new-checkout
    description: the new checkout flow
`;
  await writeFile(join(folder, 'promote.yaml'), spec('held'));
  // the app's first release goes out alone, with its migration
  await writeFile(join(folder, 'first.yaml'), spec('first'));
  await mkdir(join(folder, 'migrations'));
  await writeFile(join(folder, 'migrations', '01_add_email.yaml'), `operations:\n  - add_column:\n      table: users\n      up: lower(replace(name, ' ', '')) || '@example.com'\n      column: { name: email, type: text }\n`);
  const cli = (...args: string[]) => runInProcess(args, { cwd: folder, env });
  // armed before anything starts: the first deploy already runs an app instance
  const started: { served?: ServedFolder } = {};
  afterFile('stopping promote server and the app instances', () => stopServed(started.served, folder, VERSIONS));
  await createReleases(folder, env, [...VERSIONS]);
  const synced = await cli('flags', 'sync');
  expect(synced.code, synced.stderr).toBe(0);
  for (const environmentName of options.production ? ['staging', 'production'] : ['staging']) {
    const first = await cli('--config', 'first.yaml', 'deploy', 'v1', '--env', environmentName, '--wait');
    expect(first.code, first.stderr).toBe(0);
  }
  await options.beforeServer?.(cli);
  const served = (started.served = await servePromote(folder, env, apiPort, marker, options.serverArgs));
  const origin = `http://127.0.0.1:${apiPort}`;
  await expectDashboardServed(origin);
  const dashboard: Dashboard = {
    folder,
    origin,
    routerUrl: `http://127.0.0.1:${routerPort}/`,
    api: served.api,
    served,
    cli,
    stopServer: async () => {
      const child = dashboard.served.child;
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
    restartServer: async () => {
      dashboard.served = started.served = await servePromote(folder, env, apiPort, marker, options.serverArgs);
    },
  };
  return dashboard;
}

/** Fails with what to do when `promote server` has no dashboard to serve (dist/web is built by `npm run build`). */
async function expectDashboardServed(origin: string): Promise<void> {
  const response = await request(`${origin}/`);
  const body = await response.body.text();
  if (response.statusCode !== 200 || !/<html/i.test(body)) {
    throw new Error(`promote server at ${origin} does not serve the dashboard at / (${response.statusCode}: ${body.slice(0, 200)}); run \`npm run build\` (it builds dist/web)`);
  }
}

/** Waits for the rollout to satisfy `done` through the API (every 100 ms, up to `timeoutMs`). */
export async function waitForRollout(api: Api, id: number, what: string, done: (rollout: Record<string, unknown>) => boolean, timeoutMs = 30_000): Promise<Record<string, unknown>> {
  const started = Date.now();
  for (;;) {
    const rollout = await api('GET', `/api/rollouts/${id}`);
    if (done(rollout)) return rollout;
    if (Date.now() - started > timeoutMs) throw new Error(`rollout #${id} did not reach ${what} within ${timeoutMs} ms: ${JSON.stringify(rollout)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Deploys `version` (to staging unless told) with the held strategy and waits until it holds at 10%. */
export async function holdAtTen(api: Api, version: string, deploy: { environment?: string; skipEnvironmentGate?: string } = {}): Promise<number> {
  const started = await api('POST', '/api/deploy', { environment: 'staging', version, ...deploy });
  if (typeof started.id !== 'number') throw new Error(`deploying ${version} was refused: ${JSON.stringify(started)}`);
  await waitForRollout(api, started.id, 'the pause at 10%', (rollout) => rollout.phase === 'Paused' && (rollout.weights as Record<string, number> | undefined)?.[version] === 10);
  return started.id;
}
