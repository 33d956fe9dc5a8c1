// Router benchmark: the same load generators against the same upstream, three ways —
// direct, through Promote's router (1 and 2 node:cluster workers), through nginx (1 and 2 workers,
// an equivalent reverse proxy with upstream keep-alive) — in one run.
//
//   npm run build && node bench/router/run.mjs [--duration 10] [--connections 50]
//
// Options (all optional):
//   --duration S            measured seconds per loaded case (default 10)
//   --warmup S              warm-up seconds before each loaded case, not measured (default 2)
//   --connections N         concurrent connections of the loaded cases (default 50)
//   --light-duration S      measured seconds per light-load latency case, 0 to skip (default 5)
//   --light-connections N   connections of the light-load cases (default 1)
//   --generators LIST       wrk,autocannon (default: both; wrk only when installed)
//   --targets LIST          direct,router-1,router-2,nginx-1,nginx-2 (default: all; nginx only when installed)
//   --upstream-workers N    processes of the upstream (default 1)
//   --no-pin                do not pin processes to cores with taskset
//   --build                 run `npm run build` first
//   --out FILE              where the JSON goes (default bench/results/router-<date>.json)
//
// All traffic stays on 127.0.0.1. Loaded cases are closed-loop (each connection sends its next
// request when the previous answer arrives), so their latency is mostly queueing; the light-load
// cases (1 connection) show what one hop costs a single request.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { createServer } from 'node:net';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { TICKS, descendants, machineTicks, processTicks } from '../lib/cpu.mjs';
import { writeResults } from '../lib/results.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const HOST = '127.0.0.1';

const { values: args } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '2' },
    connections: { type: 'string', default: '50' },
    'light-duration': { type: 'string', default: '5' },
    'light-connections': { type: 'string', default: '1' },
    generators: { type: 'string' },
    targets: { type: 'string' },
    'upstream-workers': { type: 'string', default: '1' },
    'no-pin': { type: 'boolean', default: false },
    build: { type: 'boolean', default: false },
    out: { type: 'string' },
  },
});
const duration = Number(args.duration);
const warmup = Number(args.warmup);
const connections = Number(args.connections);
const lightDuration = Number(args['light-duration']);
const lightConnections = Number(args['light-connections']);
const upstreamWorkers = Number(args['upstream-workers']);

// ---------------------------------------------------------------------------------------------
// Preconditions: the built router, the tools

const serverJs = join(root, 'dist', 'router', 'server.js');
if (args.build) {
  console.log('building: npm run build');
  execFileSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });
}
if (!existsSync(serverJs)) {
  console.error(`${relative(root, serverJs)} is missing: run \`npm run build\` first (or pass --build)`);
  process.exit(2);
}
{
  const built = statSync(serverJs).mtimeMs;
  const srcDir = join(root, 'src', 'router');
  const newer = readdirSync(srcDir).filter((name) => name.endsWith('.ts') && !name.endsWith('.test.ts') && statSync(join(srcDir, name)).mtimeMs > built);
  if (newer.length > 0) console.warn(`warning: dist is older than src/router/{${newer.join(',')}}: the benchmark runs the built code; run \`npm run build\` for the current source`);
  else console.log(`router: ${relative(root, serverJs)} (built ${new Date(built).toISOString()})`);
}

function which(command) {
  try {
    return execFileSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}
function versionOf(command, flag) {
  // nginx -v and wrk -v print on stderr, and wrk -v exits 1
  const result = spawnSync(command, [flag], { encoding: 'utf8' });
  return `${result.stdout ?? ''}${result.stderr ?? ''}`.trim().split('\n')[0] || null;
}
const tools = { wrk: which('wrk'), nginx: which('nginx'), taskset: which('taskset') };
const cores = availableParallelism();
const pin = !args['no-pin'] && tools.taskset !== undefined && cores >= 2;

const generators = (args.generators ?? 'wrk,autocannon').split(',').filter((name) => {
  if (name === 'wrk' && !tools.wrk) {
    console.warn('wrk is not installed (apt-get install -y wrk): autocannon only');
    return false;
  }
  return name === 'wrk' || name === 'autocannon';
});
const allTargets = [
  { name: 'direct', kind: 'direct', workers: 0 },
  { name: 'router-1', kind: 'router', workers: 1 },
  { name: 'router-2', kind: 'router', workers: 2 },
  { name: 'nginx-1', kind: 'nginx', workers: 1 },
  { name: 'nginx-2', kind: 'nginx', workers: 2 },
];
const wanted = new Set((args.targets ?? allTargets.map((target) => target.name).join(',')).split(','));
wanted.add('direct'); // every added latency is measured against it
const targets = allTargets.filter((target) => {
  if (!wanted.has(target.name)) return false;
  if (target.kind === 'nginx' && !tools.nginx) {
    console.warn(`nginx is not installed (apt-get install -y nginx): skipping ${target.name}`);
    return false;
  }
  return true;
});

// ---------------------------------------------------------------------------------------------
// Core layout. The load generator and the upstream share the last core; the proxy gets the others
// (with 2 cores: core 0 for one worker, both cores for two workers). Nothing is isolated: the
// machine is shared, and a 2-worker proxy on a 2-core box competes with the load generator.

const lastCore = String(cores - 1);
const clientCores = pin ? lastCore : undefined;
function proxyCores(workers) {
  if (!pin) return undefined;
  if (workers <= cores - 1) return workers === 1 ? '0' : `0-${workers - 1}`;
  return `0-${cores - 1}`;
}
function pinned(cpus, command, commandArgs) {
  return cpus === undefined ? [command, commandArgs] : [tools.taskset, ['-c', cpus, command, ...commandArgs]];
}

// ---------------------------------------------------------------------------------------------
// Processes

const children = new Set();
function start(name, cpus, command, commandArgs, options = {}) {
  const [file, fileArgs] = pinned(cpus, command, commandArgs);
  const child = spawn(file, fileArgs, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], ...options });
  children.add(child);
  child.output = '';
  child.stdout.on('data', (chunk) => (child.output += chunk));
  child.stderr.on('data', (chunk) => (child.output += chunk));
  child.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  child.exited.then(() => children.delete(child));
  child.label = name;
  return child;
}

async function waitForLine(child, pattern, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (pattern.test(child.output)) return;
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${child.label} exited early:\n${child.output}`);
    await sleep(50);
  }
  throw new Error(`${child.label} did not get ready within ${timeoutMs} ms:\n${child.output}`);
}

async function stop(child, signal = 'SIGTERM') {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await child.exited;
  clearTimeout(timer);
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
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

function fetchOnce(url) {
  return new Promise((resolve, reject) => {
    const request = get(url, { agent: false }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode, headers: response.headers, body }));
    });
    request.on('error', reject);
    request.setTimeout(2_000, () => request.destroy(new Error('timeout')));
  });
}

async function waitForHttp(url, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    try {
      const response = await fetchOnce(url);
      if (response.status === 200) return response;
      last = new Error(`status ${response.status}`);
    } catch (error) {
      last = error;
    }
    await sleep(100);
  }
  throw new Error(`${url} did not answer 200 within ${timeoutMs} ms: ${last?.message}`);
}

// ---------------------------------------------------------------------------------------------
// CPU accounting from /proc: utime+stime of a process tree, and of the whole machine

/** CPU seconds used so far by each process of the tree, keyed by pid (exited ones simply vanish) */
function treeTicks(pid) {
  const ticks = new Map();
  for (const one of descendants(pid)) {
    const value = processTicks(one);
    if (value !== undefined) ticks.set(one, value);
  }
  return ticks;
}

function cpuSnapshot(pids) {
  return { at: performance.now(), trees: Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, pid ? treeTicks(pid) : new Map()])), machine: machineTicks() };
}

/** cores used (CPU seconds per second) by each tree between two snapshots */
function cpuBetween(before, after) {
  const seconds = (after.at - before.at) / 1000;
  const result = {};
  for (const name of Object.keys(after.trees)) {
    let ticks = 0;
    for (const [pid, value] of after.trees[name]) ticks += value - (before.trees[name].get(pid) ?? value);
    result[name] = round(ticks / TICKS / seconds, 2);
  }
  const machineCores = ((after.machine.busy - before.machine.busy) / (after.machine.total - before.machine.total)) * cores;
  result.machine = round(machineCores, 2);
  result.other = round(Math.max(0, machineCores - (result.proxy ?? 0) - (result.upstream ?? 0) - (result.loadgen ?? 0)), 2);
  return result;
}

function round(value, digits = 0) {
  if (value === null || value === undefined || Number.isNaN(value)) return null;
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

// ---------------------------------------------------------------------------------------------
// Load generators

function generatorCommand(generator, url, connectionCount, seconds) {
  if (generator === 'wrk') {
    const threads = Math.max(1, Math.min(connectionCount, pin ? 1 : cores));
    return [tools.wrk, ['-t', String(threads), '-c', String(connectionCount), '-d', `${seconds}s`, '--timeout', '5s', '-s', join(here, 'wrk-report.lua'), url]];
  }
  return [process.execPath, [join(here, 'load-autocannon.mjs'), '--url', url, '--connections', String(connectionCount), '--duration', String(seconds)]];
}

/**
 * One load-generator run. CPU is sampled from 1 s after the start (autocannon's start-up done) to
 * 0.5 s before the end, so the figures describe the steady state.
 */
async function load(generator, url, connectionCount, seconds, pids) {
  const [command, commandArgs] = generatorCommand(generator, url, connectionCount, seconds);
  const child = start(generator, clientCores, command, commandArgs);
  let before;
  let after;
  const sampleFrom = Math.min(1_000, seconds * 250);
  const sampleTo = Math.max(sampleFrom + 200, seconds * 1000 - 500);
  const first = setTimeout(() => (before = cpuSnapshot({ ...pids, loadgen: child.pid })), sampleFrom);
  const second = setTimeout(() => (after = cpuSnapshot({ ...pids, loadgen: child.pid })), sampleTo);
  const { code } = await child.exited;
  clearTimeout(first);
  clearTimeout(second);
  const marker = generator === 'wrk' ? 'WRK_JSON ' : 'AUTOCANNON_JSON ';
  const line = child.output.split('\n').find((text) => text.startsWith(marker));
  if (code !== 0 || !line) throw new Error(`${generator} failed (exit ${code}):\n${child.output}`);
  const raw = JSON.parse(line.slice(marker.length));
  const elapsed = generator === 'wrk' ? raw.duration_us / 1e6 : raw.duration_s;
  const errors = generator === 'wrk' ? raw.connect_errors + raw.read_errors + raw.write_errors + raw.timeouts : raw.errors + raw.timeouts;
  return {
    rps: round(raw.requests / elapsed),
    requests: raw.requests,
    seconds: round(elapsed, 2),
    errors,
    non2xx: raw.non2xx,
    p50_ms: round(raw.p50_us / 1000, 3),
    p90_ms: round(raw.p90_us / 1000, 3),
    p99_ms: round(raw.p99_us / 1000, 3),
    mean_ms: round(raw.mean_us / 1000, 3),
    max_ms: round(raw.max_us / 1000, 3),
    cpu: before && after ? cpuBetween(before, after) : null,
  };
}

// ---------------------------------------------------------------------------------------------
// Proxies under test

async function startRouter(workers, port, upstreamUrl) {
  const child = start(`router x${workers}`, proxyCores(workers), process.execPath, [join(here, 'router-worker.mjs'), '--port', String(port), '--upstream', upstreamUrl, '--workers', String(workers)]);
  await waitForLine(child, /^ready /m);
  return child;
}

function nginxConfig(dir, workers, port, upstreamPort) {
  return `# generated by bench/router/run.mjs: an nginx reverse proxy equivalent to the router's setup
worker_processes ${workers};
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events {
  worker_connections 4096;
}
http {
  access_log off;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  # Node's server closes neither after N requests; nginx's default would close every 1000
  keepalive_requests 1000000;
  keepalive_timeout 65s;
  upstream app {
    server ${HOST}:${upstreamPort};
    keepalive 64;
    keepalive_requests 1000000;
    keepalive_timeout 60s;
  }
  server {
    listen ${HOST}:${port};
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      # what the router does: the client's Host and X-Forwarded-*, and a version header on the answer
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Forwarded-Host $http_host;
      proxy_connect_timeout 1s;
      proxy_read_timeout 10s;
      add_header X-Promote-Version v1;
    }
  }
}
`;
}

async function startNginx(workers, port, upstreamPort, scratch) {
  const dir = join(scratch, `nginx-${workers}`);
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  const file = join(dir, 'nginx.conf');
  writeFileSync(file, nginxConfig(dir, workers, port, upstreamPort));
  const child = start(`nginx x${workers}`, proxyCores(workers), tools.nginx, ['-p', dir, '-e', join(dir, 'error.log'), '-c', file, '-g', 'daemon off;']);
  try {
    await waitForHttp(`http://${HOST}:${port}/`);
  } catch (error) {
    let log = '';
    try {
      log = readFileSync(join(dir, 'error.log'), 'utf8');
    } catch {
      // no log yet
    }
    await stop(child);
    throw new Error(`${error.message}\n${child.output}\n${log}`);
  }
  return child;
}

// ---------------------------------------------------------------------------------------------
// The run

const scratch = mkdtempSync(join(tmpdir(), 'promote-bench-'));
async function cleanup() {
  for (const child of [...children].reverse()) await stop(child);
  rmSync(scratch, { recursive: true, force: true });
}
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    console.error(`\n${signal}: stopping the benchmark's processes`);
    cleanup().finally(() => process.exit(130));
  });
}

const startedAt = new Date();
const machine = {
  date: startedAt.toISOString(),
  nproc: cores,
  cpu: (readFileSync('/proc/cpuinfo', 'utf8').match(/^model name\s*:\s*(.*)$/m) ?? [])[1] ?? 'unknown',
  node: process.version,
  nginx: tools.nginx ? versionOf(tools.nginx, '-v') : null,
  wrk: tools.wrk ? versionOf(tools.wrk, '-v') : null,
  autocannon: JSON.parse(readFileSync(join(root, 'node_modules', 'autocannon', 'package.json'), 'utf8')).version,
  undici: JSON.parse(readFileSync(join(root, 'node_modules', 'undici', 'package.json'), 'utf8')).version,
  commit: (() => {
    try {
      const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim();
      const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: root, encoding: 'utf8' }).trim() !== '';
      return dirty ? `${head} (src/ has uncommitted changes)` : head;
    } catch {
      return null;
    }
  })(),
  loadavgBefore: loadavg().map((value) => round(value, 2)),
};
const layout = pin
  ? { pinned: true, loadgenAndUpstream: `core ${clientCores}`, proxy1: `core ${proxyCores(1)}`, proxy2: `cores ${proxyCores(2)}` }
  : { pinned: false, note: tools.taskset ? 'pinning disabled (--no-pin)' : cores < 2 ? 'one core: nothing to pin' : 'taskset not installed' };

const plan = targets.length * (generators.length * (warmup + duration) + (lightDuration > 0 ? generators.length * (1 + lightDuration) : 0));
console.log(`machine: ${machine.nproc} cores, ${machine.cpu}, node ${machine.node}, ${machine.nginx ?? 'no nginx'}, ${machine.wrk ?? 'no wrk'}, autocannon ${machine.autocannon}, undici ${machine.undici}`);
console.log(`layout: ${pin ? `load generator + upstream on core ${clientCores}; proxy x1 on core ${proxyCores(1)}, x2 on cores ${proxyCores(2)}` : layout.note}`);
console.log(`plan: targets ${targets.map((target) => target.name).join(', ')}; generators ${generators.join(', ')}; ${connections} connections, ${warmup} s warm-up + ${duration} s each${lightDuration > 0 ? `; light load ${lightConnections} connection(s) ${lightDuration} s` : ''}; about ${Math.ceil(plan / 60)} min\n`);

const results = [];
let upstream;
try {
  const upstreamPort = await freePort();
  const upstreamUrl = `http://${HOST}:${upstreamPort}`;
  upstream = start('upstream', clientCores, process.execPath, [join(here, 'upstream.mjs'), '--port', String(upstreamPort), '--workers', String(upstreamWorkers)]);
  await waitForLine(upstream, /^ready /m);
  const expected = (await waitForHttp(`${upstreamUrl}/`)).body;

  for (const target of targets) {
    let proxy;
    let url = `${upstreamUrl}/`;
    if (target.kind !== 'direct') {
      const port = await freePort();
      url = `http://${HOST}:${port}/`;
      proxy = target.kind === 'router' ? await startRouter(target.workers, port, upstreamUrl) : await startNginx(target.workers, port, upstreamPort, scratch);
      const check = await waitForHttp(url);
      if (check.body !== expected) throw new Error(`${target.name} answered ${JSON.stringify(check.body)}, not the upstream's body`);
    }
    const pids = { proxy: proxy?.pid, upstream: upstream.pid };
    try {
      for (const generator of generators) {
        await load(generator, url, connections, warmup, pids);
        const measured = await load(generator, url, connections, duration, pids);
        results.push({ target: target.name, kind: target.kind, workers: target.workers, generator, phase: 'load', connections, ...measured });
        console.log(`${target.name.padEnd(9)} ${generator.padEnd(10)} ${String(connections).padStart(3)} conn  ${String(measured.rps).padStart(6)} req/s  p50 ${measured.p50_ms.toFixed(2)} ms  p99 ${measured.p99_ms.toFixed(2)} ms${measured.cpu ? `  cpu proxy ${measured.cpu.proxy ?? '-'} upstream ${measured.cpu.upstream} loadgen ${measured.cpu.loadgen} other ${measured.cpu.other}` : ''}${measured.errors + measured.non2xx > 0 ? `  ERRORS ${measured.errors} non-2xx ${measured.non2xx}` : ''}`);
      }
      if (lightDuration > 0) {
        for (const generator of generators) {
          await load(generator, url, lightConnections, 1, pids);
          const measured = await load(generator, url, lightConnections, lightDuration, pids);
          results.push({ target: target.name, kind: target.kind, workers: target.workers, generator, phase: 'light', connections: lightConnections, ...measured });
          console.log(`${target.name.padEnd(9)} ${generator.padEnd(10)} ${String(lightConnections).padStart(3)} conn  ${String(measured.rps).padStart(6)} req/s  p50 ${measured.p50_ms.toFixed(3)} ms  p99 ${measured.p99_ms.toFixed(3)} ms${measured.errors + measured.non2xx > 0 ? `  ERRORS ${measured.errors} non-2xx ${measured.non2xx}` : ''}`);
        }
      }
    } finally {
      if (proxy) await stop(proxy);
    }
  }
} catch (error) {
  console.error(`benchmark failed: ${error.stack ?? error}`);
  await cleanup();
  process.exit(1);
}
await cleanup();
machine.loadavgAfter = loadavg().map((value) => round(value, 2));

// ---------------------------------------------------------------------------------------------
// Derived figures: added latency against direct, throughput ratios, per-core throughput

for (const row of results) {
  const direct = results.find((other) => other.target === 'direct' && other.generator === row.generator && other.phase === row.phase);
  row.added_p50_ms = row.kind === 'direct' ? 0 : round(row.p50_ms - direct.p50_ms, 3);
  row.added_p99_ms = row.kind === 'direct' ? 0 : round(row.p99_ms - direct.p99_ms, 3);
  row.vs_direct = round(row.rps / direct.rps, 3);
  // requests per second per core of CPU the proxy (all its processes) actually used
  row.rps_per_proxy_core = row.kind !== 'direct' && row.cpu?.proxy > 0 ? round(row.rps / row.cpu.proxy) : null;
}

const ratios = [];
for (const generator of generators) {
  for (const workers of [1, 2]) {
    const router = results.find((row) => row.kind === 'router' && row.workers === workers && row.generator === generator && row.phase === 'load');
    const nginx = results.find((row) => row.kind === 'nginx' && row.workers === workers && row.generator === generator && row.phase === 'load');
    const routerLight = results.find((row) => row.kind === 'router' && row.workers === workers && row.generator === generator && row.phase === 'light');
    if (!router) continue;
    ratios.push({
      generator,
      workers,
      router_over_direct: router.vs_direct,
      router_over_nginx: nginx ? round(router.rps / nginx.rps, 3) : null,
      router_over_nginx_per_core: nginx && router.rps_per_proxy_core && nginx.rps_per_proxy_core ? round(router.rps_per_proxy_core / nginx.rps_per_proxy_core, 3) : null,
      router_added_p50_ms_light: routerLight?.added_p50_ms ?? null,
      router_added_p50_ms_load: router.added_p50_ms,
      nginx_added_p50_ms_light: results.find((row) => row.kind === 'nginx' && row.workers === workers && row.generator === generator && row.phase === 'light')?.added_p50_ms ?? null,
    });
  }
}

function table(rows, columns) {
  const cells = rows.map((row) => columns.map(([, value]) => String(value(row) ?? '-')));
  const widths = columns.map(([title], index) => Math.max(title.length, ...cells.map((cell) => cell[index].length)));
  const line = (values) => `| ${values.map((value, index) => value.padStart(widths[index])).join(' | ')} |`;
  return [line(columns.map(([title]) => title)), `|${widths.map((width) => '-'.repeat(width + 1) + ':').join('|')}|`, ...cells.map(line)].join('\n');
}
const fixed = (digits) => (value) => (value === null || value === undefined ? '-' : value.toFixed(digits));

console.log(`\nLoaded: ${connections} connections, ${duration} s per case (added = minus direct, same generator, same run)\n`);
console.log(
  table(
    results.filter((row) => row.phase === 'load'),
    [
      ['generator', (row) => row.generator],
      ['target', (row) => row.target],
      ['req/s', (row) => row.rps],
      ['p50 ms', (row) => fixed(2)(row.p50_ms)],
      ['p99 ms', (row) => fixed(2)(row.p99_ms)],
      ['added p50', (row) => fixed(2)(row.added_p50_ms)],
      ['added p99', (row) => fixed(2)(row.added_p99_ms)],
      ['proxy cores', (row) => fixed(2)(row.cpu?.proxy)],
      ['req/s per proxy core', (row) => row.rps_per_proxy_core],
      ['upstream cores', (row) => fixed(2)(row.cpu?.upstream)],
      ['loadgen cores', (row) => fixed(2)(row.cpu?.loadgen)],
      ['other cores', (row) => fixed(2)(row.cpu?.other)],
      ['errors', (row) => row.errors + row.non2xx],
    ],
  ),
);
if (lightDuration > 0) {
  console.log(`\nLight load: ${lightConnections} connection(s), ${lightDuration} s per case\n`);
  console.log(
    table(
      results.filter((row) => row.phase === 'light'),
      [
        ['generator', (row) => row.generator],
        ['target', (row) => row.target],
        ['req/s', (row) => row.rps],
        ['p50 ms', (row) => fixed(3)(row.p50_ms)],
        ['p99 ms', (row) => fixed(3)(row.p99_ms)],
        ['added p50', (row) => fixed(3)(row.added_p50_ms)],
        ['added p99', (row) => fixed(3)(row.added_p99_ms)],
        ['errors', (row) => row.errors + row.non2xx],
      ],
    ),
  );
}
console.log('\nRatios at the same worker count (throughput from the loaded cases)\n');
console.log(
  table(ratios, [
    ['generator', (row) => row.generator],
    ['workers', (row) => row.workers],
    ['router/direct req/s', (row) => fixed(2)(row.router_over_direct)],
    ['router/nginx req/s', (row) => fixed(2)(row.router_over_nginx)],
    ['router/nginx per core', (row) => fixed(2)(row.router_over_nginx_per_core)],
    ['router added p50 (light)', (row) => fixed(3)(row.router_added_p50_ms_light)],
    ['nginx added p50 (light)', (row) => fixed(3)(row.nginx_added_p50_ms_light)],
    ['router added p50 (loaded)', (row) => fixed(2)(row.router_added_p50_ms_load)],
  ]),
);
console.log(
  `\nTargets: router adds <= 1 ms at p50 (light load); router reaches >= 50% of nginx's req/s per core of CPU used.` +
    `\nThe ${cores} cores are shared by the load generator, the upstream, the proxy and whatever else runs on the machine ("other cores"); "per core" divides by the CPU the proxy's processes actually used.`,
);

const out = writeResults({
  root,
  name: 'router',
  script: fileURLToPath(import.meta.url),
  startedAt,
  out: args.out,
  body: {
    machine,
    layout,
    options: { duration, warmup, connections, lightDuration, lightConnections, generators, upstreamWorkers, targets: targets.map((target) => target.name) },
    results,
    ratios,
  },
});
console.log(`\nwrote ${relative(process.cwd(), out)}`);
