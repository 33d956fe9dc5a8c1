// What authentication costs a request: the same API, in the same run, without authentication, with a
// Bearer API token, and with a dashboard session cookie, on a read (GET /api/me: the check plus a small
// answer) and a store read (GET /api/rollouts). Each check is one indexed lookup of the token's (or
// session's) sha256; the ratio is against the server without authentication.
//
//   npm run build && node bench/auth/overhead.mjs [--duration 5] [--connections 10] [--out FILE]
//
// autocannon runs in this process against servers on loopback, so absolute figures include its own
// CPU; the ratios between the three ways in are the point.
import { availableParallelism, cpus, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { request } from 'undici';
import { startApiStack } from '../lib/api-stack.mjs';
import { writeResults } from '../lib/results.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const dist = (path) => import(join(root, 'dist', path));
const { buildServer } = await dist('server/app.js');
const { createToken } = await dist('auth/tokens.js');
const { parseBinding } = await dist('auth/bindings.js');

const { values: args } = parseArgs({ options: { duration: { type: 'string', default: '5' }, connections: { type: 'string', default: '10' }, out: { type: 'string' } } });
const duration = Number(args.duration);
const connections = Number(args.connections);
const startedAt = new Date();

const stack = await startApiStack({ root, prefix: 'promote-bench-auth-', app: 'shop', environments: ['staging', 'production'], serverOptions: { auth: 'tokens', web: false } });
const open = await buildServer({ pool: stack.pool, spec: stack.spec, auth: 'none', web: false });
const openBase = await open.listen({ host: '127.0.0.1', port: 0 });
const { secret } = await createToken(stack.pool, { name: 'bench', bindings: [parseBinding('viewer')], actor: 'bench' });
const signIn = await request(`${stack.base}/api/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: secret }) });
await signIn.body.dump();
const cookie = String(signIn.headers['set-cookie']).split(';')[0];

const ways = [
  { name: 'none', base: openBase, headers: {} },
  { name: 'bearer token', base: stack.base, headers: { authorization: `Bearer ${secret}` } },
  { name: 'session cookie', base: stack.base, headers: { cookie } },
];
const rows = [];
try {
  for (const path of ['/api/me', '/api/rollouts']) {
    for (const way of ways) {
      const result = await autocannon({ url: `${way.base}${path}`, connections, duration, headers: way.headers });
      if (result.non2xx > 0) throw new Error(`${way.name} ${path}: ${result.non2xx} answers were not 2xx`);
      rows.push({ path, way: way.name, requestsPerSecond: Math.round(result.requests.average), p50Ms: result.latency.p50, p99Ms: result.latency.p99 });
    }
  }
} finally {
  await open.close();
  await stack.close();
}
for (const row of rows) {
  const none = rows.find((each) => each.path === row.path && each.way === 'none');
  row.throughputVsNone = Number((row.requestsPerSecond / none.requestsPerSecond).toFixed(2));
}
console.log(`\nAuthentication overhead (${connections} connections, ${duration} s each, loopback)\n`);
console.log(['path', 'way in', 'req/s', 'p50 ms', 'p99 ms', 'req/s vs none'].join('\t'));
for (const row of rows) console.log([row.path, row.way, row.requestsPerSecond, row.p50Ms, row.p99Ms, row.throughputVsNone].join('\t'));
const machine = { cpus: availableParallelism(), model: cpus()[0]?.model, memoryGiB: Math.round(totalmem() / 2 ** 30) };
const path = writeResults({ root, name: 'auth-overhead', script: fileURLToPath(import.meta.url), startedAt, out: args.out, body: { startedAt: startedAt.toISOString(), machine, duration, connections, rows } });
console.log(`\nwritten to ${path}`);
