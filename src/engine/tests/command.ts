/**
 * Runs a test command in its own process group, so that a timeout or an abort can stop everything
 * it started (a test runner's workers, a `sleep` in a retry loop), not only the shell.
 *
 * Nothing the command started outlives the run: when the shell exits, whatever is left of its
 * process group is stopped too (SIGTERM, then SIGKILL after the grace period). Processes that leave
 * the group on purpose (setsid, double-fork daemons) are out of reach; a test should not start those.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdir, readFile, stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { describeCause } from '../../errors.js';
import { OutputTail, type OutputTailOptions } from './output-tail.js';

export interface CommandOptions {
  command: string;
  cwd: string;
  env: NodeJS.ProcessEnv;
  timeoutMs: number;
  signal?: AbortSignal;
  /** between SIGTERM and SIGKILL; 5 s */
  killGraceMs?: number;
  tail?: OutputTailOptions;
}

export interface CommandOutcome {
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  aborted: boolean;
  /** why the command could not be started at all */
  startError?: string;
  outputTail: string;
  /** lines printed in all, of which outputTail keeps the last ones */
  outputLines: number;
}

const maxTimer = 2 ** 31 - 1;
const pollMs = 25;
/** how long to wait for the output pipes once the process group is gone (an escaped daemon may hold them) */
const drainMs = 1000;

export async function runCommand(options: CommandOptions): Promise<CommandOutcome> {
  const tail = new OutputTail(options.tail);
  const outcome = (fields: Partial<CommandOutcome>): CommandOutcome => ({
    exitCode: null,
    signal: null,
    timedOut: false,
    aborted: false,
    ...fields,
    outputTail: tail.finish(),
    outputLines: tail.lineCount,
  });
  if (options.signal?.aborted) return outcome({ aborted: true });
  const cwdProblem = await checkFolder(options.cwd);
  if (cwdProblem !== undefined) return outcome({ startError: cwdProblem });

  let child: ChildProcess;
  try {
    child = spawn('/bin/sh', ['-c', options.command], { cwd: options.cwd, env: options.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    return outcome({ startError: `could not start /bin/sh: ${describeCause(error)}` });
  }
  let childError: unknown;
  const errored = new Promise<void>((resolve) => {
    child.on('error', (error) => {
      childError ??= error;
      resolve();
    });
  });
  const pgid = child.pid;
  const { stdout, stderr } = child;
  if (pgid === undefined || stdout === null || stderr === null) {
    await errored;
    return outcome({ startError: `could not start /bin/sh: ${describeCause(childError)}` });
  }

  const streamsClosed = Promise.all([stdout, stderr].map((stream) => new Promise<void>((resolve) => stream.once('close', resolve))));
  stdout.on('data', (chunk: Buffer) => tail.write('stdout', chunk));
  stderr.on('data', (chunk: Buffer) => tail.write('stderr', chunk));

  let timedOut = false;
  let aborted = false;
  let stopping: Promise<void> | undefined;
  const stop = () => (stopping ??= stopGroup(pgid, options.killGraceMs ?? 5000));
  const timer = setTimeout(() => {
    timedOut = true;
    void stop();
  }, Math.min(Math.max(options.timeoutMs, 0), maxTimer));
  const onAbort = () => {
    aborted = true;
    void stop();
  };
  options.signal?.addEventListener('abort', onAbort, { once: true });

  const exited = await new Promise<{ code: number | null; signal: string | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  clearTimeout(timer);
  options.signal?.removeEventListener('abort', onAbort);
  // whatever the shell left behind in its group goes with it
  await stop();
  await Promise.race([streamsClosed, sleep(drainMs)]);
  stdout.destroy();
  stderr.destroy();
  return outcome({ exitCode: exited.code, signal: exited.signal, timedOut, aborted });
}

async function checkFolder(folder: string): Promise<string | undefined> {
  try {
    const info = await stat(folder);
    return info.isDirectory() ? undefined : `the working folder ${folder} is not a folder`;
  } catch (error) {
    return `the working folder ${folder} cannot be used: ${describeCause(error)}`;
  }
}

/** SIGTERM to the group, SIGKILL after the grace period if anything is still running. */
async function stopGroup(pgid: number, graceMs: number): Promise<void> {
  if (!(await groupAlive(pgid))) return;
  signalGroup(pgid, 'SIGTERM');
  if (await waitUntilGone(pgid, graceMs)) return;
  signalGroup(pgid, 'SIGKILL');
  await waitUntilGone(pgid, 2000);
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // ESRCH: the group is already gone
  }
}

async function waitUntilGone(pgid: number, ms: number): Promise<boolean> {
  const deadline = performance.now() + ms;
  for (;;) {
    if (!(await groupAlive(pgid))) return true;
    if (performance.now() >= deadline) return false;
    await sleep(pollMs);
  }
}

/**
 * Whether any process of the group still runs. kill(-pgid, 0) also counts zombies, and orphaned
 * grandchildren stay zombies forever where PID 1 does not reap (many containers), so on Linux the
 * answer is confirmed from /proc.
 */
export async function groupAlive(pgid: number): Promise<boolean> {
  try {
    process.kill(-pgid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  if (process.platform !== 'linux') return true;
  let entries: string[];
  try {
    entries = await readdir('/proc');
  } catch {
    return true;
  }
  const states = await Promise.all(
    entries.filter((entry) => /^\d+$/.test(entry)).map(async (pid) => {
      try {
        return parseStat(await readFile(`/proc/${pid}/stat`, 'latin1'));
      } catch {
        return undefined; // gone meanwhile
      }
    }),
  );
  return states.some((state) => state !== undefined && state.pgrp === pgid && state.state !== 'Z' && state.state !== 'X');
}

/** Whether one process runs (not a zombie); for tests and for callers holding a pid. */
export async function processAlive(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  if (process.platform !== 'linux') return true;
  try {
    const state = parseStat(await readFile(`/proc/${pid}/stat`, 'latin1'));
    return state !== undefined && state.state !== 'Z' && state.state !== 'X';
  } catch {
    return false;
  }
}

function parseStat(text: string): { state: string; pgrp: number } | undefined {
  // "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const state = fields[0];
  const pgrp = Number(fields[2]);
  return state === undefined || !Number.isInteger(pgrp) ? undefined : { state, pgrp };
}
