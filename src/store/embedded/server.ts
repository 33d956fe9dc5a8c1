import { mkdir, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import pg from 'pg';
import lockfile from 'proper-lockfile';
import { PromoteError, wrapError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { bundledMajorVersion, locateBinaries } from './binaries.js';
import { prepareDataFolder, readRunningServer, startServer, stopServer, type ClusterContext } from './cluster.js';
import { isRunning } from '../../system/processes.js';
import { writeJsonAtomically } from '../../system/files.js';
import { layout, readMarker, readOwner, type Marker, type Owner } from './layout.js';
import { resolveRunAs } from './run-as.js';

export interface EmbeddedOptions {
  /** the folder holding the server, `.promote/pg` under the working folder by default */
  home: string;
  /** keep the server running after this process exits (`promote db start`) */
  keep?: boolean;
  /** tests only: trade durability for speed */
  durable?: boolean;
  log?: Logger;
}

export interface EmbeddedServer {
  /** URL of the `promote` database; contains the generated password, so never print it */
  url: string;
  /** URL of the `postgres` maintenance database (creating test databases) */
  adminUrl: string;
  port: number;
  home: string;
  /** true when this process started the server; it stops it on release unless others still use it */
  startedHere: boolean;
  /** Ends this process's use; stops the server when this process started it and nobody else is connected. */
  release(): Promise<void>;
}

const LEASE_APPLICATION = 'promote-lease';

/**
 * Starts the embedded server or joins the one already running. Start-up runs under a file lock, so
 * two processes starting at once neither initialise twice nor start two servers on one folder. While
 * a process uses the server it holds a lease connection; the process that started the server stops it
 * on release only when no lease but its own remains.
 */
export async function ensureEmbeddedPostgres(options: EmbeddedOptions): Promise<EmbeddedServer> {
  const home = resolve(options.home);
  const context = await clusterContext(home, options.durable ?? true, options.log);
  const unlock = await lockHome(home);
  try {
    const marker = await prepareDataFolder(context);
    let running = await waitUntilSettled(home);
    const startedHere = !running;
    if (running) context.log?.debug({ home, port: running.port, pid: running.pid }, 'joining the running embedded PostgreSQL');
    if (!running) {
      await startServer(context);
      running = await waitUntilSettled(home);
      if (!running) throw new PromoteError(`the embedded PostgreSQL in ${home} reported a start but wrote no postmaster.pid`);
    }
    if (startedHere || options.keep) await writeOwner(home, { pid: process.pid, keep: options.keep ?? false });
    const urls = serverUrls(marker, running.port);
    await ensureDatabase(urls.adminUrl, marker.database);
    const lease = await connect(urls.adminUrl, LEASE_APPLICATION, 'opening a lease on the embedded PostgreSQL');
    return {
      ...urls,
      port: running.port,
      home,
      startedHere,
      release: () => releaseServer(context, lease, startedHere),
    };
  } finally {
    await unlock();
  }
}

/**
 * The last process out stops a server that nobody asked to keep: the one that started it, or anyone
 * once the starter has handed it over (pid 0) or died without stopping it.
 */
async function releaseServer(context: ClusterContext, lease: pg.Client, startedHere: boolean): Promise<void> {
  const unlock = await lockHome(context.home);
  try {
    const others = await lease.query<{ count: string }>(
      "select count(*) from pg_stat_activity where backend_type = 'client backend' and pid <> pg_backend_pid()",
    );
    await lease.end().catch(() => undefined);
    const owner = await readOwner(context.home);
    const ours = owner !== undefined && !owner.keep && (startedHere || owner.pid === 0 || !isRunning(owner.pid));
    if (ours && Number(others.rows[0]?.count ?? 0) === 0) {
      await stopServer(context);
      await rm(join(context.home, layout.owner), { force: true });
    } else if (ours && startedHere) {
      await writeOwner(context.home, { pid: 0, keep: false });
    }
  } finally {
    await unlock();
  }
}

export interface EmbeddedStatus {
  home: string;
  initialised: boolean;
  running: boolean;
  pid?: number;
  port?: number;
  postgresMajor?: number;
  keptRunning?: boolean;
}

export async function embeddedStatus(homeOption: string): Promise<EmbeddedStatus> {
  const home = resolve(homeOption);
  const marker = await readMarker(home);
  const running = await readRunningServer(home);
  const alive = running !== undefined && isRunning(running.pid, undefined, 'postgres');
  const owner = alive ? await readOwner(home) : undefined;
  return {
    home,
    initialised: marker?.initialised ?? false,
    running: alive,
    ...(alive ? { pid: running.pid, port: running.port } : {}),
    ...(marker ? { postgresMajor: marker.postgresMajor } : {}),
    ...(owner ? { keptRunning: owner.keep } : {}),
  };
}

/** Stops the server whoever started it; returns false when it was not running. */
export async function stopEmbeddedPostgres(homeOption: string, log?: Logger): Promise<boolean> {
  const home = resolve(homeOption);
  const running = await readRunningServer(home);
  if (!running || !isRunning(running.pid, undefined, 'postgres')) return false;
  const context = await clusterContext(home, true, log);
  const unlock = await lockHome(home);
  try {
    await stopServer(context);
    await rm(join(home, layout.owner), { force: true });
    return true;
  } finally {
    await unlock();
  }
}

function writeOwner(home: string, owner: Owner): Promise<void> {
  return writeJsonAtomically(join(home, layout.owner), owner);
}

async function clusterContext(home: string, durable: boolean, log?: Logger): Promise<ClusterContext> {
  const binaries = await locateBinaries();
  const [major, runAs] = await Promise.all([bundledMajorVersion(binaries), resolveRunAs()]);
  return { home, binaries, major, runAs, durable, ...(log ? { log } : {}) };
}

async function lockHome(home: string): Promise<() => Promise<void>> {
  try {
    await mkdir(home, { recursive: true });
    return await lockfile.lock(home, {
      lockfilePath: join(home, layout.lock),
      stale: 5_000,
      update: 1_000,
      retries: { retries: 120, minTimeout: 100, maxTimeout: 500 },
    });
  } catch (error) {
    throw wrapError(`locking ${home} to start the embedded PostgreSQL`, error);
  }
}

/** A server another process is starting or stopping is waited for, not raced. */
async function waitUntilSettled(home: string, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const running = await readRunningServer(home);
    if (!running) return undefined;
    if (!isRunning(running.pid, undefined, 'postgres')) {
      // a server killed without cleaning up; PostgreSQL itself would take a zombie's pid for a live one
      await rm(join(home, layout.data, 'postmaster.pid'), { force: true });
      return undefined;
    }
    if (running.status === 'ready') return running;
    if (Date.now() > deadline) {
      throw new PromoteError(`the embedded PostgreSQL in ${home} (pid ${running.pid}) has been "${running.status || 'starting'}" for ${timeoutMs / 1000} s`);
    }
    await new Promise((done) => setTimeout(done, 100));
  }
}

/** The URLs of the running embedded server without starting it, or undefined when it is not running. */
export async function runningServerUrls(homeOption: string): Promise<{ url: string; adminUrl: string } | undefined> {
  const home = resolve(homeOption);
  const [marker, running] = await Promise.all([readMarker(home), readRunningServer(home)]);
  if (!marker || !running || !isRunning(running.pid, undefined, 'postgres')) return undefined;
  return serverUrls(marker, running.port);
}

function serverUrls(marker: Marker, port: number) {
  const base = `postgres://${marker.superuser}:${encodeURIComponent(marker.password)}@127.0.0.1:${port}`;
  return { url: `${base}/${marker.database}`, adminUrl: `${base}/postgres` };
}

async function connect(url: string, application: string, doing: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, application_name: application, connectionTimeoutMillis: 10_000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return client;
  } catch (error) {
    await client.end().catch(() => undefined);
    throw wrapError(doing, error);
  }
}

async function ensureDatabase(adminUrl: string, database: string): Promise<void> {
  const client = await connect(adminUrl, 'promote', `connecting to the embedded PostgreSQL to create the "${database}" database`);
  try {
    const found = await client.query('select 1 from pg_database where datname = $1', [database]);
    if (found.rowCount === 0) await client.query(`create database ${client.escapeIdentifier(database)}`);
  } catch (error) {
    if ((error as { code?: string }).code !== '42P04') throw wrapError(`creating the "${database}" database in the embedded PostgreSQL`, error);
  } finally {
    await client.end().catch(() => undefined);
  }
}
