/**
 * Processes and process groups, as seen by a Promote process that may not be their parent: app
 * instances (each in its own process group, so a signal to the group reaches whatever it forked),
 * test commands, and the embedded PostgreSQL.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { PromoteError, wrapError } from '../errors.js';

interface ProcStat {
  /** the executable's name, as the kernel keeps it (15 characters at most) */
  command: string;
  /** R, S, D, Z (zombie), X (dead), ... */
  state: string;
  pgrp: number;
  /** clock ticks after boot: with the pid, it names one process for good, whatever pids are reused later */
  startTime: string;
}

const hasProc = (() => {
  try {
    readFileSync('/proc/self/stat', 'utf8');
    return true;
  } catch {
    return false;
  }
})();

/** The /proc entry of a pid: 'gone' when there is none, 'unknown' where /proc does not exist. */
function procStat(pid: number): ProcStat | 'gone' | 'unknown' {
  if (!hasProc) return 'unknown';
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return 'gone';
  }
  // "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses, so read from the last ')'
  const close = text.lastIndexOf(')');
  const fields = text.slice(close + 2).split(' ');
  return { command: text.slice(text.indexOf('(') + 1, close), state: fields[0] ?? '?', pgrp: Number(fields[2]), startTime: fields[19] ?? '' };
}

function signalReaches(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** When the process started (Linux), recorded next to the pid so a reused pid is never taken for ours. */
export function processStartTime(pid: number): string | undefined {
  const stat = procStat(pid);
  return typeof stat === 'object' ? stat.startTime : undefined;
}

/**
 * Whether the process runs, and is the one that started at `startTime` (or runs `command`) when given.
 * A killed process lingers as a zombie while nobody reaps it (a container's init often does not), and
 * signal 0 still reaches a zombie, so /proc decides; a recycled pid running another program is gone.
 */
export function isRunning(pid: number, startTime?: string, command?: string): boolean {
  const stat = procStat(pid);
  if (stat === 'unknown') return signalReaches(pid);
  if (stat === 'gone' || stat.state === 'Z' || stat.state === 'X') return false;
  return (startTime === undefined || stat.startTime === startTime) && (command === undefined || stat.command.startsWith(command));
}

/** The pid now belongs to another process than the one recorded: our process and its group are gone. */
export function isReused(pid: number, startTime: string | undefined): boolean {
  const stat = procStat(pid);
  return startTime !== undefined && typeof stat === 'object' && stat.startTime !== startTime;
}

/** Whether any live (not zombie) process is left in the group. */
export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  if (!hasProc) return true;
  let names: string[];
  try {
    names = readdirSync('/proc');
  } catch {
    return true;
  }
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue;
    const stat = procStat(Number(name));
    if (typeof stat === 'object' && stat.pgrp === pgid && stat.state !== 'Z' && stat.state !== 'X') return true;
  }
  return false;
}

/**
 * Live processes whose environment holds `name=value`, group leaders first. This finds a process
 * whose parent died before it could write the pid down (a controller killed between spawn and
 * record): the marker was in the environment it was started with. Empty where /proc does not exist
 * or the processes belong to another user.
 */
export function findProcessesByEnv(name: string, value: string): Array<{ pid: number; startTime: string }> {
  if (!hasProc) return [];
  const wanted = `${name}=${value}`;
  const found: Array<{ pid: number; startTime: string; leader: boolean }> = [];
  let names: string[];
  try {
    names = readdirSync('/proc');
  } catch {
    return [];
  }
  for (const entry of names) {
    if (!/^\d+$/.test(entry)) continue;
    let environ: string;
    try {
      environ = readFileSync(`/proc/${entry}/environ`, 'latin1');
    } catch {
      continue;
    }
    if (!environ.split('\0').includes(wanted)) continue;
    const pid = Number(entry);
    const stat = procStat(pid);
    if (typeof stat !== 'object' || stat.state === 'Z' || stat.state === 'X') continue;
    found.push({ pid, startTime: stat.startTime, leader: stat.pgrp === pid });
  }
  return found.sort((a, b) => Number(b.leader) - Number(a.leader) || a.pid - b.pid).map(({ pid, startTime }) => ({ pid, startTime }));
}

/** Sends a signal to a whole group; false when the group no longer exists. */
export function signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw wrapError(`sending ${signal} to process group ${pgid}`, error);
  }
}

/** Waits until no live process is left in the group; false when `ms` passed first. */
export async function waitGroupGone(pgid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (!groupAlive(pgid)) return true;
    const left = deadline - Date.now();
    if (left <= 0) return false;
    await delay(Math.min(25, left));
  }
}

export type StopOutcome = 'gone' | 'reused' | 'terminated' | 'killed' | 'stuck';

/**
 * Stops a process group the graceful way: SIGTERM, up to `graceMs` for every member to exit, then
 * SIGKILL. Nothing is signalled when the leader's pid now names another process: the kernel does not
 * reuse a pid while a group of that id exists, so a reused pid means our group is already gone.
 */
export async function stopGroup(pgid: number, startTime: string | undefined, graceMs: number): Promise<StopOutcome> {
  if (isReused(pgid, startTime)) return 'reused';
  if (!signalGroup(pgid, 'SIGTERM')) return 'gone';
  if (await waitGroupGone(pgid, graceMs)) return 'terminated';
  signalGroup(pgid, 'SIGKILL');
  return (await waitGroupGone(pgid, 5_000)) ? 'killed' : 'stuck';
}

/** A TCP port on 127.0.0.1 that nothing listens on right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', (error) => reject(wrapError('looking for a free port on 127.0.0.1', error)));
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * A port for a server to listen on, below the kernel's ephemeral range (32768 and up on Linux), so no
 * outgoing connection can take it between our choice and the server's bind. Falls back to an
 * ephemeral port when that part of the range looks full.
 */
export async function freeListenPort(): Promise<number> {
  return (await freePortBlock(1).catch(() => undefined)) ?? freePort();
}

/** `count` consecutive ports that can be listened on, below the ephemeral range. */
export async function freePortBlock(count: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * (12_000 - count));
    let free = true;
    for (let offset = 0; offset < count && free; offset++) free = await bindable(base + offset);
    if (free) return base;
  }
  throw new PromoteError(`found no ${count} consecutive free ports between 20000 and 32000`);
}

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}
