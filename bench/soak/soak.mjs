// The soak of issue 9, shared by bench/soak/run.mjs (10 minutes) and test/e2e/soak.test.ts (about a
// minute): the demo orders service behind a real router under the demo's load, through repeated
// promote / rollback cycles, while the router's and the controller's memory, descriptors and
// sockets and both databases' connections are sampled from outside.
//
// Processes (all real, from dist/): `promote router --env soak` and `promote server --no-routers`
// (API + controller), each preloaded with heap-probe.mjs; the orders service's instances, which the
// controller's process target starts (`node dist/demo/orders-service.js`, one instance per version).
//
// Cycles repeat the pattern promote, bad, promote, rollback:
//   promote   a canary of the other good release (1.0.0 <-> 1.1.0): setWeight 25, pause 1 s,
//             setWeight 50, analysis (builtin error_rate), promote. Expected Healthy.
//   bad       the same canary of 1.2.0-bad, which answers 500 to 20% of GET /orders/:id: the analysis
//             fails and traffic returns to the stable release by itself. Expected RolledBack.
//   rollback  `promote rollback --env soak` (the CLI): back to the release Healthy before the current.
// 1.x releases all keep the v1 (dollars) shape of the orders tables, so no migration is needed.
//
// Each cycle is a phase of the load (`cycle-<n>-<kind>`): failures are counted per cycle, and the only
// failures expected are the bad release's 500s on GET /orders/:id during its own cycles.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { request } from 'undici';
import { connections, descriptors, heapMb, rssMb } from './probe.mjs';
import { summariseSoak } from './report.mjs';

const here = fileURLToPath(new URL('.', import.meta.url));
const root = join(here, '..', '..');
const dist = (path) => import(join(root, 'dist', path));
const cli = join(root, 'dist', 'cli', 'main.js');
const service = join(root, 'dist', 'demo', 'orders-service.js');
const heapProbe = join(here, 'heap-probe.mjs');

export const GOOD = ['1.0.0', '1.1.0'];
export const BAD = '1.2.0-bad';
export const PATTERN = ['promote', 'bad', 'promote', 'rollback'];
const ENDED = ['Healthy', 'RolledBack', 'Degraded', 'Aborted'];
const EXPECTED = { promote: 'Healthy', bad: 'RolledBack', rollback: 'Healthy' };
/** the application_name of the soak's own connections, left out of the counts */
const SELF = 'soak-';

function spec({ appUrl, routerPort, adminPort, marker, strategy }) {
  // the bad release gets its error rate from the shell; the good ones answer 500 never
  const command = `case "$PROMOTE_VERSION" in *-bad) export ORDERS_ERROR_RATE=0.2;; esac; exec "${process.execPath}" "${service}"`;
  return `version: 1
app: { name: orders }
environments:
  - name: soak
    database: ${appUrl}
    target:
      type: process
      command: '${command}'
      instances: 1
      env: { ORDERS_DATABASE_URL: "${appUrl}", ORDERS_DB_POOL: "5", SOAK_MARKER: "${marker}", LOG_LEVEL: warn }
      readiness: { path: /healthz, timeout: 20s, interval: 100ms }
      drainTimeout: 2s
    router: { listen: 127.0.0.1:${routerPort}, admin: 127.0.0.1:${adminPort}, sticky: { header: X-User-Id } }
    strategy: ${strategy}
strategies:
  first:
    type: canary
    steps:
      - promote: {}
  canary:
    type: canary
    steps:
      - setWeight: 25
      - pause: { duration: 1s }
      - setWeight: 50
      - analysis: { templates: [errors] }
      - promote: {}
analysis:
  # at 50% (sticky users: about half of them) over 4 s windows: the bad release's ~7% of errors is a
  # dozen 500s a window. At 25% over 3 s windows a bad canary once passed in 21 tries (few users drew it)
  templates:
    errors:
      provider: { type: builtin, metric: error_rate, window: 4s }
      judge: { type: threshold, condition: "value < 0.02", minSamples: 10 }
      initialDelay: 2s
      interval: 1s
      count: 3
`;
}

/** runs the built CLI to the end; throws with its output unless it exits 0 */
async function promote(args, { cwd, env }) {
  const child = spawn(process.execPath, [cli, ...args], { cwd, env: { ...process.env, PROMOTE_LOG_LEVEL: 'warn', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const [code] = await once(child, 'close');
  if (code !== 0) throw new Error(`promote ${args.join(' ')} exited ${code}: ${stderr.trim() || stdout.trim()}`);
  return stdout;
}

/** starts a long-running CLI command with the heap probe preloaded; resolves once `ready` answers */
async function startDaemon(name, args, { cwd, env, ready }) {
  const heapFile = join(cwd, `heap-${name}.json`);
  const child = spawn(process.execPath, ['--import', heapProbe, cli, ...args], { cwd, env: { ...process.env, PROMOTE_LOG_LEVEL: 'warn', ...env, SOAK_HEAP_FILE: heapFile }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk) => (output = (output + chunk).slice(-4000)));
  child.stderr.on('data', (chunk) => (output = (output + chunk).slice(-4000)));
  for (let waited = 0; waited < 30_000; waited += 100) {
    if (child.exitCode !== null) break;
    if (await request(ready).then(async (response) => (await response.body.dump(), response.statusCode === 200), () => false)) return { name, child, heapFile, output: () => output };
    await sleep(100);
  }
  child.kill('SIGKILL');
  throw new Error(`soak: promote ${args.join(' ')} did not answer on ${ready}: ${output}`);
}

async function stopDaemon(daemon) {
  if (daemon === undefined || daemon.child.exitCode !== null) return;
  const closed = once(daemon.child, 'close');
  daemon.child.kill('SIGTERM');
  const stopped = await Promise.race([closed.then(() => true), sleep(10_000).then(() => false)]);
  if (!stopped) {
    daemon.child.kill('SIGKILL');
    await closed;
  }
}

/**
 * Runs the soak and returns its report. `storeUrl` and `appUrl` are two empty databases on one
 * server (the state store, the orders service's); `folder` an empty scratch folder.
 */
export async function runSoak(options) {
  const { folder, storeUrl, appUrl, durationMs, minCycles = 0, warmupMs = 20_000, settleMs = 5_000, sampleEveryMs = 5_000, rate = 100, users = 20, seed = 20261123, marker = `soak-${process.pid}-${Date.now()}`, log = () => undefined } = options;
  const { freePort, findProcessesByEnv } = await dist('system/processes.js');
  const { setupOrdersDatabase } = await dist('demo/schema.js');
  const { startLoad } = await dist('demo/load.js');
  const { loadSpecOrThrow } = await dist('spec/index.js');
  const { createTarget } = await dist('targets/target.js');

  const [apiPort, routerPort, adminPort] = [await freePort(), await freePort(), await freePort()];
  // every process the soak starts carries the marker (a test's leftover killer finds them by it);
  // SOAK_MARKER is the app instances' alone, which is how they are counted
  const env = { DATABASE_URL: storeUrl, PROMOTE_ACTOR: 'soak', PROMOTE_TEST_MARKER: marker };
  await writeFile(join(folder, 'promote.yaml'), spec({ appUrl, routerPort, adminPort, marker, strategy: 'canary' }));
  await writeFile(join(folder, 'first.yaml'), spec({ appUrl, routerPort, adminPort, marker, strategy: 'first' }));

  const appPool = new pg.Pool({ connectionString: appUrl, max: 2, application_name: `${SELF}verify` });
  const sampler = new pg.Client({ connectionString: appUrl, application_name: `${SELF}sampler` });
  await sampler.connect();
  const databases = { [new URL(storeUrl).pathname.slice(1)]: 'store', [new URL(appUrl).pathname.slice(1)]: 'app' };
  let router;
  let controller;
  let load;
  let sampling;
  let keepSampling = true;
  try {
    await setupOrdersDatabase(appPool);
    for (const version of [...GOOD, BAD]) {
      await writeFile(join(folder, `${version}.tgz`), version);
      await promote(['release', 'create', version, '--artifact', `${version}.tgz`], { cwd: folder, env });
    }
    await promote(['--config', 'first.yaml', 'deploy', GOOD[0], '--env', 'soak', '--wait'], { cwd: folder, env });
    log(`${GOOD[0]} serves alone; starting the router and the controller`);
    router = await startDaemon('router', ['router', '--env', 'soak'], { cwd: folder, env, ready: `http://127.0.0.1:${adminPort}/state` });
    controller = await startDaemon('controller', ['server', '--no-routers', '--listen', `127.0.0.1:${apiPort}`], { cwd: folder, env, ready: `http://127.0.0.1:${apiPort}/healthz` });
    const api = async (method, path, body) => {
      const response = await request(`http://127.0.0.1:${apiPort}${path}`, { method, ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }) });
      return response.body.json();
    };

    const startedAt = Date.now();
    const minutes = () => (Date.now() - startedAt) / 60_000;
    const samples = [];
    let cycle = 0;
    const sample = async () => {
      const entry = { minute: minutes(), cycle, processes: {}, instances: findProcessesByEnv('SOAK_MARKER', marker).length };
      for (const daemon of [router, controller]) {
        const pid = daemon.child.pid;
        entry.processes[daemon.name] = { rssMb: rssMb(pid), ...heapMb(daemon.heapFile), ...descriptors(pid) };
      }
      entry.connections = await connections(sampler, databases, SELF);
      samples.push(entry);
      return entry;
    };
    sampling = (async () => {
      while (keepSampling) {
        await sample().catch((error) => log(`sample failed: ${error.message}`));
        await sleep(sampleEveryMs);
      }
    })();
    const stopSampling = async () => {
      keepSampling = false;
      await sampling;
    };

    load = startLoad({ baseUrl: `http://127.0.0.1:${routerPort}`, users, rate, seed, phase: 'warm-up' });
    await sleep(warmupMs);
    const warmedAt = minutes();
    const cycles = [];
    let stable = GOOD[0];
    const byId = async (id) => {
      for (const began = Date.now(); Date.now() - began < 120_000; await sleep(200)) {
        const rollout = await api('GET', `/api/rollouts/${id}`);
        // a timed pause shows as Paused "paused until …": only a pause waiting for a person stops the soak
        if (ENDED.includes(rollout.phase) || (rollout.phase === 'Paused' && !String(rollout.phaseReason).startsWith('paused until'))) return rollout;
      }
      throw new Error(`soak: rollout #${id} did not end within 2 minutes`);
    };
    while (Date.now() - startedAt < warmupMs + durationMs || cycle < minCycles) {
      cycle += 1;
      const kind = PATTERN[(cycle - 1) % PATTERN.length];
      load.phase(`cycle-${cycle}-${kind}`);
      const began = Date.now();
      let rollout;
      // a rollback goes to the release Healthy before the current: the other good one
      let version = kind === 'bad' ? BAD : GOOD.find((each) => each !== stable);
      if (kind === 'rollback') {
        rollout = JSON.parse(await promote(['rollback', '--env', 'soak', '--json'], { cwd: folder, env }));
      } else {
        rollout = await api('POST', '/api/deploy', { environment: 'soak', version });
        if (typeof rollout.id !== 'number') throw new Error(`soak: deploying ${version} was refused: ${JSON.stringify(rollout)}`);
      }
      const ended = await byId(rollout.id);
      if (ended.phase === 'Healthy') version = Object.keys(ended.weights).find((name) => ended.weights[name] === 100) ?? version;
      // where the cycle's time went: each event of the rollout, seconds after the cycle began
      const trail = await api('GET', `/api/rollouts/${rollout.id}/events`);
      const timeline = trail.map((event) => `${((Date.parse(event.createdAt) - began) / 1000).toFixed(1)} ${event.type}${event.data.label ? ` ${event.data.label}` : ''}${event.data.to ? ` ${event.data.to}` : ''}`);
      // the rollout's own time, from its creation to its last event (a rollback's cycle also holds the CLI's start)
      const times = trail.map((event) => Date.parse(event.createdAt));
      const rolloutSeconds = times.length ? (Math.max(...times) - Math.min(...times)) / 1000 : null;
      const outcome = { cycle, kind, id: rollout.id, version, from: stable, phase: ended.phase, reason: ended.phaseReason ?? '', seconds: (Date.now() - began) / 1000, rolloutSeconds, expected: ended.phase === EXPECTED[kind], timeline };
      cycles.push(outcome);
      log(`cycle ${cycle} ${kind}: ${outcome.version} ${outcome.phase} in ${outcome.seconds.toFixed(1)} s${outcome.expected ? '' : ` (expected ${EXPECTED[kind]}: ${outcome.reason})`}`);
      if (ended.phase === 'Healthy') stable = version;
      if (!ENDED.includes(ended.phase)) throw new Error(`soak: rollout #${rollout.id} of ${version} stopped ${ended.phase}: ${ended.phaseReason}`);
      // one sample per cycle in the same state (the cycle over, one release serving): the per-cycle series
      outcome.sample = await sample();
    }
    load.phase('settle');
    await sleep(settleMs);
    await stopSampling();
    const loadReport = await load.stop();
    // after stop() the ledger is exact: every acknowledged order and cancel must be in the database
    const ledger = await load.verifyLedger(appPool);
    load = undefined;
    return summariseSoak({ startedAt, warmedAt, samples, cycles, loadReport, ledger, options: { durationMs, minCycles, warmupMs, settleMs, sampleEveryMs, rate, users, seed } });
  } finally {
    keepSampling = false;
    await sampling;
    if (load !== undefined) await load.stop().catch(() => undefined);
    await stopDaemon(controller);
    await stopDaemon(router);
    // the instances outlive the controller on purpose: tear down every version the soak deployed
    const loaded = await loadSpecOrThrow(join(folder, 'promote.yaml'), {}).catch(() => undefined);
    if (loaded) {
      const target = createTarget(loaded.environments[0].target, { app: 'orders', environment: 'soak', stateDir: join(folder, '.promote', 'run'), configDir: folder });
      for (const version of [...GOOD, BAD]) await target.teardown(version).catch(() => undefined);
      await target.close();
    }
    for (const { pid } of findProcessesByEnv('SOAK_MARKER', marker)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
    await sampler.end().catch(() => undefined);
    await appPool.end().catch(() => undefined);
  }
}
