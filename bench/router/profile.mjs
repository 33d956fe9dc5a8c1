// A short CPU profile of one router worker under load, summarised by self time.
//
//   npm run build && node bench/router/profile.mjs [--seconds 8] [--connections 50] [--top 30]
//
// Starts the upstream and one router (`node --cpu-prof`), loads it with wrk (autocannon when wrk is
// missing) for a few seconds, stops the router so V8 writes the .cpuprofile, and prints the
// functions with the most self time, the same grouped by where the code lives, and the inclusive
// time of the router's own functions. With taskset and 2+ cores the router runs on core 0 and the
// upstream and load generator on the last core, as in run.mjs. Traffic stays on 127.0.0.1.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '8' },
    connections: { type: 'string', default: '50' },
    top: { type: 'string', default: '30' },
    keep: { type: 'boolean', default: false },
  },
});
if (!existsSync(join(root, 'dist', 'router', 'server.js'))) {
  console.error('dist/router/server.js is missing: run `npm run build` first');
  process.exit(2);
}
const which = (command) => {
  try {
    return execFileSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
};
const wrk = which('wrk');
const taskset = which('taskset');
const cores = availableParallelism();
const pin = taskset && cores >= 2;
const pinned = (cpus, command, commandArgs) => (pin ? [taskset, ['-c', cpus, command, ...commandArgs]] : [command, commandArgs]);
const clientCore = String(cores - 1);

const freePort = () =>
  new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
const run = (name, [command, commandArgs]) => {
  const child = spawn(command, commandArgs, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  child.output = '';
  child.stdout.on('data', (chunk) => (child.output += chunk));
  child.stderr.on('data', (chunk) => (child.output += chunk));
  child.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  child.label = name;
  return child;
};
const ready = async (child) => {
  for (let waited = 0; waited < 15_000; waited += 50) {
    if (/^ready /m.test(child.output)) return;
    if (child.exitCode !== null) throw new Error(`${child.label} exited:\n${child.output}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${child.label} not ready:\n${child.output}`);
};

const dir = mkdtempSync(join(tmpdir(), 'promote-prof-'));
const upstreamPort = await freePort();
const routerPort = await freePort();
const upstream = run('upstream', pinned(clientCore, process.execPath, [join(here, 'upstream.mjs'), '--port', String(upstreamPort)]));
await ready(upstream);
const router = run('router', pinned('0', process.execPath, ['--cpu-prof', `--cpu-prof-dir=${dir}`, join(here, 'router-worker.mjs'), '--port', String(routerPort), '--upstream', `http://127.0.0.1:${upstreamPort}`]));
await ready(router);
const url = `http://127.0.0.1:${routerPort}/`;
const seconds = Number(args.seconds);
const load = wrk
  ? run('wrk', pinned(clientCore, wrk, ['-t1', '-c', args.connections, '-d', `${seconds}s`, url]))
  : run('autocannon', pinned(clientCore, process.execPath, [join(here, 'load-autocannon.mjs'), '--url', url, '--connections', args.connections, '--duration', String(seconds)]));
await load.exited;
console.log(`${load.label} against the profiled router (${pin ? 'router on core 0, upstream and load generator on core ' + clientCore : 'not pinned'}):`);
console.log(load.output.trim().split('\n').filter((line) => /Requests\/sec|Latency|AUTOCANNON_JSON/.test(line)).join('\n'));
router.kill('SIGTERM');
await router.exited;
upstream.kill('SIGTERM');
await upstream.exited;

const file = readdirSync(dir).find((name) => name.endsWith('.cpuprofile'));
if (!file) {
  console.error(`no .cpuprofile written in ${dir}\n${router.output}`);
  process.exit(1);
}
const profile = JSON.parse(readFileSync(join(dir, file), 'utf8'));

// self time per node from the samples and their time deltas
const selfMicros = new Map();
profile.samples.forEach((id, index) => selfMicros.set(id, (selfMicros.get(id) ?? 0) + (profile.timeDeltas[index] ?? 0)));
const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const parent = new Map();
for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
const total = [...selfMicros.values()].reduce((sum, value) => sum + value, 0);
const idle = [...selfMicros].filter(([id]) => byId.get(id).callFrame.functionName === '(idle)').reduce((sum, [, value]) => sum + value, 0);
const busy = total - idle;

const shortUrl = (url) => url.replace(`file://${root}/`, '').replace(/^.*node_modules\//, '');
const frameKey = (frame) => `${frame.functionName || '(anonymous)'}  ${shortUrl(frame.url)}${frame.url ? `:${frame.lineNumber + 1}` : ''}`;
const place = (frame) => {
  const url = frame.url;
  if (!url) return frame.functionName.startsWith('(') ? frame.functionName : '(native/builtin)';
  if (url.includes('/dist/router/')) return `promote ${shortUrl(url)}`;
  if (url.includes('node_modules/undici/')) return 'undici';
  if (url.includes('node_modules/prom-client/')) return 'prom-client';
  if (url.includes('node_modules/')) return shortUrl(url).split('/')[0];
  if (url.startsWith('node:')) return url.replace(/^node:internal\/(.*)$/, 'node:$1');
  return shortUrl(url);
};

const selfByFunction = new Map();
const selfByPlace = new Map();
for (const [id, micros] of selfMicros) {
  const frame = byId.get(id).callFrame;
  if (frame.functionName === '(idle)') continue;
  selfByFunction.set(frameKey(frame), (selfByFunction.get(frameKey(frame)) ?? 0) + micros);
  selfByPlace.set(place(frame), (selfByPlace.get(place(frame)) ?? 0) + micros);
}
// inclusive time of the router's own functions (each sample counted once per distinct function on its stack)
const inclusive = new Map();
for (const [id, micros] of selfMicros) {
  const seen = new Set();
  for (let node = id; node !== undefined; node = parent.get(node)) {
    const frame = byId.get(node).callFrame;
    if (!frame.url.includes('/dist/router/')) continue;
    const key = frameKey(frame);
    if (seen.has(key)) continue;
    seen.add(key);
    inclusive.set(key, (inclusive.get(key) ?? 0) + micros);
  }
}

const percent = (micros) => `${((micros / busy) * 100).toFixed(1).padStart(5)} %`;
const top = Number(args.top);
console.log(`\nprofile: ${(total / 1e6).toFixed(1)} s sampled, ${((busy / total) * 100).toFixed(0)} % busy; shares below are of busy time`);
console.log('\nself time by place:');
for (const [key, micros] of [...selfByPlace].sort((a, b) => b[1] - a[1]).slice(0, 20)) console.log(`  ${percent(micros)}  ${key}`);
console.log(`\nself time, top ${top} functions:`);
for (const [key, micros] of [...selfByFunction].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`  ${percent(micros)}  ${key}`);
console.log('\ninclusive time of promote functions:');
for (const [key, micros] of [...inclusive].sort((a, b) => b[1] - a[1]).slice(0, 20)) console.log(`  ${percent(micros)}  ${key}`);
if (args.keep) console.log(`\nprofile kept: ${join(dir, file)} (open it in Chrome DevTools > Performance)`);
else rmSync(dir, { recursive: true, force: true });
