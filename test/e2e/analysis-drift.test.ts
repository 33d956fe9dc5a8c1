import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findProcessesByEnv, freePort } from '../../src/system/processes.js';
import { collect, runInProcess, spawnCli } from '../helpers/cli.js';
import { createTestDatabase } from '../helpers/database.js';
import { stopDeployedVersions } from '../helpers/instances.js';
import { scratchFolder } from '../helpers/scratch.js';

const app = fileURLToPath(new URL('../fixtures/canary-app.mjs', import.meta.url));
const versions = ['v1', 'v2', 'v3-drift'];
/** in the environment of every app instance of this file, so that a dying worker can find and kill them */
const marker = randomBytes(6).toString('hex');

interface Measured {
  seq: number;
  template: string;
  verdict: string;
  reason: string;
}

/**
 * A canary that gets slower the longer it serves (the fixture's -drift: +4 ms a second, like a leak)
 * through `promote server` under steady load: its first measurements pass, since it starts as fast as
 * stable, and the later ones fail once the drift is larger than the minimum change that counts, so it
 * is rolled back. The same analysis promotes a canary identical to stable, so it is not trigger-happy.
 */
describe('canary analysis of a slow drift', () => {
  let folder: string | undefined;
  let env: Record<string, string>;
  let apiPort: number;
  let routerPort: number;
  let server: ChildProcess | undefined;
  let output: ReturnType<typeof collect> | undefined;
  let loading = true;
  let load: Promise<void> = Promise.resolve();

  // cleanup at the top level of the describe (vitest drops an afterAll registered inside a hook); it
  // runs whatever failed. Should it not finish (a hook timeout), these kill what would be left behind
  // when the worker ends: vitest ends its workers with SIGTERM, which skips 'exit' unless handled
  const killLeftovers = () => {
    server?.kill('SIGKILL');
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
  afterAll(async () => {
    loading = false;
    await load;
    if (server && server.exitCode === null && server.signalCode === null) server.kill('SIGTERM');
    await output;
    if (folder !== undefined) await stopDeployedVersions(folder, versions);
    process.off('exit', killLeftovers);
    process.off('SIGTERM', onSignal);
  });

  beforeAll(async () => {
    folder = await scratchFolder('promote-analysis-drift-');
    env = { DATABASE_URL: (await createTestDatabase()).url };
    [apiPort, routerPort] = [await freePort(), await freePort()];
    const adminPort = await freePort();
    // the drift adds about 4 ms a second: the shift over a 3 s window passes 10 ms some 5 s after the
    // canary took its first request, and two failures (failureLimit 1) come well before 8 judged ones
    await writeFile(
      join(folder, 'promote.yaml'),
      `version: 1
app: { name: shop }
environments:
  - name: staging
    database: postgres://localhost/shop
    target: { type: process, command: "node ${app}", instances: 1, env: { PROMOTE_TEST_MARKER: "${marker}" }, readiness: { path: /healthz, timeout: 10s, interval: 100ms }, drainTimeout: 2s }
    router: { listen: 127.0.0.1:${routerPort}, admin: 127.0.0.1:${adminPort} }
    strategy: canary
strategies:
  canary:
    type: canary
    steps:
      - setWeight: 50
      - analysis: { templates: [latency] }
      - promote: {}
analysis:
  templates:
    latency:
      provider: { type: builtin, metric: latency, window: 3s }
      judge: { type: compare, test: mannWhitney, minimumChange: 10, minSamples: 50 }
      interval: 1s
      count: 8
      failureLimit: 1
      initialDelay: 1s
`,
    );
    for (const version of versions) {
      await writeFile(join(folder, `${version}.tgz`), version);
      expect((await runInProcess(['release', 'create', version, '--artifact', `${version}.tgz`], { cwd: folder, env })).code).toBe(0);
    }
    server = spawnCli(['server', '--listen', `127.0.0.1:${apiPort}`], { cwd: folder, env: { ...env, PROMOTE_LOG_LEVEL: 'warn' } });
    output = collect(server);
    let up = false;
    for (let waited = 0; waited < 15_000 && !up; waited += 100) {
      up = await request(`http://127.0.0.1:${apiPort}/healthz`).then(async (response) => (await response.body.dump(), true), () => false);
      if (!up) await sleep(100);
    }
    if (!up) throw new Error(`promote server did not answer on ${apiPort}: ${JSON.stringify(await (server.kill('SIGTERM'), output))}`);
    // steady load through the router from the start: 8 clients in a loop
    load = Promise.all(
      Array.from({ length: 8 }, async () => {
        while (loading) {
          try {
            await (await request(`http://127.0.0.1:${routerPort}/`)).body.dump();
          } catch {
            await sleep(20);
          }
        }
      }),
    ).then(() => undefined);
  }, 40_000);

  const api = async (method: 'GET' | 'POST', path: string, body?: unknown) => {
    const response = await request(`http://127.0.0.1:${apiPort}${path}`, { method, ...(body !== undefined ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } } : {}) });
    return (await response.body.json()) as Record<string, unknown>;
  };
  async function rollOut(version: string): Promise<{ id: number; phase: string; reason: string }> {
    const started = await api('POST', '/api/deploy', { environment: 'staging', version });
    expect(started.id, JSON.stringify(started)).toEqual(expect.any(Number));
    for (let waited = 0; waited < 40_000; waited += 200) {
      const rollout = await api('GET', `/api/rollouts/${String(started.id)}`);
      if (['Healthy', 'RolledBack', 'Degraded', 'Aborted', 'Paused'].includes(String(rollout.phase))) {
        return { id: started.id as number, phase: String(rollout.phase), reason: typeof rollout.phaseReason === 'string' ? rollout.phaseReason : '' };
      }
      await sleep(200);
    }
    throw new Error(`rollout of ${version} did not end: ${JSON.stringify(await api('GET', `/api/rollouts/${String(started.id)}`))}`);
  }
  const explain = async (id: number) => (await runInProcess(['explain', String(id), '--all'], { cwd: folder!, env })).stdout;
  const measurements = async (id: number) => {
    const text = (await runInProcess(['explain', String(id), '--json'], { cwd: folder!, env })).stdout;
    return (JSON.parse(text) as { measurements: Measured[] }).measurements.filter((each) => each.template === 'latency').sort((a, b) => a.seq - b.seq);
  };

  it('promotes the first release and then a canary identical to stable with the same analysis', async () => {
    expect(await rollOut('v1')).toMatchObject({ phase: 'Healthy' });
    const identical = await rollOut('v2');
    const text = await explain(identical.id);
    expect(identical.phase, text).toBe('Healthy');
    const taken = await measurements(identical.id);
    // all eight judged, none failed
    expect(taken.filter((each) => each.verdict === 'Successful').length, text).toBe(8);
    expect(taken.filter((each) => each.verdict === 'Failed'), text).toEqual([]);
  }, 50_000);

  it('rolls back a canary whose latency drifts up: early measurements pass, later ones fail', async () => {
    const drift = await rollOut('v3-drift');
    const text = await explain(drift.id);
    expect(drift.phase, text).toBe('RolledBack');
    expect(drift.reason, text).toMatch(/^analysis failed: latency failed: .*2 failed measurement\(s\), 1 tolerated; last: Mann-Whitney: candidate \+/);

    const judged = (await measurements(drift.id)).filter((each) => each.verdict !== 'NoData');
    const verdicts = judged.map((each) => each.verdict);
    // it started fast: the first judged measurement passed, with a real shift too small to count or none
    expect(verdicts[0], text).toBe('Successful');
    // then it got slower and slower: once failing it never passed again, and it failed twice
    expect(verdicts.slice(verdicts.indexOf('Failed')), text).toEqual(['Failed', 'Failed']);
    expect(verdicts.every((verdict) => verdict === 'Successful' || verdict === 'Failed'), text).toBe(true);
    expect(judged.at(-1)!.reason, text).toMatch(/a real increase beyond the allowed \+10%/);
    expect(text).toMatch(/latency: \d+ measurement\(s\), .*2 Failed/);
  }, 50_000);
});
