/**
 * Runs a test command in its own process group, so that a timeout or an abort can stop everything
 * it started (a test runner's workers, a `sleep` in a retry loop), not only the shell.
 *
 * Nothing the command started outlives the run: when the shell exits, whatever is left of its
 * process group is stopped too (SIGTERM, then SIGKILL after the grace period). Processes that leave
 * the group on purpose (setsid, double-fork daemons) are out of reach; a test should not start those.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { describeCause } from '../../errors.js';
import { stopGroup } from '../../system/processes.js';
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
  let stopping: Promise<unknown> | undefined;
  const stop = () => (stopping ??= stopGroup(pgid, undefined, options.killGraceMs ?? 5000));
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
