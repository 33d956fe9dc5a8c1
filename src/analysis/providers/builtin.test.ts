import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { request as send } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRouter, table } from '../../../test/helpers/router.js';
import { startUpstream } from '../../../test/helpers/upstream.js';
import { PromoteError } from '../../errors.js';
import { RouterAdmin } from '../../router/admin.js';
import { analysisTemplateSchema } from '../../spec/schema-analysis.js';
import { freePort } from '../../system/processes.js';
import { ProviderError, type MeasureRequest } from '../types.js';
import { adminBaseUrl } from './builtin.js';
import { createProvider } from './index.js';

// at the top level, not in beforeAll: vitest drops an afterAll registered inside a hook (the helpers' cleanup)
const v1 = await startUpstream('v1');
const v2 = await startUpstream('v2');
const started = await startRouter(table([['v2', 50, [v2.url]], ['v1', 50, [v1.url]]], { canary: 'v2', override: { header: 'X-Promote-Version', cookie: 'promote_version' } }));
const router = started.router;
const admin = new RouterAdmin(router, { host: '127.0.0.1', port: 0 });
const adminAddress = `127.0.0.1:${(await admin.listen()).port}`;
afterAll(() => admin.close());
// accepts connections and never answers
const held = new Set<Socket>();
const silent: Server = createServer((socket) => {
  held.add(socket);
  socket.resume();
  socket.once('close', () => held.delete(socket));
});
await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
afterAll(async () => {
  for (const socket of held) socket.destroy();
  await new Promise((resolve) => silent.close(resolve));
});

beforeAll(async () => {

  // real requests through the router: v1 answers 20 fast and 5 slow, v2 fails 4 with 500 and 2 without an answer
  const through = async (version: string, path: string, times: number) => {
    for (let i = 0; i < times; i++) await (await send(`${started.url}${path}`, { headers: { 'x-promote-version': version } })).body.dump();
  };
  await Promise.all([through('v1', '/', 20), through('v1', '/?delay=60', 5), through('v2', '/', 24), through('v2', '/?status=500', 4), through('v2', '/reset', 2)]);
  // windows hold complete seconds only: wait for the second the last request finished in to end
  await new Promise((resolve) => setTimeout(resolve, 1_020 - (Date.now() % 1_000)));
});

/** `null`: an environment without a router */
function provider(metric: string, routerAdmin: string | null = adminAddress) {
  return createProvider(analysisTemplateSchema.shape.provider.parse({ type: 'builtin', metric, window: '60s' }), { configDir: '/', ...(routerAdmin === null ? {} : { routerAdmin }) });
}
const request = (version: string, signal = new AbortController().signal): MeasureRequest => ({ app: 'shop', environment: 'production', version, signal });

describe('builtin provider', () => {
  it('error_rate: 5xx and no-answer among all requests, with the counts for proportion tests', async () => {
    const data = await provider('error_rate').measure(request('v2'));
    expect(data).toMatchObject({ value: 6 / 30, events: 6, total: 30, support: 30 });
    expect(data.source).toMatchObject({ version: 'v2', seconds: 60, requests: 30, byClass: { '2xx': 24, '5xx': 4, error: 2 } });
    expect(data.value).toBe(router.metrics.window('v2', 60).errorRate);
    expect((await provider('error_rate').measure(request('v1'))).value).toBe(0);
  });

  it('looks back no further than the analysis started, in whole seconds, at least one', async () => {
    const since = (ago: number) => ({ ...request('v1'), since: Date.now() - ago });
    expect((await provider('request_rate').measure(since(3_500))).source).toMatchObject({ seconds: 3 });
    expect((await provider('request_rate').measure(since(200))).source).toMatchObject({ seconds: 1 });
    expect((await provider('request_rate').measure(since(3_600_000))).source).toMatchObject({ seconds: 60 });
  });

  it('request_rate: requests per second over the window', async () => {
    expect(await provider('request_rate').measure(request('v1'))).toMatchObject({ value: 25 / 60, support: 25 });
  });

  it('latency percentiles in ms, and the raw samples in ms for distribution tests', async () => {
    const p50 = await provider('latency_p50').measure(request('v1'));
    const p99 = await provider('latency_p99').measure(request('v1'));
    expect(p50.value).toBeLessThan(60);
    expect(p99.value).toBeGreaterThanOrEqual(60);
    expect(p99.value).toBeLessThan(1_000);
    const expected = router.metrics.window('v1', 60).latencyMicros!;
    expect(p99.value).toBeCloseTo(expected.p99 / 1000, 9);

    const latency = await provider('latency').measure(request('v1'));
    expect(latency.samples).toHaveLength(25);
    expect(latency.samples!.filter((ms) => ms >= 60)).toHaveLength(5);
    expect(latency.samples!.every((ms) => ms > 0 && ms < 1_000)).toBe(true);
    expect(latency.value).toBeCloseTo(expected.mean / 1000, 9);
    expect(latency.source).toMatchObject({ samples: 25, requests: 25 });
  });

  it('a version without requests is no data (support 0, no value), not an error', async () => {
    for (const metric of ['error_rate', 'latency_p95', 'request_rate', 'latency']) {
      const data = await provider(metric).measure(request('v3'));
      expect(data.support).toBe(0);
      expect(data.value).toBeUndefined();
      expect(data.samples).toBeUndefined();
    }
  });

  it('a router admin that does not answer is a ProviderError naming the address and what was asked', async () => {
    const port = await freePort();
    const failed = await provider('error_rate', `127.0.0.1:${port}`)
      .measure(request('v2'))
      .catch((error: unknown) => error);
    expect(failed).toBeInstanceOf(ProviderError);
    expect((failed as Error).message).toMatch(new RegExp(`^builtin error_rate: reading the router window of version v2 \\(60s\\) from http://127.0.0.1:${port}: .*ECONNREFUSED`));
  });

  it('something else on the admin address is a ProviderError with an excerpt of its answer', async () => {
    await expect(provider('error_rate', `127.0.0.1:${v1.port}`).measure(request('v2'))).rejects.toThrow(/unexpected answer \(is this a Promote router admin port\?\): \{"version":"v1"/);
  });

  it('stops at once when the measurement is aborted', async () => {
    const abort = new AbortController();
    const started = performance.now();
    const pending = provider('latency', `127.0.0.1:${(silent.address() as AddressInfo).port}`).measure(request('v2', abort.signal));
    setTimeout(() => abort.abort(), 50);
    await expect(pending).rejects.toThrow(/: aborted$/);
    expect(performance.now() - started).toBeLessThan(1_000);
  });

  it('needs the router admin address, and reads listen addresses as this machine', () => {
    expect(() => provider('error_rate', null)).toThrow(PromoteError);
    expect(() => provider('error_rate', null)).toThrow(/needs the environment's router \(router\.admin\)/);
    expect(adminBaseUrl('0.0.0.0:9464')).toBe('http://127.0.0.1:9464');
    expect(adminBaseUrl('[::]:9464')).toBe('http://[::1]:9464');
    expect(adminBaseUrl('router.internal:9464')).toBe('http://router.internal:9464');
    expect(adminBaseUrl('https://router.internal/admin/')).toBe('https://router.internal/admin');
  });
});
