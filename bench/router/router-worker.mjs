// Promote's router, built output, with a static routing table and no database, for the benchmark.
//
//   node bench/router/router-worker.mjs --port 18082 --upstream http://127.0.0.1:18081 [--workers 1]
//
// With --workers N > 1 the primary forks N workers with node:cluster, each a Router on the same port
// (the primary accepts connections and hands them out round robin, Node's default on Linux).
// Prints "ready <port>" on stdout once every worker listens. Needs `npm run build` first.
import cluster from 'node:cluster';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '18082' },
    host: { type: 'string', default: '127.0.0.1' },
    upstream: { type: 'string', default: 'http://127.0.0.1:18081' },
    workers: { type: 'string', default: '1' },
  },
});
const workers = Math.max(1, Number(values.workers));
const serverModule = new URL('../../dist/router/server.js', import.meta.url);

if (!existsSync(fileURLToPath(serverModule))) {
  console.error(`${fileURLToPath(serverModule)} is missing: run \`npm run build\` first`);
  process.exit(2);
}

async function startRouter() {
  const { Router } = await import(serverModule.href);
  const router = new Router({
    host: values.host,
    port: Number(values.port),
    // the values the test helper uses: 1 s connect, 10 s request, 65 s idle client connections
    timeouts: { connect: 1_000, request: 10_000, idle: 65_000 },
  });
  router.apply({ revision: 1, versions: [{ name: 'v1', weight: 100, upstreams: [values.upstream] }], stable: 'v1' });
  const address = await router.listen();
  let closing = false;
  process.on('SIGTERM', () => {
    if (closing) return;
    closing = true;
    router.close(500).then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
  return address;
}

if (workers === 1) {
  const address = await startRouter();
  console.log(`ready ${address.port}`);
} else if (cluster.isPrimary) {
  let listening = 0;
  let stopping = false;
  for (let index = 0; index < workers; index++) cluster.fork();
  cluster.on('listening', () => {
    if (++listening === workers) console.log(`ready ${values.port}`);
  });
  cluster.on('exit', (worker, code, signal) => {
    if (!stopping) {
      console.error(`router worker ${worker.process.pid} exited (${signal ?? code})`);
      process.exit(1);
    }
  });
  process.on('SIGTERM', () => {
    stopping = true;
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGTERM');
    setTimeout(() => process.exit(0), 1_000).unref();
    cluster.on('exit', () => {
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
    });
  });
} else {
  await startRouter();
}
