/**
 * What the demo runs on, started from nothing and stopped without leftovers: an embedded PostgreSQL
 * of its own (the state store plus the orders databases of staging and production), the demo's
 * promote.yaml in a scratch folder, and `promote server` (API, controller and both routers) as a
 * child process, exactly as a user would run it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { PromoteError, wrapError } from '../errors.js';
import { ensureEmbeddedPostgres, type EmbeddedServer } from '../store/embedded/server.js';
import { freePort } from '../system/processes.js';
import { stopDeployedVersions } from '../targets/stop-deployed.js';
import { DEMO_EXAMPLE_DIR, setupOrdersDatabase } from './schema.js';

const CLI = fileURLToPath(new URL('../cli/main.js', import.meta.url));
const SERVICE = fileURLToPath(new URL('./orders-service.js', import.meta.url));
const CONTRACT_TEST = fileURLToPath(new URL('./contract-test.js', import.meta.url));
export const ENVIRONMENTS = ['staging', 'production'] as const;
export type DemoEnvironment = (typeof ENVIRONMENTS)[number];

export interface StackOptions {
  /** orders seeded in production (staging gets a tenth); the backfill's work */
  seedOrders: number;
  /** the waits of promote.yaml: pauses, analysis intervals and windows */
  pace: { pause: string; interval: string; window: string };
  /** where the scratch folder goes; default the system's temporary folder */
  parent?: string;
  /** told what is happening, one line at a time */
  say: (line: string) => void;
}

export interface DemoStack {
  folder: string;
  /** the environment `promote` commands need to reach this stack (DATABASE_URL, the PROMOTE_DEMO_* values) */
  env: Record<string, string>;
  apiUrl: string;
  routerUrl: Record<DemoEnvironment, string>;
  /** the orders databases, for checks and the backfill's progress */
  databases: Record<DemoEnvironment, { url: string; pool: pg.Pool }>;
  /** copies the migration 2.0.0 brings into the demo's migrations folder (it ships with that release) */
  addMigration(name: string): Promise<void>;
  /** stops the app instances, the server and PostgreSQL, and removes the folder */
  stop(versions: readonly string[]): Promise<void>;
}

export async function startDemoStack(options: StackOptions): Promise<DemoStack> {
  const folder = await mkdtemp(join(options.parent ?? tmpdir(), 'promote-demo-'));
  // run as root, the embedded PostgreSQL runs as another user, who must be able to reach its folder
  await chmod(folder, 0o755);
  const cleanups: Array<() => Promise<void>> = [async () => rm(folder, { recursive: true, force: true })];
  const unwind = async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  };
  try {
    options.say(`working folder ${folder} (removed at the end)`);
    options.say('starting an embedded PostgreSQL for the state store and the orders databases');
    const postgres = await ensureEmbeddedPostgres({ home: join(folder, 'pg'), durable: false });
    cleanups.push(() => postgres.release());
    const databases = {} as DemoStack['databases'];
    for (const environment of ENVIRONMENTS) {
      const url = await createDatabase(postgres, `orders_${environment}`);
      const pool = new pg.Pool({ connectionString: url, max: 4 });
      pool.on('error', () => undefined);
      cleanups.push(() => pool.end());
      databases[environment] = { url, pool };
      const seeded = await setupOrdersDatabase(pool, { seedOrders: environment === 'production' ? options.seedOrders : Math.ceil(options.seedOrders / 10) });
      options.say(`orders_${environment}: ${seeded.orders} orders in the v1 shape (amounts in dollars)`);
    }

    await copyFile(join(DEMO_EXAMPLE_DIR, 'promote.yaml'), join(folder, 'promote.yaml'));
    await mkdir(join(folder, 'migrations'));
    const ports = { api: await freePort(), staging: await freePort(), stagingAdmin: await freePort(), production: await freePort(), productionAdmin: await freePort() };
    const apiUrl = `http://127.0.0.1:${ports.api}`;
    const env: Record<string, string> = {
      DATABASE_URL: postgres.url,
      PROMOTE_ACTOR: 'demo',
      PROMOTE_DEMO_SERVICE: SERVICE,
      PROMOTE_DEMO_CONTRACT_TEST: CONTRACT_TEST,
      PROMOTE_DEMO_API_URL: apiUrl,
      PROMOTE_DEMO_STAGING_DATABASE_URL: databases.staging.url,
      PROMOTE_DEMO_PRODUCTION_DATABASE_URL: databases.production.url,
      PROMOTE_DEMO_STAGING_PORT: String(ports.staging),
      PROMOTE_DEMO_STAGING_ADMIN_PORT: String(ports.stagingAdmin),
      PROMOTE_DEMO_PRODUCTION_PORT: String(ports.production),
      PROMOTE_DEMO_PRODUCTION_ADMIN_PORT: String(ports.productionAdmin),
      PROMOTE_DEMO_PAUSE: options.pace.pause,
      PROMOTE_DEMO_INTERVAL: options.pace.interval,
      PROMOTE_DEMO_WINDOW: options.pace.window,
    };
    // for a person exploring a kept demo: the store's URL holds its password, so the file is the owner's only
    await writeFile(join(folder, 'demo.env'), Object.entries(env).map(([name, value]) => `${name}='${value.replaceAll("'", "'\\''")}'\n`).join(''), { mode: 0o600 });
    // the instances a rollout started outlive the server on purpose: stop them before the server's database goes
    const deployed = new Set<string>();
    cleanups.push(() => stopDeployedVersions(folder, [...deployed], { ...process.env, ...env }));
    const logFile = join(folder, 'server.log');
    const server = spawnServer(folder, env, ports.api, logFile);
    cleanups.push(() => stopServer(server));
    await waitForApi(apiUrl, server, logFile);
    options.say(`promote server: API ${apiUrl}, routers ${ENVIRONMENTS.map((each) => `${each} http://127.0.0.1:${ports[each]}`).join(', ')}`);
    options.say(`dashboard: open ${apiUrl}/ in a browser to watch the rollouts live`);

    return {
      folder,
      env,
      apiUrl,
      routerUrl: { staging: `http://127.0.0.1:${ports.staging}`, production: `http://127.0.0.1:${ports.production}` },
      databases,
      addMigration: async (name) => copyFile(join(DEMO_EXAMPLE_DIR, 'migrations', `${name}.yaml`), join(folder, 'migrations', `${name}.yaml`)),
      stop: async (versions) => {
        for (const version of versions) deployed.add(version);
        await unwind();
      },
    };
  } catch (error) {
    await unwind();
    throw error;
  }
}

async function createDatabase(postgres: EmbeddedServer, name: string): Promise<string> {
  const admin = new pg.Client({ connectionString: postgres.adminUrl });
  try {
    await admin.connect();
    await admin.query(`create database ${name}`);
  } catch (error) {
    throw wrapError(`creating the demo database ${name}`, error);
  } finally {
    await admin.end().catch(() => undefined);
  }
  const url = new URL(postgres.adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

function spawnServer(folder: string, env: Record<string, string>, port: number, logFile: string): ChildProcess {
  const log = createWriteStream(logFile);
  // its own process group: a Ctrl-C in the terminal reaches the demo, which stops the server in order
  const child = spawn(process.execPath, [CLI, 'server', '--listen', `127.0.0.1:${port}`], {
    cwd: folder,
    env: { ...process.env, PROMOTE_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  child.stdout.pipe(log, { end: false });
  child.stderr.pipe(log, { end: false });
  child.once('exit', () => log.end());
  return child;
}

async function waitForApi(apiUrl: string, server: ChildProcess, logFile: string): Promise<void> {
  for (const started = Date.now(); Date.now() - started < 30_000; await sleep(100)) {
    if (server.exitCode !== null) throw new PromoteError(`promote server exited with code ${server.exitCode} while starting; its output is in ${logFile}`);
    const up = await fetch(`${apiUrl}/healthz`, { signal: AbortSignal.timeout(1_000) }).then(
      (response) => response.ok,
      () => false,
    );
    if (up) return;
  }
  throw new PromoteError(`promote server did not answer on ${apiUrl} within 30 s; its output is in ${logFile}`);
}

async function stopServer(server: ChildProcess): Promise<void> {
  if (server.exitCode !== null || server.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => server.once('exit', () => resolve()));
  server.kill('SIGTERM');
  const stopped = await Promise.race([exited.then(() => true), sleep(15_000).then(() => false)]);
  if (!stopped) {
    server.kill('SIGKILL');
    await exited;
  }
}
