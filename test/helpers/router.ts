import { afterFile } from './cleanup.js';
import { Router, type RouterOptions } from '../../src/router/server.js';
import type { TrafficConfig } from '../../src/router/traffic.js';

/** A router on a free loopback port, closed after the file's tests. */
export async function startRouter(config: TrafficConfig | undefined, options: Partial<RouterOptions> = {}): Promise<{ router: Router; url: string; port: number }> {
  const router = new Router({ host: '127.0.0.1', port: 0, timeouts: { connect: 1_000, request: 10_000, idle: 65_000 }, ...options });
  if (config) router.apply(config);
  const address = await router.listen();
  afterFile('closing the test router', async () => router.close(1_000));
  return { router, url: `http://127.0.0.1:${address.port}`, port: address.port };
}

export function table(versions: Array<[name: string, weight: number, upstreams: string[]]>, extra: Partial<TrafficConfig> = {}): TrafficConfig {
  return {
    revision: extra.revision ?? 1,
    versions: versions.map(([name, weight, upstreams]) => ({ name, weight, upstreams })),
    stable: extra.stable ?? versions.at(-1)![0],
    ...extra,
  };
}
