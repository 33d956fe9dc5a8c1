import type { ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { request, type Dispatcher } from 'undici';
import { findProcessesByEnv } from '../../src/system/processes.js';
import { afterFile } from './cleanup.js';
import { collect, runInProcess, spawnCli } from './cli.js';
import { stopDeployedVersions } from './instances.js';

/**
 * The pieces end-to-end tests use to drive a real `promote server` (API, controller and router in
 * one process) from a scratch folder: releases, the server itself, its API, rollouts followed to the
 * end, `promote explain`, and steady load through the router. Each test keeps its own lifecycle.
 */

export type Env = Record<string, string>;

/** Records each version as a release whose artifact is a file named after it. */
export async function createReleases(folder: string, env: Env, versions: readonly string[]): Promise<void> {
  for (const version of versions) {
    await writeFile(join(folder, `${version}.tgz`), version);
    const created = await runInProcess(['release', 'create', version, '--artifact', `${version}.tgz`], { cwd: folder, env });
    if (created.code !== 0) throw new Error(`release create ${version} exited ${created.code}: ${created.stderr}`);
  }
}

/** Starts `promote server` on the port (with `args` added, e.g. --auth tokens) and waits until it answers /healthz. */
export async function startPromoteServer(folder: string, env: Env, apiPort: number, args: readonly string[] = []): Promise<{ child: ChildProcess; output: ReturnType<typeof collect> }> {
  const child = spawnCli(['server', '--listen', `127.0.0.1:${apiPort}`, ...args], { cwd: folder, env: { PROMOTE_LOG_LEVEL: 'warn', ...env } });
  const output = collect(child);
  for (let waited = 0; waited < 15_000; waited += 100) {
    const up = await request(`http://127.0.0.1:${apiPort}/healthz`).then(
      async (response) => (await response.body.dump(), true),
      () => false,
    );
    if (up) return { child, output };
    await sleep(100);
  }
  child.kill('SIGTERM');
  throw new Error(`promote server did not answer on ${apiPort}: ${JSON.stringify(await output)}`);
}

export interface ServedFolder {
  api: Api;
  child: ChildProcess;
}

/**
 * `promote server` for a test file: started on the port, with its API client, and with the leftover
 * killer armed for `marker` (see killLeftoversOnExit) until the file's cleanup.
 */
export async function servePromote(folder: string, env: Env, apiPort: number, marker: string, args: readonly string[] = []): Promise<ServedFolder> {
  const { child, output } = await startPromoteServer(folder, env, apiPort, args);
  outputs.set(child, output);
  afterFile('disarming the leftover killer', killLeftoversOnExit(marker, () => [child]));
  return { api: apiClient(apiPort), child };
}

/** Stops what servePromote started (if it got that far) and the instances of `versions` deployed from the folder. */
export async function stopServed(served: ServedFolder | undefined, folder: string, versions: readonly string[]): Promise<void> {
  if (served !== undefined) {
    if (served.child.exitCode === null) served.child.kill('SIGTERM');
    await outputs.get(served.child);
  }
  await stopDeployedVersions(folder, versions);
}

const outputs = new WeakMap<ChildProcess, Promise<unknown>>();

export type Api = (method: 'GET' | 'POST', path: string, body?: unknown) => Promise<Record<string, unknown>>;

export function apiClient(apiPort: number): Api {
  return async (method, path, body) => {
    const response = await request(`http://127.0.0.1:${apiPort}${path}`, { method, ...(body !== undefined ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } } : {}) });
    return (await response.body.json()) as Record<string, unknown>;
  };
}

export interface Settled {
  id: number;
  phase: string;
  reason: string;
}

/** Deploys a version through the API and waits until its rollout ends (or pauses for a person). */
export async function rollOut(api: Api, version: string, options: { environment?: string; deploy?: Record<string, unknown>; timeoutMs?: number } = {}): Promise<Settled> {
  const started = await api('POST', '/api/deploy', { environment: options.environment ?? 'staging', version, ...options.deploy });
  if (typeof started.id !== 'number') throw new Error(`deploying ${version} was refused: ${JSON.stringify(started)}`);
  for (let waited = 0; waited < (options.timeoutMs ?? 60_000); waited += 200) {
    const rollout = await api('GET', `/api/rollouts/${started.id}`);
    if (['Healthy', 'RolledBack', 'Degraded', 'Aborted', 'Paused'].includes(String(rollout.phase))) {
      return { id: started.id, phase: String(rollout.phase), reason: typeof rollout.phaseReason === 'string' ? rollout.phaseReason : '' };
    }
    await sleep(200);
  }
  throw new Error(`rollout of ${version} did not end: ${JSON.stringify(await api('GET', `/api/rollouts/${started.id}`))}`);
}

/** `promote explain <id> [flags]` in the folder: its standard output. */
export async function explain(folder: string, env: Env, id: number, ...flags: string[]): Promise<string> {
  return (await runInProcess(['explain', String(id), ...flags], { cwd: folder, env })).stdout;
}

/** `clients` loops of requests through the router until stopped; each answer (or failure) is reported. */
export function steadyLoad(url: string, clients: number, onAnswer: (response: Dispatcher.ResponseData | undefined) => void = () => undefined): { stop(): Promise<void> } {
  let running = true;
  const loops = Promise.all(
    Array.from({ length: clients }, async () => {
      while (running) {
        try {
          const response = await request(url);
          await response.body.dump();
          onAnswer(response);
        } catch {
          onAnswer(undefined);
          await sleep(20);
        }
      }
    }),
  );
  return {
    stop: async () => {
      running = false;
      await loops;
    },
  };
}

/**
 * Kills what a test file started should its worker end before the file's cleanup ran (a hook
 * timeout): the given processes, and every app instance whose environment holds `marker` (give the
 * target `env: { PROMOTE_TEST_MARKER: marker }`). Vitest ends workers with SIGTERM, which skips
 * 'exit' handlers unless SIGTERM is handled, so both are. Returns the function that disarms it.
 */
export function killLeftoversOnExit(marker: string, processes: () => ReadonlyArray<ChildProcess | undefined>): () => void {
  const killLeftovers = () => {
    for (const child of processes()) child?.kill('SIGKILL');
    for (const { pid } of findProcessesByEnv('PROMOTE_TEST_MARKER', marker)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
  };
  const onSignal = (signal: NodeJS.Signals) => {
    killLeftovers();
    process.off('exit', killLeftovers);
    process.kill(process.pid, signal);
  };
  process.once('exit', killLeftovers);
  process.once('SIGTERM', onSignal);
  return () => {
    process.off('exit', killLeftovers);
    process.off('SIGTERM', onSignal);
  };
}
