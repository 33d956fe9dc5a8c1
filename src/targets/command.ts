/** Shell commands of a target: their environment, and running them with output kept in a log file. */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { appendFile, mkdir, open } from 'node:fs/promises';
import { dirname } from 'node:path';
import { wrapError } from '../errors.js';
import { fillPlaceholders } from '../spec/placeholders.js';
import { logSectionHeader } from './files.js';
import { signalGroup, waitGroupGone } from '../system/processes.js';

export interface VersionContext {
  app: string;
  environment: string;
  version: string;
}

export function fillCommand(template: string, context: VersionContext): string {
  return fillPlaceholders(template, { version: context.version, environment: context.environment, app: context.app });
}

/**
 * The environment of an instance or a deploy command: the controller's own, then the spec's, then
 * the request's, then what Promote sets itself (which always wins).
 */
export function commandEnv(
  context: VersionContext,
  layers: { spec?: Record<string, string>; request?: Record<string, string>; artifact?: string; own?: Record<string, string> },
): NodeJS.ProcessEnv {
  return {
    ...process.env,
    ...layers.spec,
    ...layers.request,
    RELEASE: context.version,
    PROMOTE_VERSION: context.version,
    PROMOTE_ENVIRONMENT: context.environment,
    PROMOTE_APP: context.app,
    ...(layers.artifact === undefined ? {} : { PROMOTE_ARTIFACT: layers.artifact }),
    ...layers.own,
  };
}

/**
 * Starts `/bin/sh -c command` in its own process group, stdout and stderr appended to `logPath` (a
 * file, not a pipe: the process keeps running unharmed when the controller dies). Resolves once the
 * process exists.
 */
export async function spawnLogged(options: {
  command: string;
  cwd: string;
  env: NodeJS.ProcessEnv;
  logPath: string;
  header: string;
  doing: string;
}): Promise<ChildProcess & { pid: number }> {
  let handle;
  try {
    await mkdir(dirname(options.logPath), { recursive: true, mode: 0o700 });
    await appendFile(options.logPath, logSectionHeader(options.header), { mode: 0o600 });
    handle = await open(options.logPath, 'a');
  } catch (error) {
    throw wrapError(`${options.doing}: preparing the log ${options.logPath}`, error);
  }
  try {
    const child = spawn('/bin/sh', ['-c', options.command], {
      cwd: options.cwd,
      env: options.env,
      detached: true,
      stdio: ['ignore', handle.fd, handle.fd],
    });
    await once(child, 'spawn');
    if (child.pid === undefined) throw new Error('the process has no pid');
    return child as ChildProcess & { pid: number };
  } catch (error) {
    throw wrapError(`${options.doing} (${options.command} in ${options.cwd})`, error);
  } finally {
    await handle.close();
  }
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** Resolves when the child has exited (at once when it already has). */
export async function waitForExit(child: ChildProcess): Promise<Exit> {
  if (child.exitCode !== null || child.signalCode !== null) return { code: child.exitCode, signal: child.signalCode };
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

/** "exited with code 1", "was killed by SIGKILL" */
export function describeExit(exit: Exit): string {
  if (exit.code !== null) return `exited with code ${exit.code}`;
  if (exit.signal !== null) return `was killed by ${exit.signal}`;
  return 'exited';
}

export interface CommandOutcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** stopped because `timeoutMs` passed */
  timedOut: boolean;
}

/**
 * Runs a command to its end. On abort or timeout its whole group gets SIGTERM, then SIGKILL after
 * `graceMs`; an abort rejects with the signal's reason once the group is gone.
 */
export async function runLogged(options: {
  command: string;
  cwd: string;
  env: NodeJS.ProcessEnv;
  logPath: string;
  header: string;
  doing: string;
  timeoutMs: number;
  graceMs?: number;
  signal?: AbortSignal;
}): Promise<CommandOutcome> {
  options.signal?.throwIfAborted();
  const child = await spawnLogged(options);
  child.on('error', () => undefined);
  const exited = waitForExit(child);
  let stopping: 'timeout' | 'abort' | undefined;
  const stop = (why: 'timeout' | 'abort') => {
    if (stopping !== undefined) return;
    stopping = why;
    signalGroup(child.pid, 'SIGTERM');
    void waitGroupGone(child.pid, options.graceMs ?? 5_000).then((gone) => {
      if (!gone) signalGroup(child.pid, 'SIGKILL');
    });
  };
  const timer = setTimeout(() => stop('timeout'), options.timeoutMs);
  const onAbort = () => stop('abort');
  options.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const exit = await exited;
    // what the command started in the background on purpose is left alone, unless we are stopping it
    if (stopping !== undefined) await waitGroupGone(child.pid, (options.graceMs ?? 5_000) + 5_000);
    if (stopping === 'abort') throw options.signal?.reason ?? new Error('cancelled');
    return { ...exit, timedOut: stopping === 'timeout' };
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener('abort', onAbort);
  }
}
