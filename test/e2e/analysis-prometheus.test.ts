/**
 * A Prometheus outage during canary analysis, end to end: `promote server` with two environments
 * under steady load, a real Prometheus (Debian's package; .ci/run installs it) scraping both routers'
 * admin /metrics every second, and an analysis template on the per-version error ratio. Prometheus
 * is stopped in the middle of an analysis: the measurements are Errors, the rollout holds its weights
 * and goes on once Prometheus is back on the same port and data; only an outage longer than the
 * template's error budget fails the analysis. Prometheus, the server and the app instances are this
 * file's children: stopped after the tests, and killed on exit, whatever failed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/system/processes.js';
import { createTestDatabase } from '../helpers/database.js';
import { stopDeployedVersions } from '../helpers/instances.js';
import { apiClient, createReleases, explain, killLeftoversOnExit, startPromoteServer, steadyLoad, type Api } from '../helpers/promote-server.js';
import { scratchFolder } from '../helpers/scratch.js';

const prometheusBin = process.env.PROMETHEUS_BIN ?? '/usr/bin/prometheus';
const app = fileURLToPath(new URL('../fixtures/canary-app.mjs', import.meta.url));
const versions = ['v1', 'v2'];
const environments = ['staging', 'production'] as const;
type Environment = (typeof environments)[number];
/** in the environment of every app instance of this file, so that a dying worker can find and kill them */
const marker = randomBytes(6).toString('hex');
/** the share of a version's requests in one environment that failed over the last 10 s */
const errorRatio =
  'sum(rate(promote_router_requests_total{environment="{{environment}}",version="{{version}}",class=~"5xx|error"}[10s]))' +
  ' / sum(rate(promote_router_requests_total{environment="{{environment}}",version="{{version}}"}[10s]))';

interface Measured {
  seq: number;
  template: string;
  verdict: string;
  reason: string;
  takenAt: string;
}
interface RolloutView {
  id: number;
  phase: string;
  phaseReason: string | null;
  weights: Record<string, number>;
}

describe('canary analysis through a Prometheus outage', () => {
  let folder: string | undefined;
  let env: Record<string, string>;
  let apiPort: number;
  let prometheusPort: number;
  let prometheusArgs: string[];
  let prometheus: ChildProcess | undefined;
  let prometheusExited: Promise<void> = Promise.resolve();
  let server: ChildProcess | undefined;
  let output: Promise<unknown> | undefined;
  let api: Api;
  let loads: Array<{ stop(): Promise<void> }> = [];
  /** responses the load saw, by environment and version */
  const served = new Map<string, number>();

  // cleanup at the top level of the describe (vitest drops an afterAll registered inside a hook); it
  // runs whatever failed. Should it not finish (a hook timeout), these kill what would be left behind
  // when the worker ends: vitest ends its workers with SIGTERM, which skips 'exit' unless handled
  const disarm = killLeftoversOnExit(marker, () => [prometheus, server]);
  afterAll(async () => {
    await Promise.all(loads.map((load) => load.stop()));
    if (server && server.exitCode === null && server.signalCode === null) server.kill('SIGTERM');
    await output;
    await stopPrometheus();
    if (folder !== undefined) await stopDeployedVersions(folder, versions);
    disarm();
  });

  beforeAll(async () => {
    if (!existsSync(prometheusBin)) {
      throw new Error(`no Prometheus at ${prometheusBin}: this test needs a real one. .ci/run installs it (apt-get install -y prometheus); or set PROMETHEUS_BIN`);
    }
    folder = await scratchFolder('promote-analysis-prometheus-');
    env = { DATABASE_URL: (await createTestDatabase()).url };
    apiPort = await freePort();
    prometheusPort = await freePort();
    const ports = { staging: { router: await freePort(), admin: await freePort() }, production: { router: await freePort(), admin: await freePort() } };
    // staging waits out a long outage (60 s of errors), production only 3 s
    const environment = (name: Environment) => `  - name: ${name}
    database: postgres://localhost/shop
    target: { type: process, command: "node ${app}", instances: 1, env: { PROMOTE_TEST_MARKER: "${marker}" }, readiness: { path: /healthz, timeout: 10s, interval: 100ms }, drainTimeout: 2s }
    router: { listen: 127.0.0.1:${ports[name].router}, admin: 127.0.0.1:${ports[name].admin} }
    strategy: ${name}
`;
    const strategy = (name: Environment) => `  ${name}:
    type: canary
    steps:
      - setWeight: 50
      - analysis: { templates: [errors-${name}] }
      - promote: {}
`;
    const template = (name: Environment, errorBudget: string) => `    errors-${name}:
      provider: { type: prometheus, address: "http://127.0.0.1:${prometheusPort}", query: '${errorRatio}', timeout: 2s }
      judge: { type: threshold, condition: "value < 0.05" }
      interval: 1s
      count: 6
      initialDelay: 2s
      errorBudget: ${errorBudget}
`;
    await writeFile(
      join(folder, 'promote.yaml'),
      `version: 1\napp: { name: shop }\nenvironments:\n${environment('staging')}${environment('production')}` +
        `strategies:\n${strategy('staging')}${strategy('production')}` +
        `analysis:\n  templates:\n${template('staging', '60s')}${template('production', '3s')}`,
    );
    await createReleases(folder, env, versions);

    // Prometheus scrapes both routers' admin ports every second, each labelled with its environment
    const config = join(folder, 'prometheus.yml');
    await writeFile(
      config,
      `global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: router\n    static_configs:\n` +
        environments.map((name) => `      - targets: ['127.0.0.1:${ports[name].admin}']\n        labels: { environment: ${name} }\n`).join(''),
    );
    prometheusArgs = ['--config.file', config, '--storage.tsdb.path', join(folder, 'prometheus-data'), '--web.listen-address', `127.0.0.1:${prometheusPort}`, '--log.level', 'warn'];
    await startPrometheus();

    ({ child: server, output } = await startPromoteServer(folder, env, apiPort));
    api = apiClient(apiPort);
    // steady load through both routers from the start: 4 clients each
    loads = environments.map((name) =>
      steadyLoad(`http://127.0.0.1:${ports[name].router}/`, 4, (response) => {
        if (response === undefined) return;
        const key = `${name} ${String(response.headers['x-promote-version'] ?? '-')}`;
        served.set(key, (served.get(key) ?? 0) + 1);
      }),
    );

    // v1 is the first release in both (production does not wait for staging here: the gate is skipped)
    const first = await Promise.all(environments.map(async (name) => finish(await deploy(name, 'v1'))));
    expect(first.map((each) => each.phase), JSON.stringify(first)).toEqual(['Healthy', 'Healthy']);
  }, 60_000);

  async function startPrometheus(): Promise<void> {
    const log: string[] = [];
    const started = spawn(prometheusBin, prometheusArgs, { stdio: ['ignore', 'ignore', 'pipe'] });
    prometheus = started;
    prometheusExited = new Promise((resolve) => started.once('exit', () => resolve()));
    started.stderr.on('data', (chunk: Buffer) => log.push(...chunk.toString().trim().split('\n')));
    const ready = await until(async () => (await request(`http://127.0.0.1:${prometheusPort}/-/ready`, { reset: true })).statusCode === 200, 15_000, () => started.exitCode !== null);
    if (!ready) throw new Error(`Prometheus did not become ready on port ${prometheusPort}:\n${log.slice(-20).join('\n')}`);
  }

  const prometheusRunning = () => prometheus !== undefined && prometheus.exitCode === null && prometheus.signalCode === null;
  async function stopPrometheus(): Promise<void> {
    const running = prometheus;
    if (running === undefined || !prometheusRunning()) return;
    running.kill('SIGTERM');
    const timer = setTimeout(() => running.kill('SIGKILL'), 5_000);
    await prometheusExited;
    clearTimeout(timer);
  }

  async function until(check: () => Promise<boolean>, ms: number, giveUp: () => boolean = () => false): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline && !giveUp()) {
      if (await check().catch(() => false)) return true;
      await sleep(100);
    }
    return false;
  }

  const rollout = async (id: number) => (await api('GET', `/api/rollouts/${id}`)) as unknown as RolloutView;
  async function deploy(environment: Environment, version: string): Promise<number> {
    const gate = environment === 'production' ? { skipEnvironmentGate: 'each outage case starts from its own environment' } : {};
    const started = await api('POST', '/api/deploy', { environment, version, ...gate });
    expect(started.id, JSON.stringify(started)).toEqual(expect.any(Number));
    return started.id as number;
  }
  async function finish(id: number): Promise<RolloutView> {
    for (let waited = 0; waited < 40_000; waited += 200) {
      const current = await rollout(id);
      if (['Healthy', 'RolledBack', 'Degraded', 'Aborted', 'Paused'].includes(current.phase)) return current;
      await sleep(200);
    }
    throw new Error(`rollout #${id} did not end: ${JSON.stringify(await rollout(id))}`);
  }
  const explainText = (id: number) => explain(folder!, env, id, '--all');
  const measurements = async (id: number): Promise<Measured[]> => {
    const text = await explain(folder!, env, id, '--json');
    return (JSON.parse(text) as { measurements: Measured[] }).measurements.sort((a, b) => a.seq - b.seq);
  };
  const verdicts = async (id: number) => (await measurements(id)).map((each) => each.verdict);
  const successes = async (id: number) => (await verdicts(id)).filter((verdict) => verdict === 'Successful').length;
  const refused = () => new RegExp(`Error: prometheus http://127\\.0\\.0\\.1:${prometheusPort}: query "[^\\n]*": connect ECONNREFUSED 127\\.0\\.0\\.1:${prometheusPort}`);

  it('holds the rollout at its weights while Prometheus is down, and finishes it once Prometheus is back', async () => {
    const id = await deploy('staging', 'v2');
    expect(await until(async () => (await successes(id)) >= 2, 20_000), await explainText(id)).toBe(true);
    const before = await rollout(id);
    expect(before).toMatchObject({ phase: 'Progressing', weights: { v1: 50, v2: 50 } });

    await stopPrometheus();
    const v2Before = served.get('staging v2') ?? 0;
    // six seconds without Prometheus: six failed tries at an interval of 1 s, and the rollout stays put
    for (let waited = 0; waited < 6_000; waited += 250) {
      const now = await rollout(id);
      expect(now.phase, await explainText(id)).toBe('Progressing');
      expect(now.weights).toEqual(before.weights);
      await sleep(250);
    }
    const during = await measurements(id);
    const errors = during.filter((each) => each.verdict === 'Error');
    expect(errors.length, await explainText(id)).toBeGreaterThanOrEqual(4);
    expect(during.filter((each) => each.verdict === 'Failed')).toEqual([]);
    const text = await explainText(id);
    expect(text).toMatch(/analysis r\d+\.a1\.s1\.startAnalysis \(still running\)/);
    expect(text).toMatch(refused());
    // the canary kept its share of the traffic meanwhile
    expect((served.get('staging v2') ?? 0) - v2Before).toBeGreaterThan(100);

    // back on the same port and data; its first scrapes come some 5 s after it is ready (Prometheus
    // throttles target updates), and until the 10 s rate has points the measurements are NoData, which only waits
    await startPrometheus();
    const done = await finish(id);
    const after = await explainText(id);
    expect(done, after).toMatchObject({ phase: 'Healthy', weights: { v2: 100 } });
    const all = await verdicts(id);
    // six judged measurements in all, some before the outage and some after it; the errors in between held the run
    expect(all.filter((verdict) => verdict === 'Successful')).toHaveLength(6);
    expect(all.lastIndexOf('Error')).toBeGreaterThan(all.indexOf('Successful'));
    expect(all.lastIndexOf('Successful')).toBeGreaterThan(all.lastIndexOf('Error'));
    expect(after).toMatch(/analysis r\d+\.a1\.s1\.startAnalysis: Successful, score 100: errors-staging successful: 6 of 6 measurements passed/);
    expect(after).toMatch(/errors-staging: \d+ measurement\(s\), .*\d+ Error/);
  }, 60_000);

  it('rolls back when the outage outlasts the error budget, and not before', async () => {
    if (!prometheusRunning()) await startPrometheus();
    const id = await deploy('production', 'v2');
    expect(await until(async () => (await successes(id)) >= 1, 20_000), await explainText(id)).toBe(true);

    await stopPrometheus();
    const stoppedAt = Date.now();
    const done = await finish(id);
    const rolledBackAfter = Date.now() - stoppedAt;
    const text = await explainText(id);
    expect(done, text).toMatchObject({ phase: 'RolledBack', weights: { v1: 100 } });
    expect(done.phaseReason).toMatch(
      new RegExp(`^analysis failed: errors-production failed: the provider kept failing for 3s(\\d+ms)? \\(error budget 3s\\); last: prometheus http://127\\.0\\.0\\.1:${prometheusPort}: query .*: connect ECONNREFUSED`),
    );
    // the errors alone did it, once they had lasted 3 s: no measurement failed, and the first errors only held the run
    expect(rolledBackAfter).toBeGreaterThanOrEqual(3_000);
    const all = await verdicts(id);
    expect(all).not.toContain('Failed');
    const errors = all.slice(all.indexOf('Error'));
    // errors at an interval of 1 s: the fourth is 3 s after the first (the third too, had a measurement come late)
    expect(errors.length, text).toBeGreaterThanOrEqual(3);
    expect(errors.every((verdict) => verdict === 'Error'), text).toBe(true);
    expect(text).toMatch(refused());
  }, 40_000);
});
