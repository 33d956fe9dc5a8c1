import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFile, mkdir, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PromoteError, wrapError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { PostgresBinaries } from './binaries.js';
import { freePort } from '../../system/processes.js';
import { writeJsonAtomically } from '../../system/files.js';
import { layout, newMarker, readMarker, type Marker } from './layout.js';
import { assertReachable, giveTo, type RunAs } from './run-as.js';

export interface ClusterContext {
  home: string;
  binaries: PostgresBinaries;
  major: number;
  runAs: RunAs;
  /** false only in tests: skips fsync for speed, never for a real state store */
  durable: boolean;
  log?: Logger;
}

const dataDir = (home: string) => join(home, layout.data);

/**
 * Brings the data folder to a usable state, or explains why it cannot. initdb runs in a scratch folder
 * that is renamed into place only when complete, so a crash during initialisation leaves nothing that a
 * later start could mistake for state.
 */
export async function prepareDataFolder(context: ClusterContext): Promise<Marker> {
  const { home } = context;
  await assertReachable(context.runAs, home, 'the embedded database folder');
  const entries = await readdir(home);
  for (const entry of entries) {
    if (entry.startsWith(layout.initPrefix) || entry.startsWith(layout.passwordFilePrefix)) {
      await rm(join(home, entry), { recursive: true, force: true });
    }
  }
  const hasData = entries.includes(layout.data);
  let marker = await readMarker(home);
  if (!marker) {
    if (hasData) {
      throw new PromoteError(`${dataDir(home)} exists but was not created by Promote (no ${layout.marker}); refusing to use or overwrite it`, {
        hint: `move it away, or point Promote at that server with DATABASE_URL`,
      });
    }
    const known = new Set<string>([layout.lock, layout.log, layout.owner]);
    const foreign = entries.filter((entry) => !known.has(entry) && !entry.startsWith(layout.initPrefix) && !entry.startsWith(layout.passwordFilePrefix) && !entry.endsWith('.tmp'));
    if (foreign.length > 0) {
      throw new PromoteError(`${home} holds files Promote did not create (${foreign.join(', ')}); refusing to initialise a database there`, {
        hint: 'use an empty folder (set PROMOTE_HOME) or remove those files',
      });
    }
    marker = newMarker(context.major);
    await writeJsonAtomically(join(home, layout.marker), marker);
  }
  if (!marker.initialised) {
    if (!hasData) {
      const started = Date.now();
      context.log?.info({ home }, 'creating the embedded PostgreSQL data folder');
      await initialiseInto(context, marker);
      context.log?.info({ home, ms: Date.now() - started }, 'created the embedded PostgreSQL data folder');
    }
    marker = { ...marker, initialised: true };
    await writeJsonAtomically(join(home, layout.marker), marker);
  } else if (!hasData) {
    throw new PromoteError(`${dataDir(home)} is missing although ${join(home, layout.marker)} says it was initialised: the state store's data was moved or deleted; refusing to create an empty one in its place`, {
      hint: `restore ${dataDir(home)} from a backup, or remove ${home} to start over with an empty state store`,
    });
  }
  await assertCompatible(context, marker);
  return marker;
}

async function initialiseInto(context: ClusterContext, marker: Marker): Promise<void> {
  const { home, runAs } = context;
  const scratch = join(home, `${layout.initPrefix}${randomBytes(4).toString('hex')}`);
  const passwordFile = join(home, `${layout.passwordFilePrefix}${randomBytes(4).toString('hex')}`);
  await mkdir(scratch, { mode: 0o700 });
  await giveTo(runAs, scratch);
  await writeFile(passwordFile, `${marker.password}\n`, { mode: 0o600 });
  await giveTo(runAs, passwordFile);
  try {
    await runTool(context, context.binaries.initdb, [
      `--pgdata=${scratch}`,
      `--username=${marker.superuser}`,
      `--pwfile=${passwordFile}`,
      '--auth=scram-sha-256',
      '--encoding=UTF8',
      '--no-locale',
      ...(context.durable ? [] : ['--no-sync']),
    ], 'initialising the embedded PostgreSQL data folder (initdb)', 120_000);
  } finally {
    await rm(passwordFile, { force: true });
  }
  const settings = [
    '',
    '# written by Promote: loopback only, TCP only, port chosen at each start',
    "listen_addresses = '127.0.0.1'",
    "unix_socket_directories = ''",
    'max_connections = 300',
    ...(context.durable ? [] : ['fsync = off', 'synchronous_commit = off', 'full_page_writes = off']),
    '',
  ];
  await appendFile(join(scratch, 'postgresql.conf'), settings.join('\n'));
  await rename(scratch, dataDir(home));
}

async function assertCompatible(context: ClusterContext, marker: Marker): Promise<void> {
  const data = dataDir(context.home);
  let version: string;
  try {
    version = (await readFile(join(data, 'PG_VERSION'), 'utf8')).trim();
    await stat(join(data, 'global', 'pg_control'));
  } catch (error) {
    throw new PromoteError(`${data} is damaged: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? `${(error as NodeJS.ErrnoException).path ?? 'a required file'} is missing` : (error as Error).message}`, {
      cause: error,
      hint: `restore ${data} from a backup, or remove ${context.home} to start over with an empty state store`,
    });
  }
  if (Number(version) !== context.major || marker.postgresMajor !== context.major) {
    throw new PromoteError(`${data} was created by PostgreSQL ${version}, but this Promote bundles PostgreSQL ${context.major}; the data folder cannot be opened by another major version`, {
      hint: 'run the matching Promote version to dump the state (pg_dump), or point Promote at a server with DATABASE_URL',
    });
  }
}

export interface RunningServer {
  pid: number;
  port: number;
  status: string;
}

/** Reads postmaster.pid: the server writes its pid, port and readiness there, so any process can find it. */
export async function readRunningServer(home: string): Promise<RunningServer | undefined> {
  let text: string;
  try {
    text = await readFile(join(dataDir(home), 'postmaster.pid'), 'utf8');
  } catch {
    return undefined;
  }
  const lines = text.split('\n');
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!Number.isInteger(pid) || pid <= 0 || !Number.isInteger(port)) return undefined;
  return { pid, port, status: (lines[7] ?? '').trim() };
}

export async function startServer(context: ClusterContext): Promise<number> {
  const logFile = join(context.home, layout.log);
  await appendFile(logFile, '');
  await giveTo(context.runAs, logFile);
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    try {
      await runTool(context, context.binaries.pgCtl, ['start', '--pgdata', dataDir(context.home), '--log', logFile, '--wait', '--timeout', '60', '--silent', '--options', `-p ${port}`],
        `starting the embedded PostgreSQL on port ${port}`, 90_000);
      context.log?.info({ home: context.home, port }, 'started the embedded PostgreSQL');
      return port;
    } catch (error) {
      lastError = error;
      const tail = await logTail(logFile);
      if (!/could not bind|Address already in use/i.test(tail)) {
        throw new PromoteError(`${(error as Error).message}\nlast lines of ${logFile}:\n${tail}`, { cause: error });
      }
    }
  }
  throw wrapError('starting the embedded PostgreSQL: no free port after 3 attempts', lastError);
}

export async function stopServer(context: ClusterContext): Promise<void> {
  await runTool(context, context.binaries.pgCtl, ['stop', '--pgdata', dataDir(context.home), '--mode', 'fast', '--wait', '--timeout', '60', '--silent'],
    'stopping the embedded PostgreSQL', 90_000);
  context.log?.info({ home: context.home }, 'stopped the embedded PostgreSQL');
}

async function logTail(file: string, lines = 15): Promise<string> {
  try {
    return (await readFile(file, 'utf8')).trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

function runTool(context: ClusterContext, file: string, args: string[], doing: string, timeout: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { uid: context.runAs.uid, gid: context.runAs.gid, cwd: context.home, timeout, env: { ...process.env, LC_ALL: 'C' } }, (error, stdout, stderr) => {
      if (error) reject(new PromoteError(`${doing} failed: ${(stderr || stdout || error.message).trim()}`, { cause: error }));
      else resolve(stdout);
    });
  });
}
