import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/system/processes.js';
import { startRouter, table } from '../helpers/router.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';

const agent = new Agent({ keepAliveTimeout: 10_000, connections: 32 });
afterAll(async () => agent.close());

async function call(url: string, headers: Record<string, string> = {}, method = 'GET') {
  const response = await request(url, { dispatcher: agent, headers, method });
  await response.body.dump();
  return { status: response.statusCode, headers: response.headers, version: String(response.headers['x-promote-version']) };
}


describe('router: routing through a real proxy', () => {
  let v1: TestUpstream;
  let v2: TestUpstream;
  beforeAll(async () => {
    v1 = await startUpstream('v1');
    v2 = await startUpstream('v2');
  });

  it('splits traffic by weight', async () => {
    const { url } = await startRouter(table([['v2', 30, [v2.url]], ['v1', 70, [v1.url]]]));
    const results = await Promise.all(Array.from({ length: 2_000 }, () => call(url)));
    const canary = results.filter((result) => result.version === 'v2').length / results.length;
    // 2000 draws at p=0.3: the standard deviation is about 1 point; 5 points is far outside chance
    expect(canary).toBeGreaterThan(0.25);
    expect(canary).toBeLessThan(0.35);
  });

  it('sets a sticky cookie and keeps its holder on one version while the canary grows', async () => {
    const { url, router } = await startRouter(table([['v2', 20, [v2.url]], ['v1', 80, [v1.url]]], { canary: 'v2', sticky: { cookie: 'promote_sticky' } }));
    const visitors: Array<{ cookie: string; version: string }> = [];
    for (let index = 0; index < 200; index++) {
      const first = await call(url);
      const setCookies = [first.headers['set-cookie']].flat().map(String);
      const cookie = setCookies.find((each) => each.startsWith('promote_sticky='))?.split(';')[0];
      expect(setCookies).toContain('upstream=1; Path=/');
      expect(cookie).toMatch(/^promote_sticky=[0-9a-f]+$/);
      visitors.push({ cookie: cookie!, version: first.version });
    }
    for (const visitor of visitors.slice(0, 20)) {
      for (let again = 0; again < 5; again++) expect((await call(url, { cookie: visitor.cookie })).version).toBe(visitor.version);
    }
    router.apply(table([['v2', 60, [v2.url]], ['v1', 40, [v1.url]]], { revision: 2, canary: 'v2', sticky: { cookie: 'promote_sticky' } }));
    for (const visitor of visitors.filter((each) => each.version === 'v2')) expect((await call(url, { cookie: visitor.cookie })).version).toBe('v2');
    const moved = visitors.filter((each) => each.version === 'v1');
    const nowCanary = await Promise.all(moved.map(async (visitor) => (await call(url, { cookie: visitor.cookie })).version === 'v2'));
    // 40 of the 80 stable points moved: about half of the stable visitors, and no one moved back
    expect(nowCanary.filter(Boolean).length / moved.length).toBeGreaterThan(0.3);
    expect(nowCanary.filter(Boolean).length / moved.length).toBeLessThan(0.7);
  });

  it('routes API versions by prefix and header and marks the retired one', async () => {
    const { url } = await startRouter(table([['v2', 100, [v2.url]], ['v1', 0, [v1.url]]], {
      stable: 'v2',
      apiRoutes: [
        { pathPrefix: '/api/v1', version: 'v1', stripPrefix: true, deprecated: { since: '2026-01-01T00:00:00Z', sunset: '2027-06-30T00:00:00Z', link: 'https://example.com/migrate' } },
        { header: { name: 'Accept-Version', value: '1' }, version: 'v1' },
      ],
    }));
    const retired = await request(`${url}/api/v1/orders?page=2`, { dispatcher: agent });
    const seen = (await retired.body.json()) as { url: string; version: string };
    expect(seen).toMatchObject({ version: 'v1', url: '/orders?page=2' });
    expect(retired.headers.deprecation).toBe(`@${Date.parse('2026-01-01T00:00:00Z') / 1000}`);
    expect(retired.headers.sunset).toBe('Wed, 30 Jun 2027 00:00:00 GMT');
    expect(retired.headers.link).toBe('<https://example.com/migrate>; rel="deprecation"');
    expect((await call(`${url}/api/v10/orders`)).version).toBe('v2');
    expect((await call(`${url}/orders`, { 'accept-version': '1' })).version).toBe('v1');
  });

  it('mirrors safe requests to the canary and throws the copy\'s answer away', async () => {
    const { url, router } = await startRouter(table([['v2', 0, [v2.url]], ['v1', 100, [v1.url]]], { canary: 'v2', mirror: { percent: 100 } }));
    const before = v2.received.length;
    for (let index = 0; index < 20; index++) expect((await call(`${url}/mirrored/${index}`)).version).toBe('v1');
    expect((await call(`${url}/write`, {}, 'POST')).version).toBe('v1');
    await sleep(200);
    const copies = v2.received.slice(before);
    expect(copies.filter((record) => record.url.startsWith('/mirrored/'))).toHaveLength(20);
    expect(copies.every((record) => record.headers['x-promote-mirror'] === '1')).toBe(true);
    expect(copies.some((record) => record.url === '/write')).toBe(false);
    const metrics = await router.metrics.registry.metrics();
    expect(metrics).toMatch(/promote_router_mirrored_requests_total\{version="v2",class="2xx"\} 20/);
  });

  it('lets an in-flight request finish on its version after the weights move away from it', async () => {
    const { url, router } = await startRouter(table([['v2', 0, [v2.url]], ['v1', 100, [v1.url]]]));
    const slow = request(`${url}/slow?delay=400`, { dispatcher: agent });
    await sleep(100);
    router.apply(table([['v2', 100, [v2.url]]], { revision: 2 }));
    const response = await slow;
    expect(response.statusCode).toBe(200);
    expect(((await response.body.json()) as { version: string }).version).toBe('v1');
    expect((await call(url)).version).toBe('v2');
  });

  it('advertises a keep-alive timeout, so clients close idle connections before the router does', async () => {
    const { url } = await startRouter(table([['v1', 100, [v1.url]]]), { timeouts: { connect: 1_000, request: 10_000, idle: 65_000 } });
    expect((await call(url)).headers['keep-alive']).toBe('timeout=65');
  });
});

describe('router: health and the circuit breaker', () => {
  let v1: TestUpstream;
  beforeAll(async () => {
    v1 = await startUpstream('v1');
  });

  it('moves on to another instance when one refuses connections, then ejects it', async () => {
    const dead = `http://127.0.0.1:${await freePort()}`;
    const { url, router } = await startRouter(table([['v1', 100, [dead, v1.url]]]));
    const results = await Promise.all(Array.from({ length: 30 }, () => call(url, {}, 'POST')));
    expect(results.every((result) => result.status === 200)).toBe(true);
    const state = router.state();
    expect(state.instances.find((instance) => instance.url === dead)?.ejectedUntil).not.toBeNull();
  });

  it('sends a version\'s share to the others when all its instances are down, and says so', async () => {
    const changes: Array<{ version: string; available: boolean }> = [];
    const dead = `http://127.0.0.1:${await freePort()}`;
    const { url } = await startRouter(table([['v2', 50, [dead]], ['v1', 50, [v1.url]]], { canary: 'v2', override: { header: 'X-Promote-Version', cookie: 'promote_version' } }), { onAvailabilityChange: (change) => changes.push(change) });
    const results = [];
    for (let index = 0; index < 60; index++) results.push(await call(url));
    // requests the weights sent to the dead canary could not connect, so stable served them: none failed
    expect(results.every((result) => result.status === 200 && result.version === 'v1')).toBe(true);
    expect(changes).toContainEqual({ version: 'v2', available: false });
    // a tester who asks for the dead canary by name is told so, not silently given stable
    expect((await call(url, { 'x-promote-version': 'canary' })).status).toBe(503);
  });

  it('takes an instance out when its readiness path fails and brings it back when it passes', async () => {
    const flaky = await startUpstream('v2');
    const { url, router } = await startRouter(table([['v2', 50, [flaky.url]], ['v1', 50, [v1.url]]]), { health: { path: '/healthz', interval: 100, timeout: 500, unhealthyAfter: 1 } });
    await sleep(250);
    expect(router.state().available.sort()).toEqual(['v1', 'v2']);
    flaky.ready = false;
    await sleep(350);
    expect(router.state().available).toEqual(['v1']);
    const whileDown = await Promise.all(Array.from({ length: 40 }, () => call(url)));
    expect(whileDown.every((result) => result.status === 200 && result.version === 'v1')).toBe(true);
    flaky.ready = true;
    await sleep(350);
    expect(router.state().available.sort()).toEqual(['v1', 'v2']);
  });
});

describe('router: slow clients', () => {
  it('cuts off a client that trickles its headers, without disturbing others', async () => {
    const upstream = await startUpstream('v1');
    const { url, port } = await startRouter(table([['v1', 100, [upstream.url]]]), { timeouts: { connect: 1_000, request: 1_500, idle: 65_000 } });
    const socket = connect(port, '127.0.0.1');
    let reply = '';
    socket.on('data', (chunk: Buffer) => (reply += chunk.toString()));
    const closed = new Promise((resolve) => socket.once('close', resolve));
    socket.write('GET / HTTP/1.1\r\nHost: x\r\n');
    const drip = setInterval(() => socket.writable && socket.write('X-Drip: 1\r\n'), 200);
    for (let index = 0; index < 5; index++) expect((await call(url)).status).toBe(200);
    await closed;
    clearInterval(drip);
    expect(reply).toMatch(/^HTTP\/1\.1 408/);
  }, 10_000);
});
