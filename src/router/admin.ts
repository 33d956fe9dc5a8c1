import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { wrapError } from '../errors.js';
import type { Router } from './server.js';

/**
 * The router's admin port: Prometheus metrics, liveness, the applied routing table and health, and
 * the rolling windows the analysis reads. Kept off the traffic port so clients never reach it.
 */
export class RouterAdmin {
  private readonly server: Server;

  constructor(
    private readonly router: Router,
    private readonly options: { host: string; port: number },
  ) {
    this.server = createServer((request, response) => {
      const url = new URL(request.url ?? '/', 'http://admin');
      const send = (status: number, body: string, type = 'application/json') => {
        response.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
        response.end(body);
      };
      if (request.method !== 'GET') return send(405, JSON.stringify({ error: 'only GET' }));
      switch (url.pathname) {
        case '/metrics':
          router.metrics.registry
            .metrics()
            .then((text) => send(200, text, router.metrics.registry.contentType))
            .catch((error: unknown) => send(500, JSON.stringify({ error: String(error) })));
          return;
        case '/healthz':
          return send(200, JSON.stringify({ ok: true, revision: router.revision ?? null }));
        case '/state':
          return send(200, JSON.stringify(router.state()));
        case '/window': {
          const seconds = Number(url.searchParams.get('seconds') ?? '60');
          const version = url.searchParams.get('version');
          if (!Number.isInteger(seconds) || seconds < 1 || seconds > 3600) return send(400, JSON.stringify({ error: 'seconds: expected a whole number from 1 to 3600' }));
          const versions = version ? [version] : router.metrics.versions();
          return send(200, JSON.stringify(versions.map((name) => router.metrics.window(name, seconds))));
        }
        case '/series': {
          // per-bucket points per version for the dashboard's charts: /series?seconds=300&step=5
          const seconds = Number(url.searchParams.get('seconds') ?? '300');
          const step = Number(url.searchParams.get('step') ?? '5');
          if (!Number.isInteger(seconds) || seconds < 1 || seconds > 3600) return send(400, JSON.stringify({ error: 'seconds: expected a whole number from 1 to 3600' }));
          if (!Number.isInteger(step) || step < 1 || step > seconds) return send(400, JSON.stringify({ error: 'step: expected a whole number of seconds from 1 to seconds' }));
          return send(200, JSON.stringify({ seconds: Math.min(seconds, router.metrics.windowSeconds), step, versions: router.metrics.versions().map((name) => ({ version: name, points: router.metrics.series(name, seconds, step) })) }));
        }
        default:
          return send(404, JSON.stringify({ error: `no ${url.pathname}; try /metrics, /healthz, /state, /window?version=&seconds= or /series?seconds=&step=` }));
      }
    });
  }

  async listen(): Promise<AddressInfo> {
    try {
      await new Promise<void>((resolve, reject) => {
        this.server.once('error', reject);
        this.server.listen(this.options.port, this.options.host, () => resolve());
      });
    } catch (error) {
      throw wrapError(`starting the router admin port on ${this.options.host}:${this.options.port}`, error);
    }
    return this.server.address() as AddressInfo;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
