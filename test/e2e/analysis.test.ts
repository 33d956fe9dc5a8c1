import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/system/processes.js';
import { collect, runInProcess, spawnCli } from '../helpers/cli.js';
import { createTestDatabase } from '../helpers/database.js';
import { stopDeployedVersions } from '../helpers/instances.js';
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
  let server: ReturnType<typeof spawnCli>;
  let output: ReturnType<typeof collect>;
  let loading = true;
  let load: Promise<void>;
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
    for (const version of versions) {
      await writeFile(join(folder, `${version}.tgz`), version);
      expect((await runInProcess(['release', 'create', version, '--artifact', `${version}.tgz`], { cwd: folder, env })).code).toBe(0);
    }
    server = spawnCli(['server', '--listen', `127.0.0.1:${apiPort}`], { cwd: folder, env: { ...env, PROMOTE_LOG_LEVEL: 'warn' } });
    output = collect(server);
    for (let waited = 0; waited < 15_000; waited += 100) {
      const up = await request(`http://127.0.0.1:${apiPort}/healthz`).then(async (response) => (await response.body.dump(), true), () => false);
      if (up) break;
      await sleep(100);
    }
    // steady load through the router from the start: 8 clients in a loop
    load = Promise.all(
      Array.from({ length: 8 }, async () => {
        while (loading) {
          try {
            const response = await request(`http://127.0.0.1:${routerPort}/`);
            await response.body.dump();
            const key = `${String(response.headers['x-promote-version'] ?? '-')} ${response.statusCode}`;
            seen.set(key, (seen.get(key) ?? 0) + 1);
          } catch {
            seen.set('refused', (seen.get('refused') ?? 0) + 1);
            await sleep(20);
          }
        }
      }),
    ).then(() => undefined);
  }, 40_000);

  afterAll(async () => {
    loading = false;
    await load;
    if (server.exitCode === null) server.kill('SIGTERM');
    await output;
    await stopDeployedVersions(folder, versions);
  });

  const api = async (method: 'GET' | 'POST', path: string, body?: unknown) => {
    const response = await request(`http://127.0.0.1:${apiPort}${path}`, { method, ...(body !== undefined ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } } : {}) });
    return (await response.body.json()) as Record<string, unknown>;
  };
  async function rollOut(version: string): Promise<{ id: number; phase: string; reason: string }> {
    const started = await api('POST', '/api/deploy', { environment: 'staging', version });
    expect(started.id, JSON.stringify(started)).toEqual(expect.any(Number));
    for (let waited = 0; waited < 60_000; waited += 200) {
      const rollout = await api('GET', `/api/rollouts/${String(started.id)}`);
      if (['Healthy', 'RolledBack', 'Degraded', 'Aborted', 'Paused'].includes(String(rollout.phase))) {
        return { id: started.id as number, phase: String(rollout.phase), reason: typeof rollout.phaseReason === 'string' ? rollout.phaseReason : '' };
      }
      await sleep(200);
    }
    throw new Error(`rollout of ${version} did not end: ${JSON.stringify(await api('GET', `/api/rollouts/${String(started.id)}`))}`);
  }
  const explain = async (id: number) => (await runInProcess(['explain', String(id)], { cwd: folder, env })).stdout;

  it('promotes the first release (nothing to compare with) and then a canary identical to stable', async () => {
    expect(await rollOut('v1')).toMatchObject({ phase: 'Healthy' });
    // until v1 served, the router had nowhere to send the load (503 without a version)
    seen.clear();
    const identical = await rollOut('v2');
    expect(identical, await explain(identical.id)).toMatchObject({ phase: 'Healthy' });
    const text = await explain(identical.id);
    expect(text).toMatch(/analysis r\d+\.a1\.s1\.startAnalysis: Successful/);
    expect(text).toMatch(/latency: \d+ measurement\(s\)/);
  }, 90_000);

  it('rolls back a canary answering 20% errors by itself, with the measurements that show why', async () => {
    const bad = await rollOut('v3-errors');
    expect(bad.phase).toBe('RolledBack');
    expect(bad.reason).toMatch(/errors failed|error-ratio failed/);
    const text = await explain(bad.id);
    expect(text).toMatch(/#1 \d\d:\d\d:\d\d Failed: value 0\.[12]\d* is not < 0\.05/);
    expect(text).toContain('candidate v3-errors');
    // the same evidence over the API, for the dashboard
    const measurements = (await (await request(`http://127.0.0.1:${apiPort}/api/rollouts/${bad.id}/measurements`)).body.json()) as Array<{ template: string; verdict: string; candidate: { version: string; value?: number } | null }>;
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
    const tail = await rollOut('v4-tail');
    const text = await explain(tail.id);
    expect(tail.phase, text).toBe('RolledBack');
    expect(tail.reason).toMatch(/tail failed/);
    // the median did not move: Mann-Whitney alone would have let it through
    expect(text).toMatch(/latency: \d+ measurement\(s\)/);
    expect(text).not.toMatch(/latency: \d+ measurement\(s\)[^\n]*Failed/);
  }, 90_000);
});
