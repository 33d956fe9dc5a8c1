// Detection benchmark: how fast a bad canary is caught and traffic is back on stable (MTTD + MTTR),
// how many user requests failed because of it, and how often an identical canary would be wrongly
// rolled back. Everything goes through the real parts: `promote server` (API, controller, router),
// the process target starting test/fixtures/canary-app.mjs, the builtin provider reading the router's
// windows, the judges and the runner's decision rules.
//
//   npm run build && node bench/detection/run.mjs [--reps 3]
//
// Options (all optional):
//   --reps N                 repetitions of each bad-canary scenario (default 3)
//   --control-reps N         repetitions of the identical control, `same` (default 6): a fresh canary
//                            process is judged at its first look, which the replay of warm pairs cannot show
//   --scenarios LIST         errors,errors5,tail,same (default: all four; same is the control); none: skip part 1
//   --clients N              concurrent clients of the steady load, each in a closed loop (default 12)
//   --weight P               the canary's share of traffic at its analysis step, in % (default 20)
//   --pair-weight P          the candidate's share within each identical pair, in % (default: --weight); 50 gives
//                            both processes of a pair the same load
//   --pairs N                identical (baseline, candidate) pairs for the false-rollback part (default 5)
//   --identical-seconds S    seconds of steady load recorded for the false-rollback part (default 175)
//   --no-identical           skip the false-rollback part
//   --build                  run `npm run build` first
//   --keep                   keep the scratch folder (promote.yaml, .promote/run logs) for a look
//   --out FILE               where the JSON goes (default bench/results/detection-<date>.json)
//
// Part 1, bad canaries. One scratch folder, one embedded PostgreSQL, one `promote server`. v1 is
// rolled out first (Healthy) under a steady closed-loop load through the router; then, one at a time,
// canaries named c<rep>-errors (20% 500s), c<rep>-errors5 (5% 500s) and c<rep>-tail (+200 ms on 2% of
// requests: the p99 moves, the median does not) are deployed with the strategy below: setWeight, then a
// foreground analysis step, then promote. Each response of the load is recorded with its time, status,
// latency and `x-promote-version`, so:
//   t0 = the first response served by the canary; t1 = the last one (traffic is back on stable);
//   MTTD + MTTR = t1 - t0; MTTD = t0 to the measurement that failed the analysis (its takenAt, from
//   `promote explain --json`); MTTR = from there to t1.
//   failed = the canary's 5xx and connection errors, plus its responses slower than 1 s (none happen
//   here: the tail canary adds 200 ms); "slowed" counts the tail canary's responses above 150 ms.
//   The failed share is failed / all requests of the scenario (from the deploy call to the end of the
//   rollout), and also failed / all requests between t0 and t1.
//
// Part 2, false rollbacks. A second environment of the same server (`identical`, its own router) gets
// N pairs of identical canary-app processes through `promote traffic set`, each pair weighted like the
// scenarios (baseline 100-P : candidate P, the pairs sharing the traffic; --pair-weight 50 for equal load). The router's per-second
// windows (`/window?seconds=1` on the admin port, polled 5 times a second) are recorded for every
// version; then simulated analyses run in this process over consecutive, non-overlapping stretches
// of those seconds: each measurement of each template gets the window the builtin provider would
// have read (the template's last W complete seconds), goes through `judge` from
// dist/analysis/judges and is added up with `assessRun` / `assessStep` from dist/analysis/assess.js,
// the runner's own rules, with the same templates (parsed from the same promote.yaml). Disjoint pairs
// and disjoint stretches make the analyses independent, so the false rollback rate gets an exact
// (Clopper-Pearson) 95% interval.
//
// Part 3, peers. Argo Rollouts and Flagger are not run here: their times are computed from their
// documented formulas and defaults (cited in the JSON and docs/BENCHMARKS.md), and printed next to
// ours as a ratio.
//
// Every process started here is stopped at the end, even on failure: the server by SIGTERM, the
// instances the process target started by tearing their versions down (as test/helpers/instances.ts
// does) and then by their recorded pids, the pairs' processes by their pids, the embedded PostgreSQL by
// `promote db stop`.
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir, totalmem } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { createServer } from 'node:net';
import { Pool, request } from 'undici';
import { TICKS, descendants, machineTicks, processTicks } from '../lib/cpu.mjs';
import { writeResults } from '../lib/results.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const HOST = '127.0.0.1';
const cli = join(root, 'dist', 'cli', 'main.js');
const fixture = join(root, 'test', 'fixtures', 'canary-app.mjs');

const { values: args } = parseArgs({
  options: {
    reps: { type: 'string', default: '3' },
    'control-reps': { type: 'string', default: '6' },
    scenarios: { type: 'string', default: 'errors,errors5,tail,same' },
    clients: { type: 'string', default: '12' },
    weight: { type: 'string', default: '20' },
    'pair-weight': { type: 'string' },
    pairs: { type: 'string', default: '5' },
    'identical-seconds': { type: 'string', default: '175' },
    'no-identical': { type: 'boolean', default: false },
    build: { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
    out: { type: 'string' },
  },
});
const reps = Number(args.reps);
const controlReps = Number(args['control-reps']);
const repsOf = (name) => (SCENARIOS[name].good ? controlReps : reps);
const clients = Number(args.clients);
const weight = Number(args.weight);
const pairWeight = Number(args['pair-weight'] ?? args.weight);
const pairs = Number(args.pairs);
const identicalSeconds = Number(args['identical-seconds']);
const SCENARIOS = {
  errors: { suffix: 'errors', what: '20% of requests answer 500' },
  errors5: { suffix: 'errors5', what: '5% of requests answer 500' },
  tail: { suffix: 'tail', what: '+200 ms on 2% of requests (p99 +200 ms, median unchanged)' },
  // the control: a canary identical to stable, freshly started, through the same real rollout
  same: { suffix: 'same', what: 'identical to stable (control: should be promoted)', good: true },
};
const scenarios = (args.scenarios === 'none' ? [] : args.scenarios.split(',')).filter((name) => {
  if (SCENARIOS[name]) return true;
  console.error(`unknown scenario ${name}: expected ${Object.keys(SCENARIOS).join(', ')}`);
  process.exit(2);
});
for (const [name, value] of [['--reps', reps], ['--control-reps', controlReps], ['--clients', clients], ['--pairs', pairs], ['--identical-seconds', identicalSeconds]]) {
  if (!Number.isInteger(value) || value < 1) {
    console.error(`${name} must be a whole number >= 1`);
    process.exit(2);
  }
}
if (!(weight > 0 && weight < 100) || !(pairWeight > 0 && pairWeight < 100)) {
  console.error('--weight and --pair-weight must be between 0 and 100');
  process.exit(2);
}

// ---------------------------------------------------------------------------------------------
// The configuration under test: a realistic fast analysis. One template per signal, measured every
// second over the router's last few complete seconds, no failure tolerated.

const TEMPLATES = {
  // the canary's own error rate against a fixed limit
  errors: { provider: { type: 'builtin', metric: 'error_rate', window: '3s' }, judge: { type: 'threshold', condition: 'value < 0.02', minSamples: 50 } },
  // the canary's error rate against stable's, same seconds: more than 1 point worse, really
  'error-ratio': { provider: { type: 'builtin', metric: 'error_rate', window: '3s' }, judge: { type: 'compare', test: 'twoProportion', allowedChange: 0.01, minSamples: 100 } },
  // the typical request: Mann-Whitney shift, ignored under 20 ms
  latency: { provider: { type: 'builtin', metric: 'latency', window: '3s' }, judge: { type: 'compare', test: 'mannWhitney', minimumChange: 20, minSamples: 50 } },
  // the tail: more requests above stable's p99 than 1%, and a p99 at least 20 ms slower
  tail: { provider: { type: 'builtin', metric: 'latency', window: '4s' }, judge: { type: 'compare', test: 'tail', quantile: 0.99, minimumChange: 20, minSamples: 200 } },
};
const RUN = { interval: '1s', count: 5, initialDelay: '1s', failureLimit: 0 };

function flow(value) {
  if (typeof value !== 'object' || value === null) return typeof value === 'string' && /[:#{}[\],"']|^\s|\s$/.test(value) ? JSON.stringify(value) : String(value);
  return `{ ${Object.entries(value).map(([key, each]) => `${key}: ${flow(each)}`).join(', ')} }`;
}

function promoteYaml(ports) {
  const target = `{ type: process, command: "node ${fixture}", instances: 1, readiness: { path: /healthz, timeout: 10s, interval: 100ms }, drainTimeout: 2s }`;
  return `# generated by bench/detection/run.mjs
version: 1
app: { name: detection }
environments:
  - name: production
    database: postgres://localhost/detection
    target: ${target}
    router: { listen: ${HOST}:${ports.router}, admin: ${HOST}:${ports.admin} }
    strategy: canary
  # the false-rollback part: identical pairs put in the routing table by \`promote traffic set\`
  - name: identical
    database: postgres://localhost/detection
    target: ${target}
    router: { listen: ${HOST}:${ports.identicalRouter}, admin: ${HOST}:${ports.identicalAdmin} }
    strategy: canary
strategies:
  canary:
    type: canary
    steps:
      - setWeight: ${weight}
      - analysis: { templates: [${Object.keys(TEMPLATES).join(', ')}] }
      - promote: {}
analysis:
  templates:
${Object.entries(TEMPLATES)
  .map(([name, template]) => `    ${name}:\n${Object.entries({ ...template, ...RUN }).map(([key, value]) => `      ${key}: ${flow(value)}`).join('\n')}`)
  .join('\n')}
`;
}

// ---------------------------------------------------------------------------------------------
// Preconditions

if (args.build) {
  console.log('building: npm run build');
  execFileSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });
}
if (!existsSync(cli)) {
  console.error(`${relative(root, cli)} is missing: run \`npm run build\` first (or pass --build)`);
  process.exit(2);
}
{
  // each source file against its own output (tsc leaves an unchanged output's mtime alone)
  const stale = [];
  for (const folder of ['analysis', 'analysis/judges', 'analysis/providers', 'analysis/stats', 'engine', 'router', 'targets', 'spec']) {
    const dir = join(root, 'src', folder);
    if (!existsSync(dir)) continue;
    for (const name of readdirSync(dir)) {
      if (!name.endsWith('.ts') || name.endsWith('.test.ts')) continue;
      const output = join(root, 'dist', folder, name.replace(/\.ts$/, '.js'));
      if (!existsSync(output) || statSync(join(dir, name)).mtimeMs > statSync(output).mtimeMs) stale.push(`${folder}/${name}`);
    }
  }
  if (stale.length > 0) console.warn(`warning: dist is older than src/{${stale.join(',')}}: the benchmark runs the built code; run \`npm run build\` for the current source`);
}
const dist = (path) => import(pathToFileURL(join(root, 'dist', path)).href);
const { judge } = await dist('analysis/judges/index.js');
const { assessRun, assessStep } = await dist('analysis/assess.js');
const { metricData } = await dist('analysis/providers/builtin.js');
const { loadSpecOrThrow } = await dist('spec/index.js');
const { createTarget } = await dist('targets/target.js');

// ---------------------------------------------------------------------------------------------
// Small helpers

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
function round(value, digits = 0) {
  if (value === null || value === undefined || Number.isNaN(value)) return null;
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}
function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, HOST, () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}
/** ms since the epoch with sub-ms resolution, from the monotonic clock */
const epochOffset = Date.now() - performance.now();
const now = () => epochOffset + performance.now();
const seconds = (ms) => (ms === null || ms === undefined ? null : round(ms / 1000, 2));
function median(values) {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}
function quantileOf(sorted, q) {
  if (sorted.length === 0) return null;
  const position = (sorted.length - 1) * q;
  const low = Math.floor(position);
  const high = Math.ceil(position);
  return sorted[low] + (sorted[high] - sorted[low]) * (position - low);
}

// Clopper-Pearson interval of a binomial proportion: the p at which seeing `successes` or more (fewer)
// has probability alpha/2, by bisection on the binomial distribution summed in log space
function binomialAtMost(k, n, p) {
  if (k < 0) return 0;
  if (k >= n) return 1;
  if (p <= 0) return 1;
  if (p >= 1) return 0;
  let logChoose = 0;
  let sum = 0;
  for (let i = 0; i <= k; i++) {
    if (i > 0) logChoose += Math.log(n - i + 1) - Math.log(i);
    sum += Math.exp(logChoose + i * Math.log(p) + (n - i) * Math.log(1 - p));
  }
  return Math.min(1, sum);
}
function bisect(f, target, increasing) {
  let low = 0;
  let high = 1;
  for (let i = 0; i < 60; i++) {
    const middle = (low + high) / 2;
    if (f(middle) < target === increasing) low = middle;
    else high = middle;
  }
  return (low + high) / 2;
}
function clopperPearson(successes, trials, confidence = 0.95) {
  if (trials === 0) return [null, null];
  const alpha = 1 - confidence;
  // lower: P(X >= successes | p) = alpha/2, which grows with p
  const lower = successes === 0 ? 0 : bisect((p) => 1 - binomialAtMost(successes - 1, trials, p), alpha / 2, true);
  // upper: P(X <= successes | p) = alpha/2, which falls with p
  const upper = successes === trials ? 1 : bisect((p) => binomialAtMost(successes, trials, p), alpha / 2, false);
  return [lower, upper];
}

// ---------------------------------------------------------------------------------------------
// Processes: everything started here is tracked and stopped at the end

const children = new Set();
/** set once the cleanup begins: nothing new is started after it (but the cleanup's own `db stop`) */
let refuseNew = false;
function start(label, command, commandArgs, { keepStdout = false, duringCleanup = false, ...options } = {}) {
  if (refuseNew && !duringCleanup) throw new Error(`not starting ${label}: the benchmark is stopping`);
  const child = spawn(command, commandArgs, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
  children.add(child);
  child.label = label;
  child.output = '';
  child.stdoutText = '';
  child.stdout.on('data', (chunk) => {
    child.output = (child.output + chunk).slice(-20_000);
    if (keepStdout) child.stdoutText += chunk;
  });
  child.stderr.on('data', (chunk) => (child.output = (child.output + chunk).slice(-20_000)));
  child.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  child.exited.then(() => children.delete(child));
  return child;
}
async function stop(child, signal = 'SIGTERM', graceMs = 10_000) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await child.exited;
  clearTimeout(timer);
}

const scratch = mkdtempSync(join(tmpdir(), 'promote-detection-'));
// run as root, Promote runs the embedded PostgreSQL as "postgres", who must be able to traverse the folder
chmodSync(scratch, 0o755);
const childEnv = { ...process.env, PROMOTE_LOG_LEVEL: 'warn' };
// the embedded PostgreSQL of the scratch folder, never a server someone configured for other work
delete childEnv.DATABASE_URL;
delete childEnv.PROMOTE_HOME;

/** runs the built CLI in the scratch folder; rejects with its output when it fails */
async function promote(cliArgs, { json = false, duringCleanup = false } = {}) {
  const child = start(`promote ${cliArgs[0]}`, process.execPath, [cli, ...cliArgs], { cwd: scratch, env: childEnv, keepStdout: json, duringCleanup });
  const { code } = await child.exited;
  if (code !== 0) throw new Error(`promote ${cliArgs.join(' ')} exited ${code}:\n${child.output}`);
  return json ? JSON.parse(child.stdoutText) : child.output;
}

async function http(method, url, body) {
  const response = await request(url, { method, ...(body !== undefined ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } } : {}) });
  const text = await response.body.text();
  return { status: response.statusCode, body: text ? JSON.parse(text) : null };
}

async function waitForHttp(url, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    try {
      const response = await request(url);
      await response.body.dump();
      if (response.statusCode === 200) return;
      last = new Error(`status ${response.statusCode}`);
    } catch (error) {
      last = error;
    }
    await sleep(100);
  }
  throw new Error(`${url} did not answer 200 within ${timeoutMs} ms: ${last?.message}`);
}

// ---------------------------------------------------------------------------------------------
// Steady load: closed-loop clients through a router, every response recorded

/** the responses, column by column: end time (ms epoch), latency (ms), status (0: no answer), version index */
function createLog() {
  return { end: [], latency: [], status: [], version: [], names: [], index: new Map() };
}
function versionIndex(log, name) {
  let index = log.index.get(name);
  if (index === undefined) {
    index = log.names.length;
    log.names.push(name);
    log.index.set(name, index);
  }
  return index;
}

function startLoad(port, log, count) {
  const pool = new Pool(`http://${HOST}:${port}`, { connections: count, pipelining: 1, keepAliveTimeout: 30_000 });
  let running = true;
  const loops = Array.from({ length: count }, async () => {
    while (running) {
      const begin = now();
      try {
        const response = await pool.request({ path: '/', method: 'GET' });
        await response.body.dump();
        const end = now();
        log.end.push(end);
        log.latency.push(end - begin);
        log.status.push(response.statusCode);
        log.version.push(versionIndex(log, String(response.headers['x-promote-version'] ?? '-')));
      } catch {
        const end = now();
        log.end.push(end);
        log.latency.push(end - begin);
        log.status.push(0);
        log.version.push(versionIndex(log, '-'));
        await sleep(20);
      }
    }
  });
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
      await pool.close();
    },
  };
}

/** first index with end >= t (the log is in end-time order, give or take a client's microseconds) */
function firstAt(log, t) {
  let low = 0;
  let high = log.end.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (log.end[middle] < t) low = middle + 1;
    else high = middle;
  }
  return low;
}

// ---------------------------------------------------------------------------------------------
// Machine

const cores = availableParallelism();
/** CPU ticks of this benchmark's processes: this one (with its reaped children), the server and its instances, the pairs, the embedded PostgreSQL */
function ourTicks() {
  const ticks = new Map();
  const roots = [process.pid];
  try {
    roots.push(Number(readFileSync(join(scratch, '.promote', 'pg', 'data', 'postmaster.pid'), 'utf8').split('\n')[0]));
  } catch {
    // not running
  }
  for (const root of roots) {
    for (const pid of descendants(root)) {
      const value = processTicks(pid, { withReapedChildren: pid === process.pid });
      if (value !== undefined) ticks.set(pid, value);
    }
  }
  return ticks;
}
function cpuSnapshot() {
  return { at: performance.now(), machine: machineTicks(), ours: ourTicks() };
}
/** cores busy on the machine between two snapshots, ours and everyone else's (other sessions' tests, say) */
function busyCores(before, after) {
  const machineCores = ((after.machine.busy - before.machine.busy) / (after.machine.total - before.machine.total)) * cores;
  let ticks = 0;
  for (const [pid, value] of after.ours) ticks += value - (before.ours.get(pid) ?? value);
  const ours = ticks / TICKS / ((after.at - before.at) / 1000);
  return { machine: round(machineCores, 2), ours: round(ours, 2), other: round(Math.max(0, machineCores - ours), 2) };
}
const startedAt = new Date();
const machine = {
  date: startedAt.toISOString(),
  nproc: cores,
  cpu: (readFileSync('/proc/cpuinfo', 'utf8').match(/^model name\s*:\s*(.*)$/m) ?? [])[1] ?? 'unknown',
  memoryGB: round(totalmem() / 2 ** 30, 1),
  node: process.version,
  undici: JSON.parse(readFileSync(join(root, 'node_modules', 'undici', 'package.json'), 'utf8')).version,
  commit: (() => {
    try {
      const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
      const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() !== '';
      return dirty ? `${head} (src/ has uncommitted changes)` : head;
    } catch {
      return null;
    }
  })(),
  loadavgBefore: loadavg().map((value) => round(value, 2)),
};

// ---------------------------------------------------------------------------------------------
// Cleanup, also on failure and on Ctrl-C

let server;
let dbStarted = false;
const deployed = new Set();
const pairProcesses = [];
/** the one cleanup, shared: a Ctrl-C during the run and the run's own end wait for the same work */
let cleaning;

/** pids of the instances the process target recorded under .promote/run */
function recordedInstancePids() {
  const pids = [];
  const walk = (dir) => {
    if (!existsSync(dir)) return;
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (/^instance-\d+\.json$/.test(name)) {
        try {
          const record = JSON.parse(readFileSync(path, 'utf8'));
          if (Number.isInteger(record.pid)) pids.push(record.pid);
        } catch {
          // half written: its process is found by the teardown, if any
        }
      }
    }
  };
  walk(join(scratch, '.promote', 'run'));
  return pids;
}
/** a process that exists and is not a zombie waiting for its (re)parent to reap it */
const alive = (pid) => {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
};

function cleanup() {
  cleaning ??= stopEverything();
  return cleaning;
}
async function stopEverything() {
  refuseNew = true;
  const problems = [];
  const seenPids = new Set([...recordedInstancePids(), ...pairProcesses.map((child) => child.pid)]);
  if (server) await stop(server).catch((error) => problems.push(`server: ${error.message}`));
  for (const child of pairProcesses) await stop(child, 'SIGTERM', 3_000);
  if (deployed.size > 0) {
    try {
      const spec = await loadSpecOrThrow(join(scratch, 'promote.yaml'), {});
      for (const environment of spec.environments) {
        const target = createTarget(environment.target, { app: spec.app.name, environment: environment.name, stateDir: join(scratch, '.promote', 'run'), configDir: scratch });
        for (const version of deployed) await target.teardown(version).catch((error) => problems.push(`teardown ${version}: ${error.message}`));
        await target.close();
      }
    } catch (error) {
      problems.push(`teardown: ${error.message}`);
    }
  }
  // whatever the teardown missed: the recorded instances, by process group then pid
  for (const pid of [...seenPids, ...recordedInstancePids()]) {
    if (!alive(pid)) continue;
    problems.push(`instance pid ${pid} survived its teardown: killed`);
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
  }
  if (dbStarted) {
    await promote(['db', 'stop'], { duringCleanup: true }).catch((error) => problems.push(`db stop: ${error.message}`));
  }
  for (const child of [...children]) await stop(child, 'SIGTERM', 3_000);
  if (!args.keep) rmSync(scratch, { recursive: true, force: true });
  return problems;
}
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    console.error(`\n${signal}: stopping the benchmark's processes`);
    cleanup().finally(() => process.exit(130));
  });
}

// ---------------------------------------------------------------------------------------------
// Part 1: bad canaries through promote server

const ports = { api: await freePort(), router: await freePort(), admin: await freePort(), identicalRouter: await freePort(), identicalAdmin: await freePort() };
const api = `http://${HOST}:${ports.api}`;
writeFileSync(join(scratch, 'promote.yaml'), promoteYaml(ports));
const spec = await loadSpecOrThrow(join(scratch, 'promote.yaml'), {});
const templates = Object.keys(TEMPLATES).map((name) => ({ name, spec: spec.analysis.templates[name] }));
const analysisStep = spec.strategies.canary.steps.find((step) => step.analysis !== undefined);
const score = analysisStep.analysis.score;

const plan = { scenarios: scenarios.reduce((sum, name) => sum + repsOf(name), 0), identicalSeconds: args['no-identical'] ? 0 : identicalSeconds };
const planSeconds = 30 + scenarios.reduce((sum, name) => sum + repsOf(name) * (SCENARIOS[name].good ? 8 : 4), 0) + (plan.identicalSeconds > 0 ? plan.identicalSeconds + 15 : 0) + 10;
console.log(`machine: ${machine.nproc} cores, ${machine.cpu}, ${machine.memoryGB} GB, node ${machine.node}, commit ${machine.commit}`);
console.log(
  `plan: ${plan.scenarios} canaries (${scenarios.map((name) => `${name} x ${repsOf(name)}`).join(', ')}) at ${weight}% under ${clients} clients` +
    `${args['no-identical'] ? '' : `; then ${pairs} identical pairs for ${identicalSeconds} s`}; about ${Math.ceil(planSeconds / 60)} min`,
);
console.log(`analysis: ${templates.map(({ name, spec: each }) => `${name} (${each.judge.type}${each.judge.test ? ` ${each.judge.test}` : ''}, window ${each.provider.window / 1000}s)`).join(', ')}; interval ${RUN.interval}, count ${RUN.count}, initialDelay ${RUN.initialDelay}, failureLimit ${RUN.failureLimit}\n`);

const runs = [];
const serverLog = [];
const log = createLog();
let identical = null;
let failure = null;
const cpu = {};
try {
  const setupStarted = now();
  await promote(['db', 'start']);
  dbStarted = true;
  const versions = ['v1'];
  const maxReps = Math.max(0, ...scenarios.map(repsOf));
  for (let rep = 1; rep <= maxReps; rep++) for (const name of scenarios) if (rep <= repsOf(name)) versions.push(`c${rep}-${SCENARIOS[name].suffix}`);
  const createRelease = async (version) => {
    writeFileSync(join(scratch, `${version}.tgz`), version);
    await promote(['release', 'create', version, '--artifact', `${version}.tgz`]);
  };
  for (let index = 0; index < versions.length; index += 4) await Promise.all(versions.slice(index, index + 4).map(createRelease));

  server = start('promote server', process.execPath, [cli, 'server', '--listen', `${HOST}:${ports.api}`], { cwd: scratch, env: childEnv });
  // the server's warnings and errors (PROMOTE_LOG_LEVEL=warn), kept with their time for the JSON
  let partial = '';
  const keepLog = (chunk) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop();
    for (const line of lines) {
      try {
        const entry = JSON.parse(line);
        if (entry.level >= 40) serverLog.push({ at: new Date(entry.time).toISOString(), level: entry.level, msg: entry.msg, ...(entry.err ? { err: entry.err } : {}), ...(entry.version ? { version: entry.version } : {}) });
      } catch {
        // not a log line
      }
    }
  };
  server.stdout.on('data', keepLog);
  server.stderr.on('data', keepLog);
  await waitForHttp(`${api}/healthz`);

  const deploy = async (version) => {
    deployed.add(version);
    const started = await http('POST', `${api}/api/deploy`, { environment: 'production', version });
    if (started.status !== 201) throw new Error(`deploy ${version}: ${started.status} ${JSON.stringify(started.body)}`);
    return started.body.id;
  };
  const waitForEnd = async (id, timeoutMs = 90_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const { body } = await http('GET', `${api}/api/rollouts/${id}`);
      if (['Healthy', 'RolledBack', 'Degraded', 'Aborted', 'Paused'].includes(body.phase)) return { phase: body.phase, reason: body.phaseReason ?? '', at: now() };
      if (Date.now() > deadline) throw new Error(`rollout #${id} did not end within ${timeoutMs / 1000} s: ${JSON.stringify(body)}`);
      await sleep(50);
    }
  };

  // the load runs from the start: until v1 serves, the router answers 503 (no version yet)
  const load = startLoad(ports.router, log, clients);
  const first = await waitForEnd(await deploy('v1'));
  if (first.phase !== 'Healthy') throw new Error(`v1 did not become Healthy: ${first.phase} ${first.reason}`);
  await sleep(3_000);
  console.log(`setup: ${seconds(now() - setupStarted)} s (embedded PostgreSQL, ${versions.length} releases, server, v1 Healthy)\n`);

  let recovery = 0;
  const cpuBefore = cpuSnapshot();
  for (let rep = 1; rep <= maxReps; rep++) {
    for (const name of scenarios) {
      if (rep > repsOf(name)) continue;
      const version = `c${rep}-${SCENARIOS[name].suffix}`;
      const deployAt = now();
      const id = await deploy(version);
      let end = await waitForEnd(id);
      if (end.phase === 'Paused') {
        // inconclusive: a person would decide; the benchmark aborts, which is also traffic back on stable
        await http('POST', `${api}/api/environments/production/abort`, {});
        end = { ...(await waitForEnd(id)), pausedFirst: true };
      }
      // traffic is back on stable once the canary has answered nothing for a second
      const canary = versionIndex(log, version);
      for (let waited = 0; waited < 5_000 && end.phase !== 'Healthy'; waited += 100) {
        let last = -Infinity;
        for (let index = log.end.length - 1; index >= 0 && log.end[index] > now() - 1_500; index--) if (log.version[index] === canary) last = Math.max(last, log.end[index]);
        if (now() - last > 1_000 && now() - end.at > 500) break;
        await sleep(100);
      }
      runs.push({ scenario: name, rep, version, rolloutId: id, phase: end.phase, reason: end.reason, deployAt, endAt: end.at, ...(end.pausedFirst ? { pausedFirst: true } : {}) });
      console.log(`${name.padEnd(8)} rep ${rep}: rollout #${id} ${end.phase}${end.pausedFirst ? ' (paused first, aborted)' : ''} after ${seconds(end.at - deployAt)} s`);
      if (end.phase === 'Healthy' && !SCENARIOS[name].good) {
        // the bad canary was promoted: put a good stable back before the next scenario
        const good = `stable-${++recovery}`;
        await createRelease(good);
        const back = await waitForEnd(await deploy(good));
        console.log(`  missed: ${version} is stable now; ${good} rolled out (${back.phase}) to restore a good stable`);
        await sleep(2_000);
      }
    }
  }
  if (runs.length > 0) cpu.scenarios = busyCores(cpuBefore, cpuSnapshot());
  await load.stop();

  // the analyses' measurements and the rollouts' events, as `promote explain --json --all` gives them
  for (let index = 0; index < runs.length; index += 3) {
    await Promise.all(
      runs.slice(index, index + 3).map(async (run) => {
        run.explain = await promote(['explain', String(run.rolloutId), '--json', '--all'], { json: true });
      }),
    );
  }

  // -------------------------------------------------------------------------------------------
  // Part 2: identical pairs, the router's per-second windows recorded, analyses simulated

  if (!args['no-identical']) identical = await runIdentical();
} catch (error) {
  failure = error;
  console.error(`benchmark failed: ${error.stack ?? error}`);
  if (server) console.error(`server output (last lines):\n${server.output.split('\n').slice(-30).join('\n')}`);
}
const problems = await cleanup();
machine.loadavgAfter = loadavg().map((value) => round(value, 2));
const survivors = [...recordedInstancePidsSafe(), ...pairProcesses.map((child) => child.pid)].filter(alive);
if (problems.length > 0) console.warn(`cleanup: ${problems.join('; ')}`);
if (survivors.length > 0) console.warn(`cleanup: processes still alive: ${survivors.join(', ')}`);
if (failure) process.exit(1);

function recordedInstancePidsSafe() {
  try {
    return recordedInstancePids();
  } catch {
    return [];
  }
}

async function runIdentical() {
  const names = [];
  for (let pair = 1; pair <= pairs; pair++) names.push({ pair, baseline: `p${pair}-base`, candidate: `p${pair}-cand` });
  const upstreams = {};
  for (const { baseline, candidate } of names) {
    for (const version of [baseline, candidate]) {
      const port = await freePort();
      const child = start(version, process.execPath, [fixture], { env: { ...childEnv, PROMOTE_VERSION: version, PORT: String(port) } });
      pairProcesses.push(child);
      upstreams[version] = `http://${HOST}:${port}`;
    }
  }
  for (const url of Object.values(upstreams)) await waitForHttp(`${url}/healthz`);
  // weights in whole percent where possible: each pair gets 100/pairs, split like the scenarios
  const share = 100 / pairs;
  const weights = {};
  for (const { baseline, candidate } of names) {
    weights[candidate] = round((share * pairWeight) / 100, 3);
    weights[baseline] = round(share - weights[candidate], 3);
  }
  const drift = 100 - Object.values(weights).reduce((sum, value) => sum + value, 0);
  weights[names[0].baseline] = round(weights[names[0].baseline] + drift, 3);
  const setArgs = ['traffic', 'set', '--env', 'identical', '--stable', names[0].baseline, '--reason', 'detection benchmark: identical pairs'];
  for (const [version, url] of Object.entries(upstreams)) setArgs.push('--upstream', `${version}=${url}`, '--weight', `${version}=${weights[version]}`);
  await promote(setArgs);

  const identicalLog = createLog();
  const load = startLoad(ports.identicalRouter, identicalLog, clients);
  const admin = `http://${HOST}:${ports.identicalAdmin}`;
  // wait until every version answers through the router, then a little warm-up
  for (let waited = 0; waited < 10_000; waited += 200) {
    if (Object.keys(upstreams).every((version) => identicalLog.index.has(version))) break;
    await sleep(200);
  }
  await sleep(3_000);

  /** per version: epoch second -> { requests, byClass, samples } */
  const buckets = new Map(Object.keys(upstreams).map((version) => [version, new Map()]));
  let polls = 0;
  let pollErrors = 0;
  const check = {};
  const recordUntil = now() + identicalSeconds * 1000;
  const cpuBefore = cpuSnapshot();
  const requestsBefore = identicalLog.end.length;
  const recordFrom = now();
  console.log(`\nidentical: ${pairs} pairs (${names.map(({ baseline, candidate }) => `${baseline} ${weights[baseline]}% / ${candidate} ${weights[candidate]}%`).join(', ')}), recording ${identicalSeconds} s`);
  while (now() < recordUntil) {
    try {
      const { body } = await http('GET', `${admin}/window?seconds=1`);
      polls++;
      for (const window of body) {
        const kept = buckets.get(window.version);
        if (!kept || window.seconds !== 1) continue;
        const second = window.from / 1000;
        if (!kept.has(second)) kept.set(second, { requests: window.requests, byClass: window.byClass, samples: window.samples });
      }
    } catch {
      pollErrors++;
    }
    await sleep(200);
  }
  // the composition check: the router's own 4-second window against the sum of the recorded seconds
  {
    const { body } = await http('GET', `${admin}/window?seconds=4&version=${names[0].candidate}`);
    const [window] = body;
    let requests = 0;
    let samples = 0;
    let complete = true;
    for (let second = window.from / 1000; second < window.to / 1000; second++) {
      const bucket = buckets.get(names[0].candidate).get(second);
      if (!bucket) complete = false;
      else {
        requests += bucket.requests;
        samples += bucket.samples.length;
      }
    }
    Object.assign(check, { version: names[0].candidate, router: { requests: window.requests, samples: window.samples.length }, recorded: { requests, samples }, complete });
  }
  const recordedSeconds = (now() - recordFrom) / 1000;
  const requests = identicalLog.end.length - requestsBefore;
  cpu.identical = busyCores(cpuBefore, cpuSnapshot());
  await load.stop();
  for (const child of pairProcesses) await stop(child, 'SIGTERM', 3_000);
  const rates = Object.fromEntries(
    Object.keys(upstreams).map((version) => {
      const kept = [...buckets.get(version).values()];
      return [version, round(kept.reduce((sum, each) => sum + each.requests, 0) / Math.max(1, kept.length))];
    }),
  );
  console.log(`recorded ${round(recordedSeconds)} s, ${round(requests / recordedSeconds)} req/s through the router (${polls} polls, ${pollErrors} failed); per version req/s: ${Object.entries(rates).map(([version, rate]) => `${version} ${rate}`).join(', ')}`);
  console.log(`composition check: router's 4 s window of ${check.version}: ${check.router.requests} requests, ${check.router.samples} samples; the recorded seconds: ${check.recorded.requests}, ${check.recorded.samples}${check.complete ? '' : ' (a second is missing)'}`);

  const variants = [
    { name: 'as configured', failureLimit: RUN.failureLimit, minimumChange: true },
    { name: 'failureLimit 1', failureLimit: 1, minimumChange: true },
    // what the statistics alone would do: every real change beyond allowedChange fails
    { name: 'no minimumChange', failureLimit: RUN.failureLimit, minimumChange: false },
  ];
  const simulated = variants.map((variant) => ({ ...variant, ...simulateAll(names, buckets, variant) }));
  return { pairs: names, weights, upstreamCount: Object.keys(upstreams).length, recordedSeconds: round(recordedSeconds, 1), requests, requestRate: round(requests / recordedSeconds), perVersionRate: rates, polls, pollErrors, compositionCheck: check, simulated };
}

/** the window a builtin provider would have read at second boundary `t` (exclusive) over `width` seconds */
function windowAt(kept, version, t, width) {
  let requests = 0;
  const byClass = { '1xx': 0, '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0, error: 0 };
  const samples = [];
  for (let second = t - width; second < t; second++) {
    const bucket = kept.get(second);
    if (!bucket) return null;
    requests += bucket.requests;
    for (const key of Object.keys(byClass)) byClass[key] += bucket.byClass[key] ?? 0;
    for (const value of bucket.samples) samples.push(value);
  }
  const sorted = [...samples].sort((a, b) => a - b);
  const failed = byClass['5xx'] + byClass.error;
  const summary = {
    version,
    seconds: width,
    from: (t - width) * 1000,
    to: t * 1000,
    requests,
    byClass,
    errorRate: requests === 0 ? 0 : failed / requests,
    requestRate: requests / width,
    // from the samples (the router's own come from its histograms); only `mean` reaches these templates, as the latency metric's value
    latencyMicros:
      requests === 0
        ? null
        : { p50: quantileOf(sorted, 0.5), p90: quantileOf(sorted, 0.9), p95: quantileOf(sorted, 0.95), p99: quantileOf(sorted, 0.99), max: sorted.at(-1), mean: samples.reduce((sum, value) => sum + value, 0) / Math.max(1, samples.length) },
    samples,
    inFlight: 0,
  };
  return summary;
}

/**
 * One analysis as the runner takes it (runner.ts): every template measured each interval from
 * `firstAt` (a second boundary), each measurement judged by `judge` and added up by assessRun and
 * assessStep; null when a window reaches a second that was not recorded or the analysis needs more
 * seconds than `lastAt`.
 */
function simulateAnalysis(pair, buckets, variant, firstAt, lastAt, tally) {
  const { failureLimit } = variant;
  const taken = new Map(templates.map(({ name }) => [name, []]));
  const startedAt = firstAt * 1000 - templates[0].spec.initialDelay;
  for (let t = firstAt; ; t++) {
    const progress = templates.map(({ name, spec: each }) => ({
      template: name,
      weight: each.weight,
      critical: each.critical,
      dryRun: each.dryRun,
      progress: assessRun(rulesOf(each, failureLimit), taken.get(name), startedAt),
    }));
    const step = assessStep(score, progress);
    if (step.done) return { verdict: step.verdict, reason: step.reason, seconds: t - firstAt, failedTemplates: progress.filter((each) => each.progress.done && each.progress.verdict === 'Failed').map((each) => each.template) };
    if (t > lastAt) return null;
    for (const { name, spec: each } of templates) {
      const state = progress.find((entry) => entry.template === name).progress;
      if (state.done) continue;
      const width = each.provider.window / 1000;
      const candidate = windowAt(buckets.get(pair.candidate), pair.candidate, t, width);
      const baseline = windowAt(buckets.get(pair.baseline), pair.baseline, t, width);
      if (!candidate || !baseline) return null;
      let judgement;
      try {
        const candidateData = metricData(each.provider.metric, candidate, 'recorded');
        const baselineData = each.judge.type === 'compare' ? metricData(each.provider.metric, baseline, 'recorded') : undefined;
        const { minimumChange, ...withoutMinimum } = each.judge;
        judgement = judge(variant.minimumChange || minimumChange === undefined ? each.judge : withoutMinimum, candidateData, baselineData);
      } catch (error) {
        judgement = { verdict: 'Error', reason: String(error.message ?? error), statistics: {} };
      }
      if (tally) {
        tally[name] ??= { Successful: 0, Failed: 0, Inconclusive: 0, NoData: 0, Error: 0, realIncrease: 0, examples: { Failed: [], Inconclusive: [], NoData: [], Error: [] } };
        tally[name][judgement.verdict]++;
        // the test's own finding, before allowedChange and minimumChange: a real change in the bad direction
        if (judgement.statistics?.real === 'increase' || judgement.statistics?.real === 'change') tally[name].realIncrease++;
        // where in the window the candidate's slow requests were: one stalled second, or spread out
        let spread = '';
        if (judgement.verdict === 'Failed' && typeof judgement.statistics?.threshold === 'number') {
          const above = [];
          for (let second = t - width; second < t; second++) {
            const values = buckets.get(pair.candidate).get(second).samples;
            above.push(`${values.filter((value) => value / 1000 > judgement.statistics.threshold).length}/${values.length}`);
          }
          const counts = above.map((each) => Number(each.split('/')[0]));
          const total = counts.reduce((sum, value) => sum + value, 0);
          tally[name].failedConcentration ??= [];
          tally[name].failedConcentration.push(total > 0 ? Math.max(...counts) / total : 0);
          spread = ` [candidate samples above the baseline p${Math.round((each.judge.quantile ?? 0.99) * 100)}, second by second: ${above.join(', ')}]`;
        }
        const examples = tally[name].examples[judgement.verdict];
        if (examples && examples.length < 3) examples.push(`${pair.candidate} at ${new Date(t * 1000).toISOString().slice(11, 19)}: ${judgement.reason}${spread}`);
      }
      taken.get(name).push({ verdict: judgement.verdict, takenAt: t * 1000, reason: judgement.reason, critical: judgement.critical === true });
    }
  }
}

function rulesOf(each, failureLimit) {
  return {
    interval: each.interval,
    initialDelay: each.initialDelay,
    count: each.count,
    failureLimit,
    inconclusiveLimit: each.inconclusiveLimit,
    consecutiveSuccessLimit: each.consecutiveSuccessLimit,
    errorBudget: each.errorBudget,
    noDataLimit: each.noDataLimit,
  };
}

function simulateAll(names, buckets, variant) {
  if (templates.some(({ spec: each }) => each.interval !== 1000)) throw new Error('the simulation takes one measurement per second: every template needs interval 1s');
  const widest = Math.max(...templates.map(({ spec: each }) => each.provider.window / 1000));
  // an analysis needs `widest` seconds before its first measurement and `count` measurements; with no
  // "no data" on the way, it ends at its count-th measurement. Stretches of that length do not overlap.
  const span = widest + RUN.count - 1;
  const outcomes = [];
  const tally = {};
  for (const [index, pair] of names.entries()) {
    const common = [...buckets.get(pair.candidate).keys()].filter((second) => buckets.get(pair.baseline).has(second)).sort((a, b) => a - b);
    if (common.length === 0) continue;
    const [from, to] = [common[0], common.at(-1)];
    // the pairs' stretches are staggered, so a burst of load on the machine does not hit every pair's analysis at the same point
    for (let begin = from + Math.round((index * span) / names.length); begin + span - 1 <= to; begin += span) {
      const result = simulateAnalysis(pair, buckets, variant, begin + widest, begin + span, tally);
      outcomes.push(result === null ? { pair: pair.pair, begin, verdict: 'incomplete' } : { pair: pair.pair, begin, ...result });
    }
  }
  const decided = outcomes.filter((each) => each.verdict !== 'incomplete');
  const rolledBack = decided.filter((each) => each.verdict === 'Failed');
  const [lower, upper] = clopperPearson(rolledBack.length, decided.length);
  return {
    analyses: decided.length,
    incomplete: outcomes.length - decided.length,
    rolledBack: rolledBack.length,
    inconclusive: decided.filter((each) => each.verdict === 'Inconclusive').length,
    rate: decided.length > 0 ? rolledBack.length / decided.length : null,
    interval95: [lower, upper],
    secondsPerAnalysis: span,
    byTemplate: Object.fromEntries(Object.keys(TEMPLATES).map((name) => [name, rolledBack.filter((each) => each.failedTemplates.includes(name)).length])),
    measurements: tally,
    reasons: rolledBack.slice(0, 10).map((each) => `p${each.pair} ${new Date(each.begin * 1000).toISOString().slice(11, 19)}: ${each.reason}`),
  };
}

// ---------------------------------------------------------------------------------------------
// Figures of part 1

for (const run of runs) {
  const canary = log.index.get(run.version);
  let t0 = null;
  let t1 = null;
  let canaryResponses = 0;
  let canary5xx = 0;
  let canarySlow = 0;
  let canarySlowed = 0;
  const good = SCENARIOS[run.scenario].good === true && run.phase === 'Healthy';
  for (let index = firstAt(log, run.deployAt); index < log.end.length && log.end[index] <= (good ? run.endAt : run.endAt + 5_000); index++) {
    if (log.version[index] !== canary) continue;
    canaryResponses++;
    t0 ??= log.end[index];
    t1 = log.end[index];
    if (log.status[index] >= 500 || log.status[index] === 0) canary5xx++;
    else if (log.latency[index] > 1_000) canarySlow++;
    if (log.latency[index] > 150) canarySlowed++;
  }
  // the scenario: from the deploy call to the end of the rollout (or the last canary response, if later)
  const scenarioEnd = Math.max(run.endAt, t1 ?? 0);
  let all = 0;
  let exposed = 0;
  let otherFailures = 0;
  for (let index = firstAt(log, run.deployAt); index < log.end.length && log.end[index] <= scenarioEnd; index++) {
    all++;
    if (t0 !== null && log.end[index] >= t0 && log.end[index] <= t1) exposed++;
    if (log.version[index] !== canary && (log.status[index] >= 500 || log.status[index] === 0)) otherFailures++;
  }
  const measurements = (run.explain?.measurements ?? []).map((each) => ({ ...each, at: Date.parse(each.takenAt) }));
  const failedMeasurements = measurements.filter((each) => each.verdict === 'Failed' && !each.dryRun).sort((a, b) => a.at - b.at);
  const detectedAt = failedMeasurements[0]?.at ?? null;
  const failed = canary5xx + canarySlow;
  Object.assign(run, {
    t0,
    t1,
    // a promoted canary serves on as stable: no t1, nothing to detect
    mttdMttrMs: t0 !== null && t1 !== null && !good ? t1 - t0 : null,
    verdictAfterMs: run.endAt - run.deployAt,
    mttdMs: detectedAt !== null && t0 !== null ? detectedAt - t0 : null,
    mttrMs: detectedAt !== null && t1 !== null ? t1 - detectedAt : null,
    detectedBy: failedMeasurements[0] ? `${failedMeasurements[0].template} #${failedMeasurements[0].seq}: ${failedMeasurements[0].reason}` : null,
    measurementsBeforeVerdict: measurements.length,
    deployToFirstCanaryMs: t0 !== null ? t0 - run.deployAt : null,
    requests: all,
    requestsExposed: exposed,
    canaryResponses,
    failed,
    canary5xx,
    canaryOver1s: canarySlow,
    slowedOver150ms: canarySlowed,
    otherFailures,
    failedShare: all > 0 ? failed / all : null,
    failedShareExposed: exposed > 0 ? failed / exposed : null,
  });
  run.measurements = measurements.map(({ template, seq, verdict, takenAt, reason }) => ({ template, seq, verdict, takenAt, reason }));
  run.events = (run.explain?.events ?? []).map(({ type, createdAt, data }) => ({ type, createdAt, ...(data?.reason ? { reason: data.reason } : {}) }));
  delete run.explain;
}

const summary = scenarios.map((name) => {
  const mine = runs.filter((run) => run.scenario === name);
  const caught = mine.filter((run) => run.phase === 'RolledBack');
  const pick = (key) => mine.map((run) => run[key]).filter((value) => value !== null && value !== undefined);
  const stat = (key) => ({ median: median(pick(key)), max: pick(key).length > 0 ? Math.max(...pick(key)) : null });
  return {
    scenario: name,
    what: SCENARIOS[name].what,
    runs: mine.length,
    rolledBack: caught.length,
    promoted: mine.filter((run) => run.phase === 'Healthy').length,
    verdictAfterMs: stat('verdictAfterMs'),
    mttdMttrMs: stat('mttdMttrMs'),
    mttdMs: stat('mttdMs'),
    mttrMs: stat('mttrMs'),
    failedShare: stat('failedShare'),
    failedShareExposed: stat('failedShareExposed'),
    failed: stat('failed'),
    requests: stat('requests'),
    slowedOver150ms: stat('slowedOver150ms'),
    otherFailures: pick('otherFailures').reduce((sum, value) => sum + value, 0),
    ...(SCENARIOS[name].good ? { falseRollbackInterval95: clopperPearson(caught.length, mine.length) } : {}),
  };
});

// ---------------------------------------------------------------------------------------------
// Part 3: the peers, from their documented formulas (computed, not measured)

const PEER_SOURCES = {
  argoDocs: 'https://argoproj.github.io/argo-rollouts/features/analysis/ (docs/features/analysis.md in argoproj/argo-rollouts: the background analysis example uses interval 5m with failureLimit 3; "Failure Conditions and Failure Limit"; the count/interval example uses interval 60s)',
  argoDefaults: 'pkg/apis/rollouts/v1alpha1/analysis_types.go in argoproj/argo-rollouts: "FailureLimit is the maximum number of times the measurement is allowed to fail, before the entire metric is considered Failed (default: 0)"; interval has no default (without one, a single measurement)',
  flaggerDocs: 'https://docs.flagger.app/usage/deployment-strategies (docs/gitbook/usage/deployment-strategies.md in fluxcd/flagger): "the time it takes for a canary to be rollback when the metrics or webhook checks are failing: interval * threshold"; its example: interval 1m, threshold 10',
  flaggerDefaults: 'pkg/apis/flagger/v1beta1/canary.go in fluxcd/flagger: GetAnalysisInterval "(default 60s)", at least 10 s; GetAnalysisThreshold "(default 1)"',
};
const peers = [
  { tool: 'Argo Rollouts', config: 'interval 1m, failureLimit 0 (the default)', seconds: 60 * (0 + 1), formula: 'interval x (failureLimit + 1)' },
  { tool: 'Argo Rollouts', config: 'interval 1m, failureLimit 3', seconds: 60 * (3 + 1), formula: 'interval x (failureLimit + 1)' },
  { tool: 'Argo Rollouts', config: 'interval 5m, failureLimit 0', seconds: 300 * (0 + 1), formula: 'interval x (failureLimit + 1)' },
  { tool: 'Argo Rollouts', config: 'interval 5m, failureLimit 3 (its docs example)', seconds: 300 * (3 + 1), formula: 'interval x (failureLimit + 1)' },
  { tool: 'Flagger', config: 'interval 1m (default 60s), threshold 1 (the default)', seconds: 60 * 1, formula: 'interval x threshold' },
  { tool: 'Flagger', config: 'interval 1m, threshold 5', seconds: 60 * 5, formula: 'interval x threshold' },
  { tool: 'Flagger', config: 'interval 1m, threshold 10 (its docs example)', seconds: 60 * 10, formula: 'interval x threshold' },
  { tool: 'Flagger', config: 'interval 10s (its minimum), threshold 1', seconds: 10 * 1, formula: 'interval x threshold' },
];
const bad = summary.filter((row) => !SCENARIOS[row.scenario].good);
for (const peer of peers) {
  peer.ratioToOurs = Object.fromEntries(bad.map((row) => [row.scenario, row.mttdMttrMs.median ? round((peer.seconds * 1000) / row.mttdMttrMs.median, 1) : null]));
}

// ---------------------------------------------------------------------------------------------
// Tables

function table(rows, columns) {
  const cells = rows.map((row) => columns.map(([, value]) => String(value(row) ?? '-')));
  const widths = columns.map(([title], index) => Math.max(title.length, ...cells.map((cell) => cell[index].length)));
  const line = (values) => `| ${values.map((value, index) => value.padStart(widths[index])).join(' | ')} |`;
  return [line(columns.map(([title]) => title)), `|${widths.map((width) => '-'.repeat(width + 1) + ':').join('|')}|`, ...cells.map(line)].join('\n');
}
const pct = (value, digits = 2) => (value === null || value === undefined ? '-' : `${(value * 100).toFixed(digits)}%`);
const sec = (ms) => (ms === null || ms === undefined ? '-' : (ms / 1000).toFixed(2));

console.log(`\nBad canaries at ${weight}%, ${clients} clients; each run (t0 = first canary response, t1 = last)\n`);
console.log(
  table(runs, [
    ['scenario', (row) => row.scenario],
    ['rep', (row) => row.rep],
    ['outcome', (row) => row.phase],
    ['MTTD+MTTR s', (row) => sec(row.mttdMttrMs)],
    ['MTTD s', (row) => sec(row.mttdMs)],
    ['MTTR s', (row) => sec(row.mttrMs)],
    ['requests', (row) => row.requests],
    ['canary answered', (row) => row.canaryResponses],
    ['failed', (row) => row.failed],
    ['failed share', (row) => pct(row.failedShare)],
    ['share t0..t1', (row) => pct(row.failedShareExposed)],
    ['slowed >150ms', (row) => row.slowedOver150ms],
    ['other failures', (row) => row.otherFailures],
  ]),
);
console.log('\ndetected by:');
for (const run of runs) console.log(`  ${run.version}: ${run.detectedBy ?? run.reason}`);
console.log('\nSummary (median / max)\n');
console.log(
  table(summary, [
    ['scenario', (row) => row.scenario],
    ['rolled back', (row) => `${row.rolledBack}/${row.runs}`],
    ['promoted', (row) => `${row.promoted}/${row.runs}`],
    ['verdict after s', (row) => `${sec(row.verdictAfterMs.median)} / ${sec(row.verdictAfterMs.max)}`],
    ['MTTD+MTTR s', (row) => `${sec(row.mttdMttrMs.median)} / ${sec(row.mttdMttrMs.max)}`],
    ['MTTD s', (row) => `${sec(row.mttdMs.median)} / ${sec(row.mttdMs.max)}`],
    ['MTTR s', (row) => `${sec(row.mttrMs.median)} / ${sec(row.mttrMs.max)}`],
    ['failed', (row) => `${row.failed.median ?? '-'} / ${row.failed.max ?? '-'}`],
    ['failed share', (row) => `${pct(row.failedShare.median)} / ${pct(row.failedShare.max)}`],
    ['requests', (row) => `${row.requests.median ?? '-'}`],
  ]),
);
for (const row of summary.filter((each) => each.falseRollbackInterval95)) {
  const [lower, upper] = row.falseRollbackInterval95;
  console.log(`\n${row.scenario} (real rollouts of a canary identical to stable): ${row.rolledBack} of ${row.runs} rolled back (95% interval ${pct(lower, 1)}..${pct(upper, 1)})`);
  for (const run of runs.filter((each) => each.scenario === row.scenario && each.phase !== 'Healthy')) console.log(`  ${run.version}: ${run.detectedBy ?? run.reason}`);
}
console.log('\nPeers, computed from their documented formulas (not measured): time from a failing canary to rollback, and how many times our median MTTD+MTTR\n');
console.log(
  table(peers, [
    ['tool', (row) => row.tool],
    ['configuration', (row) => row.config],
    ['formula', (row) => row.formula],
    ['seconds', (row) => row.seconds],
    ...bad.map((row) => [`x ours (${row.scenario})`, (peer) => peer.ratioToOurs[row.scenario]]),
  ]),
);
if (identical) {
  console.log(`\nFalse rollbacks: ${identical.pairs.length} identical pairs, ${identical.recordedSeconds} s recorded, analyses of ${identical.simulated[0].secondsPerAnalysis} s each (count ${RUN.count}, interval ${RUN.interval}, widest window included)\n`);
  console.log(
    table(identical.simulated, [
      ['variant', (row) => row.name],
      ['analyses', (row) => row.analyses],
      ['rolled back', (row) => row.rolledBack],
      ['rate', (row) => pct(row.rate, 1)],
      ['95% interval (Clopper-Pearson)', (row) => `${pct(row.interval95[0], 1)}..${pct(row.interval95[1], 1)}`],
      ['inconclusive', (row) => row.inconclusive],
      ['incomplete', (row) => row.incomplete],
      ...Object.keys(TEMPLATES).map((name) => [`by ${name}`, (row) => row.byTemplate[name]]),
    ]),
  );
  console.log('\nmeasurement verdicts (as configured), per template:');
  for (const [name, counts] of Object.entries(identical.simulated[0].measurements)) {
    const judged = counts.Successful + counts.Failed + counts.Inconclusive;
    console.log(
      `  ${name}: ${counts.Successful} successful, ${counts.Failed} failed (${pct(judged > 0 ? counts.Failed / judged : null, 2)} of judged), ${counts.Inconclusive} inconclusive, ${counts.NoData} no data, ${counts.Error} errors` +
        `${TEMPLATES[name].judge.type === 'compare' ? `; the test found a real increase in ${counts.realIncrease} (${pct(judged > 0 ? counts.realIncrease / judged : null, 2)}, 1 - confidence = ${pct(1 - (TEMPLATES[name].judge.confidence ?? 0.98), 0)})` : ''}`,
    );
    if (counts.failedConcentration?.length > 0) {
      const inOne = counts.failedConcentration.filter((share) => share >= 0.5).length;
      console.log(`    in ${inOne} of its ${counts.failedConcentration.length} failed measurements, half or more of the candidate's slow requests fell in one second of the window`);
    }
    for (const [verdict, examples] of Object.entries(counts.examples)) for (const example of examples.slice(0, 2)) console.log(`    ${verdict}, e.g. ${example}`);
  }
}
if (serverLog.length > 0) {
  const byMessage = new Map();
  for (const entry of serverLog) byMessage.set(entry.msg, (byMessage.get(entry.msg) ?? 0) + 1);
  console.log(`\nthe server logged ${serverLog.length} warning(s) and error(s): ${[...byMessage].map(([msg, count]) => `${count} x "${msg}"`).join('; ')} (all in the JSON, serverLog)`);
}
const cpuText = (each) => (each ? `${each.machine} of ${cores} cores busy, ${each.ours} ours, ${each.other} others'` : '-');
console.log(`\nCPU during the scenarios: ${cpuText(cpu.scenarios)}; during the identical recording: ${cpuText(cpu.identical)}${(cpu.scenarios?.other ?? 0) > 0.3 || (cpu.identical?.other ?? 0) > 0.3 ? ' (the machine was shared: other processes took CPU, figures are noisier)' : ''}`);

const out = writeResults({
  root,
  name: 'detection',
  script: fileURLToPath(import.meta.url),
  startedAt,
  out: args.out,
  body: {
    machine,
    cpuBusyCores: cpu,
    options: { reps, controlReps, scenarios, clients, weight, pairWeight, pairs, identicalSeconds },
    analysis: { templates: TEMPLATES, run: RUN, score },
    definitions: {
      t0: 'end of the first response carrying the canary in x-promote-version',
      t1: 'end of the last such response: traffic is back on stable',
      mttdMttr: 't1 - t0',
      mttd: "t0 to the takenAt of the first Failed measurement (promote explain --json)",
      mttr: 'that measurement to t1',
      failed: "the canary's 5xx and unanswered requests plus its responses slower than 1 s",
      failedShare: 'failed / every response of the scenario (deploy call to the end of the rollout)',
      failedShareExposed: 'failed / every response between t0 and t1',
    },
    runs,
    summary,
    peers: { computedNotMeasured: true, sources: PEER_SOURCES, rows: peers },
    identical,
    serverLog,
    cleanup: { problems, survivors },
  },
});
console.log(`\nwrote ${relative(process.cwd(), out)}`);
