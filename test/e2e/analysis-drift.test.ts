import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/system/processes.js';
import { createTestDatabase } from '../helpers/database.js';
import { stopDeployedVersions } from '../helpers/instances.js';
import { apiClient, createReleases, explain, killLeftoversOnExit, rollOut, startPromoteServer, steadyLoad, type Api } from '../helpers/promote-server.js';
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
  let output: Promise<unknown> | undefined;
  let api: Api;
  let load: { stop(): Promise<void> } | undefined;

  // cleanup at the top level of the describe (vitest drops an afterAll registered inside a hook)
  const disarm = killLeftoversOnExit(marker, () => [server]);
  afterAll(async () => {
    await load?.stop();
    if (server && server.exitCode === null && server.signalCode === null) server.kill('SIGTERM');
    await output;
    if (folder !== undefined) await stopDeployedVersions(folder, versions);
    disarm();
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
    await createReleases(folder, env, versions);
    ({ child: server, output } = await startPromoteServer(folder, env, apiPort));
    api = apiClient(apiPort);
    // steady load through the router from the start
    load = steadyLoad(`http://127.0.0.1:${routerPort}/`, 8);
  }, 40_000);

  const explainText = (id: number) => explain(folder!, env, id, '--all');
  const measurements = async (id: number) => {
    const text = await explain(folder!, env, id, '--json');
    return (JSON.parse(text) as { measurements: Measured[] }).measurements.filter((each) => each.template === 'latency').sort((a, b) => a.seq - b.seq);
  };

  it('promotes the first release and then a canary identical to stable with the same analysis', async () => {
    expect(await rollOut(api, 'v1')).toMatchObject({ phase: 'Healthy' });
    const identical = await rollOut(api, 'v2');
    const text = await explainText(identical.id);
    expect(identical.phase, text).toBe('Healthy');
    const taken = await measurements(identical.id);
    // all eight judged, none failed
    expect(taken.filter((each) => each.verdict === 'Successful').length, text).toBe(8);
    expect(taken.filter((each) => each.verdict === 'Failed'), text).toEqual([]);
  }, 50_000);

  it('rolls back a canary whose latency drifts up: early measurements pass, later ones fail', async () => {
    const drift = await rollOut(api, 'v3-drift');
    const text = await explainText(drift.id);
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
