// A minimal, fast upstream for the router benchmark: node:http, keep-alive, a small fixed JSON body
// with Content-Length. Runs in its own process so it never shares an event loop with the proxy.
//
//   node bench/router/upstream.mjs --port 18081 [--host 127.0.0.1] [--workers 1]
//
// Prints "ready <port>" on stdout once every process listens.
import cluster from 'node:cluster';
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '18081' },
    host: { type: 'string', default: '127.0.0.1' },
    workers: { type: 'string', default: '1' },
  },
});
const port = Number(values.port);
const workers = Math.max(1, Number(values.workers));

const BODY = Buffer.from(JSON.stringify({ ok: true, service: 'bench-upstream', items: [1, 2, 3, 4, 5] }));
const HEADERS = { 'content-type': 'application/json', 'content-length': String(BODY.length) };

function serve(onListening) {
  const server = createServer((request, response) => {
    // a request body, if any, is read and dropped; the benchmark sends none
    if (request.readableEnded) {
      response.writeHead(200, HEADERS);
      response.end(BODY);
      return;
    }
    request.resume();
    request.once('end', () => {
      response.writeHead(200, HEADERS);
      response.end(BODY);
    });
  });
  // longer than any run: a proxy's pooled connection is never closed under it mid-benchmark
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  server.listen(port, values.host, onListening);
  return server;
}

if (workers === 1) {
  const server = serve(() => console.log(`ready ${port}`));
  process.on('SIGTERM', () => {
    server.closeAllConnections();
    server.close(() => process.exit(0));
  });
} else if (cluster.isPrimary) {
  let listening = 0;
  for (let index = 0; index < workers; index++) cluster.fork();
  cluster.on('listening', () => {
    if (++listening === workers) console.log(`ready ${port}`);
  });
  process.on('SIGTERM', () => {
    for (const worker of Object.values(cluster.workers ?? {})) worker?.kill('SIGTERM');
    setTimeout(() => process.exit(0), 200).unref();
  });
} else {
  const server = serve(() => undefined);
  process.on('SIGTERM', () => {
    server.closeAllConnections();
    server.close(() => process.exit(0));
  });
}
