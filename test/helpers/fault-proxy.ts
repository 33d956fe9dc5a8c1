/**
 * A TCP fault proxy for tests, in the spirit of Shopify's toxiproxy: put it between a client and a
 * real server (router and instance, app and PostgreSQL) and inject latency, jitter, bandwidth limits,
 * resets, timeouts, half-open connections, slicing, slow closes or a dead listener, per direction and
 * for a seeded share of connections. The fault model is in fault-proxy-faults.ts, a connection's
 * forwarding in fault-proxy-connection.ts.
 *
 *   const proxy = await startFaultProxy({ target: { host: '127.0.0.1', port }, seed: 7 });
 *   await proxy.set({ latency: { ms: 100, jitterMs: 20 }, reset: { probability: 0.1 } });
 *   ... requests to proxy.url('/orders'), or pg on proxy.through(databaseUrl) ...
 *   await proxy.clear();
 *
 * set() replaces every fault at once, on new and open connections (data already delayed keeps its
 * delay). Closed after the test file unless closeAfterFile is false.
 */
import { createServer, type Server } from 'node:net';
import { randomInt } from 'node:crypto';
import { afterFile } from './cleanup.js';
import { FaultConnection } from './fault-proxy-connection.js';
import { FAULT_KINDS, validateFaults, type Direction, type FaultCounts, type Faults } from './fault-proxy-faults.js';

export type * from './fault-proxy-faults.js';

export interface FaultProxyOptions {
  target: { host?: string; port: number };
  listen?: { host?: string; port?: number };
  /** seeds every random decision (which connections a fault hits, jitter, slice sizes); random when absent, see proxy.seed */
  seed?: number;
  /** the faults in force from the start (default none) */
  faults?: Faults;
  closeAfterFile?: boolean;
}

export interface FaultProxyStats {
  /** connections accepted since start (refused ones while down are not seen) */
  accepted: number;
  /** connections still open, hung ones included */
  active: number;
  /** bytes forwarded: upstream = client to target, downstream = target to client */
  bytes: Record<Direction, number>;
  /** connections each fault was applied to (each set() counts again); down: connections dropped by it */
  faults: FaultCounts;
}

export interface FaultProxy {
  readonly host: string;
  readonly port: number;
  /** host:port to connect to */
  readonly address: string;
  /** the seed in use: log it to replay a failing run */
  readonly seed: number;
  /** http://host:port plus path */
  url(path?: string): string;
  /** the same URL (postgres://..., http://...) with host and port pointing at the proxy */
  through(url: string): string;
  /** replaces the faults; resolves once the listener is up or down as asked */
  set(faults: Faults): Promise<void>;
  clear(): Promise<void>;
  faults(): Faults;
  stats(): FaultProxyStats;
  /** destroys every connection and the listener; leaves no timer behind */
  close(): Promise<void>;
}

export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const target = { host: options.target.host ?? '127.0.0.1', port: options.target.port };
  const host = options.listen?.host ?? '127.0.0.1';
  const seed = options.seed ?? randomInt(2 ** 31);
  const connections = new Set<FaultConnection>();
  const counts = { accepted: 0, bytes: { upstream: 0, downstream: 0 }, faults: zeroCounts() };
  let current: Faults = {};
  let nextId = 0;
  let closed = false;
  let closing: Promise<void> | undefined;

  const connectionHost = {
    forwarded: (direction: Direction, bytes: number) => {
      counts.bytes[direction] += bytes;
    },
    applied: (kind: keyof FaultCounts) => {
      counts.faults[kind]++;
    },
    finished: (connection: FaultConnection) => {
      connections.delete(connection);
    },
  };

  const server: Server = createServer({ allowHalfOpen: true }, (socket) => {
    if (closed || current.down) {
      socket.destroy();
      return;
    }
    counts.accepted++;
    connections.add(new FaultConnection(nextId++, socket, target, seed, current, connectionHost));
  });
  server.on('error', () => {}); // listen errors reach the caller through listen()

  const listen = (port: number) =>
    new Promise<void>((resolve, reject) => {
      const failed = (error: Error) => reject(error);
      server.once('error', failed);
      server.listen(port, host, () => {
        server.off('error', failed);
        resolve();
      });
    });
  const stopListening = () => new Promise<void>((resolve) => server.close(() => resolve()));

  await listen(options.listen?.port ?? 0);
  const port = (server.address() as { port: number }).port;

  // listening up or down follows `down`; the changes are chained so quick set() calls stay in order
  let listening = Promise.resolve();
  const syncListener = () => {
    listening = listening.then(async () => {
      const wanted = !closed && !current.down;
      if (wanted && !server.listening) await listen(port);
      else if (!wanted && server.listening) await stopListening();
    });
    return listening;
  };

  const set = (faults: Faults): Promise<void> => {
    if (closed) return Promise.reject(new Error('fault proxy: set() after close()'));
    validateFaults(faults);
    current = structuredClone(faults);
    for (const connection of [...connections]) {
      if (current.down) {
        counts.faults.down++;
        connection.destroy();
      } else {
        connection.apply(current);
      }
    }
    return syncListener();
  };

  const proxy: FaultProxy = {
    host,
    port,
    address: `${host}:${port}`,
    seed,
    url: (path = '') => `http://${host}:${port}${path}`,
    through: (url) => {
      const parsed = new URL(url);
      parsed.hostname = host;
      parsed.port = String(port);
      return parsed.toString();
    },
    set,
    clear: () => set({}),
    faults: () => structuredClone(current),
    stats: () => ({
      accepted: counts.accepted,
      active: connections.size,
      bytes: { ...counts.bytes },
      faults: { ...counts.faults },
    }),
    close: () => {
      closing ??= (async () => {
        closed = true;
        for (const connection of [...connections]) connection.destroy();
        await syncListener();
      })();
      return closing;
    },
  };
  if (options.faults) await set(options.faults);
  if (options.closeAfterFile !== false) afterFile(`closing the fault proxy on ${proxy.address}`, () => proxy.close());
  return proxy;
}

function zeroCounts(): FaultCounts {
  const counts = { down: 0 } as FaultCounts;
  for (const kind of FAULT_KINDS) counts[kind] = 0;
  return counts;
}
