/**
 * Faults during a canary, end to end through `promote server` (API, controller and router in one
 * process) with real app processes from the process target and steady GET load through the router:
 *
 * 1. a canary instance SIGKILLed and a stable instance hung (SIGSTOP) while the canary is at 50% with
 *    background analysis: the router routes around both without failing a GET (a connect failure or
 *    a reset moves the request; so does an instance that has not answered within the answer timeout),
 *    the process target restarts both, and the rollout ends as its measurements say;
 * 2. latency, jitter and connection resets between the router and the canary's instances only (a
 *    seeded fault proxy inside each canary instance): analysis fails the canary and the rollout rolls
 *    back by itself, while stable answers every request it was sent.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, isRunning } from '../../src/system/processes.js';
import { createTestDatabase } from '../helpers/database.js';
import { createReleases, servePromote, stopServed, type Api, type ServedFolder } from '../helpers/promote-server.js';
import { scratchFolder } from '../helpers/scratch.js';
import {
  appProcesses,
  ENDED,
  faultyInstanceScript,
  recordedLoad,
  routerCounters,
  routerInstances,
  waitForRollout,
  waitUntil,
  type MeasurementView,
} from '../helpers/canary-faults.js';

const canaryApp = fileURLToPath(new URL('../fixtures/canary-app.mjs', import.meta.url));

/** promote.yaml of one environment `staging` on the process target. */
async function writeSpecs(folder: string, options: { target: string; router: string; steps: string; analysis: string }): Promise<void> {
  const environment = `  - name: staging
    database: postgres://localhost/shop
    target: ${options.target}
    router: ${options.router}
    strategy: canary`;
  await writeFile(join(folder, 'promote.yaml'), `version: 1\napp: { name: shop }\nenvironments:\n${environment}\nstrategies:\n  canary:\n    type: canary\n    steps:\n${options.steps}\nanalysis:\n  templates:\n${options.analysis}`);
}

/** The first release through the canary plan: nothing to compare it with, so each pause is resumed at once. */
async function putOutAlone(api: Api, version: string): Promise<void> {
  const started = (await api('POST', '/api/deploy', { environment: 'staging', version })) as unknown as { id: number };
  for (;;) {
    const rollout = await waitForRollout(api, started.id, 'a pause or its end', (each) => each.phase === 'Paused' || ENDED.includes(each.phase));
    if (rollout.phase !== 'Paused') {
      if (rollout.phase !== 'Healthy') throw new Error(`the first release ${version} ended ${rollout.phase}: ${rollout.phaseReason ?? ''}`);
      return;
    }
    await api('POST', '/api/environments/staging/resume', { reason: 'first release' });
    await waitForRollout(api, started.id, 'the resume', (each) => each.phase !== 'Paused' || each.currentStep !== rollout.currentStep);
  }
}

describe('a canary instance crashes and a stable instance hangs while the canary takes 50%', () => {
  let folder: string;
  let env: Record<string, string>;
  let routerPort: number;
  let adminPort: number;
  let served: ServedFolder | undefined;
  let api: Api;
  let load: ReturnType<typeof recordedLoad> | undefined;
  let hung: number | undefined;
  const marker = `canary-faults-crash-${process.pid}`;

  beforeAll(async () => {
    folder = await scratchFolder('promote-canary-crash-');
    env = { DATABASE_URL: (await createTestDatabase()).url, PROMOTE_ACTOR: 'release-bot' };
    const apiPort = await freePort();
    [routerPort, adminPort] = [await freePort(), await freePort()];
    // the router's health checks run every second with a 3 s timeout (readiness interval and timeout,
    // bounded); a request waits 3 s for an answer, a GET 500 ms before it moves to the version's other
    // instance. Liveness gives up on a silent instance only after 10 probes a second apart, so the
    // router has to take the hung one out by itself first
    await writeSpecs(folder, {
      target: `{ type: process, command: "node ${canaryApp}", instances: 2, env: { PROMOTE_TEST_MARKER: ${marker} }, readiness: { path: /healthz, timeout: 3s, interval: 100ms }, liveness: { interval: 1s, failureThreshold: 10 }, drainTimeout: 1s }`,
      router: `{ listen: 127.0.0.1:${routerPort}, admin: 127.0.0.1:${adminPort}, timeouts: { request: 3s, answer: 500ms } }`,
      steps: `      - setWeight: 50
      - analysis: { templates: [errors, error-ratio], background: true, continuous: true }
      - pause: {}
      - promote: {}
`,
      analysis: `    errors:
      provider: { type: builtin, metric: error_rate, window: 2s }
      judge: { type: threshold, condition: "value < 0.01", minSamples: 20 }
      interval: 1s
      initialDelay: 1s
    error-ratio:
      provider: { type: builtin, metric: error_rate, window: 3s }
      judge: { type: compare, test: twoProportion, allowedChange: 0.02, minSamples: 30 }
      interval: 1s
      initialDelay: 1s
`,
    });
    await createReleases(folder, env, ['v1', 'v2']);
    served = await servePromote(folder, env, apiPort, marker);
    api = served.api;
    // v1 goes out through this server, whose process target then supervises (and restarts) its
    // instances: a version an earlier controller deployed is not supervised until a rollout asks for it
    await putOutAlone(api, 'v1');
  }, 60_000);

  afterAll(async () => {
    if (hung !== undefined && isRunning(hung)) process.kill(hung, 'SIGCONT');
    await load?.stop();
    await stopServed(served, folder, ['v1', 'v2']);
  });

  it('routes around both without failing a GET, restarts both, and ends as the analysis says', async () => {
    load = recordedLoad(`http://127.0.0.1:${routerPort}/`, 4);
    const started = (await api('POST', '/api/deploy', { environment: 'staging', version: 'v2' })) as unknown as { id: number };
    await waitForRollout(api, started.id, 'the pause at 50%', (rollout) => rollout.phase === 'Paused' && rollout.currentStep === 2);
    const instanceOf = (version: string, index: number) => appProcesses(marker).find((each) => each.version === version && each.instance === index);

    // the crash: SIGKILL one of the canary's two instances, in the middle of the load
    const crashed = instanceOf('v2', 0)!;
    const crashedUrl = `http://127.0.0.1:${crashed.port}`;
    process.kill(crashed.pid, 'SIGKILL');
    const replacement = await waitUntil('the process target restarting the crashed instance', () => {
      const now = instanceOf('v2', 0);
      return now !== undefined && now.pid !== crashed.pid ? now : undefined;
    });
    expect(replacement.port).toBe(crashed.port);
    await waitUntil('the restarted instance back in the router', async () => {
      const view = (await routerInstances(adminPort)).find((each) => each.url === crashedUrl);
      return view?.ready === true && view.ejectedUntil === null && view.consecutiveFailures === 0 ? true : undefined;
    });
    // what the router promises for a dead instance: a request that could not connect, or was reset
    // before its answer began, goes to the other instance; none of them failed
    expect(load.failures).toEqual([]);
    const canaryConnectErrors = (await routerCounters(adminPort, 'promote_router_upstream_connect_errors_total')).get(`v2 ${crashedUrl}`) ?? 0;
    const canaryRetries = (await routerCounters(adminPort, 'promote_router_retries_total')).get(`v2 ${crashedUrl}`) ?? 0;
    expect(canaryConnectErrors + canaryRetries, 'the load reached the dead instance').toBeGreaterThan(0);

    // the hang: SIGSTOP one of stable's two instances; it still accepts connections but never answers
    const stopped = instanceOf('v1', 1)!;
    const stoppedUrl = `http://127.0.0.1:${stopped.port}`;
    hung = stopped.pid;
    process.kill(stopped.pid, 'SIGSTOP');
    await waitUntil('the router taking the hung instance out', async () => ((await routerInstances(adminPort)).find((each) => each.url === stoppedUrl)?.ready === false ? Date.now() : undefined));
    // the process target gives up on it after its liveness probes, kills it and starts it again
    const restarted = await waitUntil('the process target replacing the hung instance', () => {
      const now = instanceOf('v1', 1);
      return now !== undefined && now.pid !== stopped.pid && !isRunning(stopped.pid) ? now : undefined;
    }, 40_000);
    hung = undefined;
    expect(restarted.port).toBe(stopped.port);
    await waitUntil('the replaced instance back in the router', async () => ((await routerInstances(adminPort)).find((each) => each.url === stoppedUrl)?.ready === true ? true : undefined));

    // what the router promises for a hung instance: a GET sent there that has no answer after 500 ms
    // goes to stable's other instance (never to the canary: the weights chose stable), the timeouts
    // eject it like refused connections would, and the health checks take it out: no GET failed
    expect(load.failures).toEqual([]);
    const stoppedTimeouts = (await routerCounters(adminPort, 'promote_router_upstream_answer_timeouts_total')).get(`v1 ${stoppedUrl}`) ?? 0;
    const stoppedRetries = (await routerCounters(adminPort, 'promote_router_retries_total')).get(`v1 ${stoppedUrl}`) ?? 0;
    expect(stoppedTimeouts, 'the load reached the hung instance').toBeGreaterThan(0);
    expect(stoppedRetries).toBe(stoppedTimeouts);
    const served = await routerCounters(adminPort, 'promote_router_requests_total');
    // and the router itself answered none of them with an error, on any instance
    const failed = [...served].filter(([key, count]) => count > 0 && (key.endsWith(' error') || key.endsWith(' 5xx')));
    expect(failed).toEqual([]);

    // the faults hit stable, not the canary: analysis had nothing against v2, so it goes on to promote
    expect(await api('POST', '/api/environments/staging/resume', { reason: 'faults survived' })).not.toHaveProperty('error');
    const ended = await waitForRollout(api, started.id, 'its end', (rollout) => ENDED.includes(rollout.phase));
    const measurements = (await api('GET', `/api/rollouts/${started.id}/measurements`)) as unknown as MeasurementView[];
    const verdicts = new Set(measurements.map((each) => each.verdict));
    expect(measurements.filter((each) => each.verdict === 'Successful').length).toBeGreaterThanOrEqual(4);
    // consistent with what was measured: no failed measurement, and the rollout ended Healthy
    expect(verdicts.has('Failed') || verdicts.has('Error'), JSON.stringify(measurements)).toBe(false);
    expect(ended, ended.phaseReason ?? '').toMatchObject({ phase: 'Healthy', weights: { v2: 100, v1: 0 } });
    await load.stop();
    expect(load.seen.get('v2 200')).toBeGreaterThan(100);
  }, 90_000);
});

describe('latency, jitter and resets between the router and the canary only', () => {
  let folder: string;
  let env: Record<string, string>;
  let routerPort: number;
  let adminPort: number;
  let served: ServedFolder | undefined;
  let api: Api;
  let load: ReturnType<typeof recordedLoad> | undefined;
  const marker = `canary-faults-network-${process.pid}`;
  // per connection to a canary instance: each chunk back is 40 ± 20 ms late, and half the connections
  // are reset once about 1 kB has crossed them (the third exchange or so), mid-answer or between two
  const faults = { latency: { ms: 40, jitterMs: 20 }, reset: { probability: 0.5, afterBytes: 1000 } };

  beforeAll(async () => {
    folder = await scratchFolder('promote-canary-network-');
    env = { DATABASE_URL: (await createTestDatabase()).url, PROMOTE_ACTOR: 'release-bot' };
    const apiPort = await freePort();
    [routerPort, adminPort] = [await freePort(), await freePort()];
    const instance = await faultyInstanceScript(folder);
    await writeSpecs(folder, {
      target: `{ type: process, command: "node ${instance} ${canaryApp}", instances: 2, env: { PROMOTE_TEST_MARKER: ${marker}, FAULTY_VERSION: v2, FAULTY_SEED: 20261123, FAULTY_FAULTS: '${JSON.stringify(faults)}' }, readiness: { path: /healthz, timeout: 10s, interval: 100ms }, drainTimeout: 2s }`,
      router: `{ listen: 127.0.0.1:${routerPort}, admin: 127.0.0.1:${adminPort}, timeouts: { request: 5s } }`,
      steps: `      - setWeight: 50
      - analysis: { templates: [errors, latency] }
      - promote: {}
`,
      analysis: `    errors:
      provider: { type: builtin, metric: error_rate, window: 2s }
      judge: { type: threshold, condition: "value < 0.02", minSamples: 20 }
      interval: 1s
      count: 5
      initialDelay: 1s
    latency:
      provider: { type: builtin, metric: latency, window: 2s }
      judge: { type: compare, test: mannWhitney, minimumChange: 20, minSamples: 50 }
      interval: 1s
      count: 5
      initialDelay: 1s
`,
    });
    await createReleases(folder, env, ['v1', 'v2']);
    served = await servePromote(folder, env, apiPort, marker);
    api = served.api;
    await putOutAlone(api, 'v1');
  }, 60_000);

  afterAll(async () => {
    await load?.stop();
    await stopServed(served, folder, ['v1', 'v2']);
  });

  it('fails the canary on its measurements and rolls back by itself; every request sent to stable is answered', async () => {
    // both versions run behind a proxy; only the canary's has faults
    const running = appProcesses(marker);
    expect(running.filter((each) => each.version === 'v1' && each.script === join(folder, 'faulty-instance.mjs')).length).toBe(2);
    load = recordedLoad(`http://127.0.0.1:${routerPort}/`, 4);
    const started = (await api('POST', '/api/deploy', { environment: 'staging', version: 'v2' })) as unknown as { id: number };
    const ended = await waitForRollout(api, started.id, 'its end', (rollout) => ENDED.includes(rollout.phase), 40_000);
    const measurements = (await api('GET', `/api/rollouts/${started.id}/measurements`)) as unknown as MeasurementView[];

    // rolled back by itself, for a measurement that failed: the canary's error rate or its latency (the
    // latency, in practice: the router retries most resets, so the error rate barely moves)
    expect(ended, JSON.stringify(measurements)).toMatchObject({ phase: 'RolledBack', weights: { v1: 100, v2: 0 } });
    const failed = measurements.filter((each) => each.verdict === 'Failed');
    expect(failed.length, JSON.stringify(measurements)).toBeGreaterThan(0);
    expect(ended.phaseReason).toMatch(new RegExp(`(${[...new Set(failed.map((each) => each.template))].join('|')}) failed`));
    for (const each of failed) {
      expect(each.candidate?.version).toBe('v2');
      if (each.template === 'errors') expect(each.candidate?.value).toBeGreaterThanOrEqual(0.02);
    }

    // traffic is back on stable: the canary gets no more requests
    const served = () => [...load!.seen].filter(([key]) => key.startsWith('v2 ')).reduce((sum, [, count]) => sum + count, 0);
    const before = served();
    await sleep(500);
    expect(served()).toBe(before);
    await load.stop();

    // stable was unaffected: every answer from v1 was a 200, and the router counted no failure against it
    const seen = Object.fromEntries(load.seen);
    expect(Object.keys(seen).filter((key) => key.startsWith('v1 ') && key !== 'v1 200'), JSON.stringify(seen)).toEqual([]);
    expect(seen['v1 200']).toBeGreaterThan(100);
    const counted = await routerCounters(adminPort, 'promote_router_requests_total');
    const failuresOf = (version: string) => [...counted].filter(([key]) => key.startsWith(`${version} `) && (key.endsWith(' error') || key.endsWith(' 5xx'))).reduce((sum, [, count]) => sum + count, 0);
    expect(failuresOf('v1')).toBe(0);
    // the resets reached the router: it retried the GETs reset before their answer began, on a fresh
    // connection (the router's promise for idempotent requests); a reset after the answer began cannot
    // be retried, and each such failure, if any, is one the router sent to the canary and counted there
    const retried = [...(await routerCounters(adminPort, 'promote_router_retries_total'))];
    expect(retried.filter(([key, count]) => key.startsWith('v2 ') && count > 0).length, JSON.stringify(retried)).toBeGreaterThan(0);
    expect(retried.filter(([key, count]) => key.startsWith('v1 ') && count > 0)).toEqual([]);
    expect(load.failures.length).toBe(failuresOf('v2'));
  }, 60_000);
});
