import cluster, { type Worker } from 'node:cluster';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AggregatorRegistry } from 'prom-client';
import { wrapError } from '../errors.js';
import { LatencyHistogram } from './histogram.js';
import { STATUS_CLASSES, type StatusClass, type WindowSummary } from './metrics.js';
import type { Router } from './server.js';

/**
 * Several router processes on one port (node:cluster). Each worker is a whole router following the
 * routing table on its own; the primary only serves the admin port, asking every worker over IPC and
 * adding up their answers, so /metrics and /window describe all the traffic, not one worker's share.
 */

interface AdminRequest {
  promote: 'window' | 'state';
  id: number;
  version?: string;
  seconds?: number;
}

/** In a worker: answer the primary's admin questions and expose this router's registry to the aggregator. */
export function serveWorkerAdmin(router: Router): void {
  AggregatorRegistry.setRegistries([router.metrics.registry]);
  // constructing one installs prom-client's worker-side listener for the primary's metric requests
  new AggregatorRegistry();
  process.on('message', (message: AdminRequest) => {
    if (typeof message !== 'object' || message === null || !('promote' in message)) return;
    const answer =
      message.promote === 'state'
        ? router.state()
        : (message.version ? [message.version] : router.metrics.versions()).map((version) => router.metrics.window(version, message.seconds ?? 60));
    process.send?.({ promoteReply: message.id, answer });
  });
}

/** Adds up one version's windows from several workers. Counts are exact; percentiles come from the merged samples. */
export function mergeWindows(version: string, parts: readonly WindowSummary[]): WindowSummary {
  const byClass = Object.fromEntries(STATUS_CLASSES.map((name) => [name, 0])) as Record<StatusClass, number>;
  let requests = 0;
  let inFlight = 0;
  const samples: number[] = [];
  const histogram = new LatencyHistogram();
  let weightedMean = 0;
  let max = 0;
  for (const part of parts) {
    requests += part.requests;
    inFlight += part.inFlight;
    for (const name of STATUS_CLASSES) byClass[name] += part.byClass[name];
    for (const sample of part.samples) {
      samples.push(sample);
      histogram.record(sample);
    }
    if (part.latencyMicros) {
      weightedMean += part.latencyMicros.mean * part.requests;
      max = Math.max(max, part.latencyMicros.max);
    }
  }
  const first = parts[0];
  const seconds = first?.seconds ?? 1;
  return {
    version,
    seconds,
    from: first?.from ?? 0,
    to: first?.to ?? 0,
    requests,
    byClass,
    errorRate: requests === 0 ? 0 : (byClass['5xx'] + byClass.error) / requests,
    requestRate: requests / seconds,
    latencyMicros:
      samples.length === 0
        ? null
        : { p50: histogram.percentile(50), p90: histogram.percentile(90), p95: histogram.percentile(95), p99: histogram.percentile(99), max, mean: requests === 0 ? 0 : weightedMean / requests },
    samples,
    inFlight,
  };
}

export interface ClusterOptions {
  workers: number;
  admin: { host: string; port: number };
  /** called once every worker has started its router */
  onReady?: (admin: AddressInfo) => void;
}

/** In the primary: start the workers, serve the aggregated admin port, and stop everything on SIGINT/SIGTERM. */
export async function runRouterCluster(options: ClusterOptions): Promise<void> {
  const workers: Worker[] = [];
  const ready = new Set<number>();
  let nextId = 1;
  const aggregator = new AggregatorRegistry();

  const ask = (worker: Worker, question: Omit<AdminRequest, 'id'>) =>
    new Promise<unknown>((resolve) => {
      const id = nextId++;
      const onMessage = (message: { promoteReply?: number; answer?: unknown }) => {
        if (message.promoteReply !== id) return;
        worker.off('message', onMessage);
        resolve(message.answer);
      };
      worker.on('message', onMessage);
      worker.send({ ...question, id });
    });

  const admin: Server = createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://admin');
    const send = (status: number, body: string, type = 'application/json') => {
      response.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
      response.end(body);
    };
    const fail = (error: unknown) => send(500, JSON.stringify({ error: String(error) }));
    if (url.pathname === '/metrics') {
      aggregator.clusterMetrics().then((text) => send(200, text, aggregator.contentType), fail);
    } else if (url.pathname === '/healthz') {
      send(ready.size === options.workers ? 200 : 503, JSON.stringify({ ok: ready.size === options.workers, workers: ready.size }));
    } else if (url.pathname === '/state') {
      Promise.all(workers.map((worker) => ask(worker, { promote: 'state' }))).then((states) => send(200, JSON.stringify({ workers: states })), fail);
    } else if (url.pathname === '/window') {
      const seconds = Number(url.searchParams.get('seconds') ?? '60');
      const version = url.searchParams.get('version') ?? undefined;
      if (!Number.isInteger(seconds) || seconds < 1 || seconds > 3600) return send(400, JSON.stringify({ error: 'seconds: expected a whole number from 1 to 3600' }));
      Promise.all(workers.map((worker) => ask(worker, { promote: 'window', seconds, ...(version ? { version } : {}) }) as Promise<WindowSummary[]>))
        .then((answers) => {
          const byVersion = new Map<string, WindowSummary[]>();
          for (const summary of answers.flat()) byVersion.set(summary.version, [...(byVersion.get(summary.version) ?? []), summary]);
          send(200, JSON.stringify([...byVersion].map(([name, parts]) => mergeWindows(name, parts))));
        }, fail);
    } else {
      send(404, JSON.stringify({ error: `no ${url.pathname}` }));
    }
  });

  let stopping = false;
  let exited = 0;
  let announced = false;
  const allExited = new Promise<void>((resolve) => {
    cluster.on('exit', (worker, code) => {
      ready.delete(worker.id);
      if (!stopping && code !== 0) {
        // a crashed worker is replaced; its connections were lost, the others' were not
        workers.splice(workers.indexOf(worker), 1, cluster.fork());
      } else if (stopping && ++exited === workers.length) {
        resolve();
      }
    });
  });
  cluster.on('message', (worker, message: { routerReady?: boolean }) => {
    if (message.routerReady) ready.add(worker.id);
    if (ready.size === options.workers && !announced) {
      announced = true;
      options.onReady?.(admin.address() as AddressInfo);
    }
  });

  try {
    await new Promise<void>((resolve, reject) => {
      admin.once('error', reject);
      admin.listen(options.admin.port, options.admin.host, () => resolve());
    });
  } catch (error) {
    throw wrapError(`starting the router admin port on ${options.admin.host}:${options.admin.port}`, error);
  }
  for (let index = 0; index < options.workers; index++) workers.push(cluster.fork());
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  stopping = true;
  for (const worker of workers) worker.process.kill('SIGTERM');
  await allExited;
  admin.closeAllConnections();
  await new Promise<void>((resolve) => admin.close(() => resolve()));
}
