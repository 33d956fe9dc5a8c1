/**
 * What the canary fault tests (test/e2e/canary-faults.test.ts) read about a running `promote server`:
 * the app processes behind the router (by their environment), the router's own view (/state and
 * /metrics on its admin port), the rollout as the API shows it, and load whose every answer is kept.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { request } from 'undici';
import { findProcessesByEnv } from '../../src/system/processes.js';
import type { Api } from './promote-server.js';

export const ENDED = ['Healthy', 'RolledBack', 'Degraded', 'Aborted'];

export interface RolloutView {
  id: number;
  phase: string;
  phaseReason: string | null;
  currentStep: number;
  weights: Record<string, number>;
}

export interface MeasurementView {
  template: string;
  verdict: string;
  reason: string;
  candidate: { version: string; value?: number } | null;
  baseline: { version: string; value?: number } | null;
}

/** The rollout once `done` says so (polled every 100 ms, up to `timeoutMs`). */
export async function waitForRollout(api: Api, id: number, what: string, done: (rollout: RolloutView) => boolean, timeoutMs = 30_000): Promise<RolloutView> {
  const started = Date.now();
  for (;;) {
    const rollout = (await api('GET', `/api/rollouts/${id}`)) as unknown as RolloutView;
    if (done(rollout)) return rollout;
    if (Date.now() - started > timeoutMs) throw new Error(`rollout #${id} did not reach ${what} within ${timeoutMs} ms: ${rollout.phase} at step ${rollout.currentStep + 1}: ${rollout.phaseReason ?? ''}`);
    await sleep(100);
  }
}

/** Polls `probe` until it returns something other than undefined. */
export async function waitUntil<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const started = Date.now();
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() - started > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(50);
  }
}

export interface AppProcess {
  pid: number;
  version: string;
  instance: number;
  port: number;
  /** the script node runs (the first argument) */
  script: string;
}

/**
 * The node processes of app instances whose environment holds the marker. The process target runs
 * each command through /bin/sh, whose environment is the same: only the node processes are kept.
 */
export function appProcesses(marker: string): AppProcess[] {
  const found: AppProcess[] = [];
  for (const { pid } of findProcessesByEnv('PROMOTE_TEST_MARKER', marker)) {
    try {
      if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() !== 'node') continue;
      const env = new Map(readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0').map((entry) => [entry.slice(0, entry.indexOf('=')), entry.slice(entry.indexOf('=') + 1)] as const));
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      found.push({ pid, version: env.get('PROMOTE_VERSION') ?? '', instance: Number(env.get('PROMOTE_INSTANCE')), port: Number(env.get('PORT')), script: argv[1] ?? '' });
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

export interface RouterInstanceView {
  version: string;
  url: string;
  ready: boolean;
  ejectedUntil: string | null;
  consecutiveFailures: number;
}

export async function routerInstances(adminPort: number): Promise<RouterInstanceView[]> {
  const response = await request(`http://127.0.0.1:${adminPort}/state`);
  return ((await response.body.json()) as { instances: RouterInstanceView[] }).instances;
}

/** The router's Prometheus counters of one metric, keyed `version instance[ class]`. */
export async function routerCounters(adminPort: number, metric: string): Promise<Map<string, number>> {
  const response = await request(`http://127.0.0.1:${adminPort}/metrics`);
  const text = await response.body.text();
  const counters = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${metric}{`)) continue;
    const labels = Object.fromEntries([...line.matchAll(/(\w+)="([^"]*)"/g)].map((match) => [match[1]!, match[2]!]));
    const key = [labels.version, labels.instance, labels.class].filter((part) => part !== undefined).join(' ');
    counters.set(key, Number(line.slice(line.lastIndexOf(' ') + 1)));
  }
  return counters;
}

export interface Failure {
  /** when the request was sent (ms epoch) */
  sentAt: number;
  /** the router's status, or 'no answer' when the connection broke */
  status: number | 'no answer';
  /** the router's X-Promote-Error, when it answered */
  error: string | undefined;
}

/**
 * `clients` loops of GETs through the router until stopped. Counts the answers by the version that
 * gave them (X-Promote-Version) and status, and keeps every request that did not get a 200.
 */
export function recordedLoad(url: string, clients: number): { seen: Map<string, number>; failures: Failure[]; stop(): Promise<void> } {
  const seen = new Map<string, number>();
  const failures: Failure[] = [];
  let running = true;
  const count = (key: string) => seen.set(key, (seen.get(key) ?? 0) + 1);
  const loops = Promise.all(
    Array.from({ length: clients }, async () => {
      while (running) {
        const sentAt = Date.now();
        try {
          const response = await request(url);
          await response.body.dump();
          count(`${String(response.headers['x-promote-version'] ?? '-')} ${response.statusCode}`);
          if (response.statusCode !== 200) failures.push({ sentAt, status: response.statusCode, error: response.headers['x-promote-error'] as string | undefined });
        } catch {
          count('no answer');
          failures.push({ sentAt, status: 'no answer', error: undefined });
          await sleep(20);
        }
      }
    }),
  );
  return {
    seen,
    failures,
    stop: async () => {
      running = false;
      await loops;
    },
  };
}

/**
 * test/fixtures/faulty-instance.ts bundled into `folder` as one .mjs that node runs as it is. The fault
 * proxy registers its cleanup with vitest when a test file loads it; in the instance's own process
 * there is no vitest, so that module is replaced by a no-op there (the instance closes its proxy itself).
 */
export async function faultyInstanceScript(folder: string): Promise<string> {
  const outfile = join(folder, 'faulty-instance.mjs');
  await build({
    entryPoints: [fileURLToPath(new URL('../fixtures/faulty-instance.ts', import.meta.url))],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    logLevel: 'error',
    plugins: [
      {
        name: 'no-vitest-in-the-instance',
        setup(bundler) {
          bundler.onResolve({ filter: /\/cleanup\.js$/ }, () => ({ path: 'cleanup', namespace: 'no-vitest' }));
          bundler.onLoad({ filter: /.*/, namespace: 'no-vitest' }, () => ({ contents: 'export function afterFile() {}', loader: 'js' }));
        },
      },
    ],
  });
  return outfile;
}
