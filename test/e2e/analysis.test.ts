import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/system/processes.js';
import type { ChildProcess } from 'node:child_process';
import { createTestDatabase } from '../helpers/database.js';
import { stopDeployedVersions } from '../helpers/instances.js';
import { apiClient, createReleases, explain, rollOut, startPromoteServer, steadyLoad, type Api } from '../helpers/promote-server.js';
import { scratchFolder } from '../helpers/scratch.js';

const app = fileURLToPath(new URL('../fixtures/canary-app.mjs', import.meta.url));
const versions = ['v1', 'v2', 'v3-errors', 'v4-tail'];

/**
 * Canary analysis end to end through `promote server` (API, controller and router in one process)
 * with real app processes under steady load: the router's own measurements judge each canary.
 */
describe('canary analysis through promote server', () => {
  let folder: string;
  let env: Record<string, string>;
  let apiPort: number;
  let routerPort: number;
  let server: ChildProcess | undefined;
  let output: Promise<unknown> | undefined;
  let api: Api;
  let load: { stop(): Promise<void> } | undefined;
  /** responses seen by the load, by version and status */
  const seen = new Map<string, number>();

  beforeAll(async () => {
    folder = await scratchFolder('promote-analysis-');
    env = { DATABASE_URL: (await createTestDatabase()).url };
    [apiPort, routerPort] = [await freePort(), await freePort()];
    const adminPort = await freePort();
    await writeFile(
      join(folder, 'promote.yaml'),
      `version: 1
app: { name: shop }
environments:
  - name: staging
    database: postgres://localhost/shop
    target: { type: process, command: "node ${app}", instances: 1, readiness: { path: /healthz, timeout: 10s, interval: 100ms }, drainTimeout: 2s }
    router: { listen: 127.0.0.1:${routerPort}, admin: 127.0.0.1:${adminPort} }
    strategy: canary
strategies:
  canary:
    type: canary
    steps:
      - setWeight: 50
      - analysis: { templates: [errors, error-ratio, latency, tail] }
      - promote: {}
analysis:
  templates:
    errors:
      provider: { type: builtin, metric: error_rate, window: 3s }
      judge: { type: threshold, condition: "value < 0.05", minSamples: 30 }
      interval: 1s
      count: 4
      initialDelay: 1s
    error-ratio:
      provider: { type: builtin, metric: error_rate, window: 3s }
      judge: { type: compare, test: twoProportion, allowedChange: 0.02, minSamples: 30 }
      interval: 1s
      count: 4
      initialDelay: 1s
    latency:
      provider: { type: builtin, metric: latency, window: 3s }
      judge: { type: compare, test: mannWhitney, minimumChange: 20, minSamples: 50 }
      interval: 1s
      count: 4
      initialDelay: 1s
    tail:
      provider: { type: builtin, metric: latency, window: 4s }
      judge: { type: compare, test: tail, quantile: 0.99, minimumChange: 20, minSamples: 200 }
      interval: 1s
      count: 4
      initialDelay: 1s
`,
    );
    await createReleases(folder, env, versions);
    ({ child: server, output } = await startPromoteServer(folder, env, apiPort));
    api = apiClient(apiPort);
    // steady load through the router from the start
    load = steadyLoad(`http://127.0.0.1:${routerPort}/`, 8, (response) => {
      const key = response === undefined ? 'refused' : `${String(response.headers['x-promote-version'] ?? '-')} ${response.statusCode}`;
      seen.set(key, (seen.get(key) ?? 0) + 1);
    });
  }, 40_000);

  afterAll(async () => {
    await load?.stop();
    if (server?.exitCode === null) server.kill('SIGTERM');
    await output;
    await stopDeployedVersions(folder, versions);
  });

  const explainText = (id: number) => explain(folder, env, id);

  it('promotes the first release (nothing to compare with) and then a canary identical to stable', async () => {
    expect(await rollOut(api, 'v1')).toMatchObject({ phase: 'Healthy' });
    // until v1 served, the router had nowhere to send the load (503 without a version)
    seen.clear();
    const identical = await rollOut(api, 'v2');
    expect(identical, await explainText(identical.id)).toMatchObject({ phase: 'Healthy' });
    const text = await explainText(identical.id);
    expect(text).toMatch(/analysis r\d+\.a1\.s1\.startAnalysis: Successful/);
    expect(text).toMatch(/latency: \d+ measurement\(s\)/);
  }, 90_000);

  it('rolls back a canary answering 20% errors by itself, with the measurements that show why', async () => {
    const bad = await rollOut(api, 'v3-errors');
    expect(bad.phase).toBe('RolledBack');
    expect(bad.reason).toMatch(/errors failed|error-ratio failed/);
    const text = await explainText(bad.id);
    // on a loaded machine the first look may still lack samples (NoData); the failing one comes next
    expect(text).toMatch(/#\d \d\d:\d\d:\d\d Failed: value 0\.[12]\d* is not < 0\.05/);
    expect(text).toContain('candidate v3-errors');
    // the same evidence over the API, for the dashboard
    const measurements = (await api('GET', `/api/rollouts/${bad.id}/measurements`)) as unknown as Array<{ template: string; verdict: string; candidate: { version: string; value?: number } | null }>;
    const failed = measurements.find((each) => each.template === 'errors' && each.verdict === 'Failed');
    expect(failed?.candidate?.version).toBe('v3-errors');
    expect(failed?.candidate?.value).toBeGreaterThan(0.05);
    // traffic is back on stable: the load reaches v3-errors no more, and nothing failed on the way but its own 500s
    const served = () => [...seen].filter(([key]) => key.startsWith('v3-errors')).reduce((sum, [, count]) => sum + count, 0);
    const before = served();
    await sleep(500);
    expect(served()).toBe(before);
    expect([...seen.keys()].filter((key) => !key.endsWith(' 200') && key !== 'v3-errors 500')).toEqual([]);
  }, 90_000);

  it('rolls back a canary whose slowdown is only in the tail, which Mann-Whitney alone would miss', async () => {
    const tail = await rollOut(api, 'v4-tail');
    const text = await explainText(tail.id);
    expect(tail.phase, text).toBe('RolledBack');
    expect(tail.reason).toMatch(/tail failed/);
    // the median did not move: Mann-Whitney alone would have let it through
    expect(text).toMatch(/latency: \d+ measurement\(s\)/);
    expect(text).not.toMatch(/latency: \d+ measurement\(s\)[^\n]*Failed/);
  }, 90_000);
});
