/**
 * The answer timeout (router.timeouts.answer), through a real Router and real upstream servers on
 * loopback: a "hung" upstream accepts connections and reads requests but never answers (what a
 * SIGSTOPped process looks like from the router, minus the kernel's backlog).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { seededRandom } from '../system/seeded-random.js';
import { ActiveHealth } from './health.js';
import { Router, type RouterTimeouts } from './server.js';
import type { TrafficConfig } from './traffic.js';
import { Upstreams } from './upstreams.js';

interface Upstream {
  url: string;
  /** method of every request received, in order */
  received: string[];
  close(): Promise<void>;
}

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

async function upstream(name: string, hung: boolean): Promise<Upstream> {
  const received: string[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((request: IncomingMessage, response: ServerResponse) => {
    received.push(request.method ?? '?');
    request.resume();
    if (hung) return;
    request.once('end', () => response.end(`served by ${name}`));
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const close = async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  closers.push(close);
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, received, close };
}

async function router(config: TrafficConfig, timeouts: RouterTimeouts): Promise<{ router: Router; url: string }> {
  const instance = new Router({ host: '127.0.0.1', port: 0, timeouts });
  instance.apply(config);
  const address = await instance.listen();
  closers.push(() => instance.close(500));
  return { router: instance, url: `http://127.0.0.1:${address.port}` };
}

async function send(url: string, init: RequestInit = {}): Promise<{ status: number; body: string }> {
  const response = await fetch(url, init);
  return { status: response.status, body: await response.text() };
}

async function counter(target: Router, name: string, url: string): Promise<number> {
  const metric = await target.metrics.registry.getSingleMetric(name)!.get();
  return metric.values.filter((each) => each.labels.instance === url).reduce((sum, each) => sum + each.value, 0);
}

const timeouts = { connect: 1_000, request: 10_000, idle: 65_000, answer: 300 };

describe('a hung instance beside a healthy one', () => {
  it('answers every GET from the healthy instance, long before the request timeout, and ejects the hung one', async () => {
    const hung = await upstream('hung', true);
    const healthy = await upstream('healthy', false);
    const { router: target, url } = await router({ revision: 1, stable: 'v1', versions: [{ name: 'v1', weight: 100, upstreams: [hung.url, healthy.url] }] }, timeouts);

    const started = Date.now();
    // concurrent, so several of them meet the hung instance before it is ejected
    const answers = await Promise.all(Array.from({ length: 12 }, (_, index) => send(`${url}/item/${index}`)));
    const elapsed = Date.now() - started;
    expect(answers).toEqual(answers.map(() => ({ status: 200, body: 'served by healthy' })));
    // none waited for the request timeout (10 s): each was moved after its answer timeout
    expect(elapsed).toBeLessThan(timeouts.request / 2);
    expect(hung.received.length).toBeGreaterThanOrEqual(3);

    // three timeouts in a row eject it, like three refused connections; counted per instance
    const state = target.state().instances.find((each) => each.url === hung.url)!;
    expect(state.consecutiveFailures).toBeGreaterThanOrEqual(3);
    expect(state.ejectedUntil).not.toBeNull();
    expect(await counter(target, 'promote_router_upstream_answer_timeouts_total', hung.url)).toBe(hung.received.length);
    expect(await counter(target, 'promote_router_upstream_answer_timeouts_total', healthy.url)).toBe(0);
    expect(await counter(target, 'promote_router_retries_total', hung.url)).toBe(hung.received.length);
    // the router counted each request once, where it was answered: no error anywhere
    expect(await counter(target, 'promote_router_requests_total', healthy.url)).toBe(12);
    expect(await counter(target, 'promote_router_requests_total', hung.url)).toBe(0);

    // ejected: the next GETs go straight to the healthy instance
    const before = hung.received.length;
    for (let index = 0; index < 4; index++) expect((await send(`${url}/after`)).status).toBe(200);
    expect(hung.received.length).toBe(before);
  });

  it('does not move a POST with a body, with or without an Idempotency-Key: it gets 504 at the request timeout', async () => {
    const hung = await upstream('hung', true);
    const healthy = await upstream('healthy', false);
    const { url } = await router({ revision: 1, stable: 'v1', versions: [{ name: 'v1', weight: 100, upstreams: [hung.url, healthy.url] }] }, { ...timeouts, request: 1_500 });
    const post = (headers: Record<string, string>) => send(`${url}/orders`, { method: 'POST', body: '{"total":1}', headers: { 'content-type': 'application/json', ...headers } });
    // round robin: of two requests at once, one goes to each instance
    const plain = await Promise.all([post({}), post({})]);
    expect(plain.map((each) => each.status).sort()).toEqual([200, 504]);
    const keyed = await Promise.all([post({ 'idempotency-key': 'a' }), post({ 'idempotency-key': 'b' })]);
    expect(keyed.map((each) => each.status).sort()).toEqual([200, 504]);
    // each POST reached one instance exactly once
    expect(hung.received).toEqual(['POST', 'POST']);
    expect(healthy.received).toEqual(['POST', 'POST']);
  });

  it('with the answer timeout off (0), a GET sent to the hung instance waits for the request timeout', async () => {
    const hung = await upstream('hung', true);
    const healthy = await upstream('healthy', false);
    const { url } = await router({ revision: 1, stable: 'v1', versions: [{ name: 'v1', weight: 100, upstreams: [hung.url, healthy.url] }] }, { ...timeouts, request: 1_000, answer: 0 });
    const answers = await Promise.all([send(`${url}/a`), send(`${url}/b`)]);
    expect(answers.map((each) => each.status).sort()).toEqual([200, 504]);
    expect(healthy.received).toEqual(['GET']);
  });
});

describe('a retry after an answer timeout stays in the version the request was given', () => {
  it('never answers from another version, whatever the mix of hung and healthy instances (seeded cases)', async () => {
    const random = seededRandom(9);
    // another version that answers at once, and is stable: where a version switch would land
    const other = await upstream('v2', false);
    for (let round = 0; round < 6; round++) {
      const healthyCount = round % 2 === 0 ? 0 : 1 + Math.floor(random() * 2);
      // a request tries at most three instances: with a healthy one, at most two hung ones before it
      const hungCount = 1 + Math.floor(random() * (healthyCount > 0 ? 2 : 3));
      const concurrency = 1 + Math.floor(random() * 8);
      const hung = await Promise.all(Array.from({ length: hungCount }, () => upstream('hung', true)));
      const healthy = await Promise.all(Array.from({ length: healthyCount }, (_, index) => upstream(`v1-${index}`, false)));
      const received = other.received.length;
      const { url } = await router(
        {
          revision: 1,
          stable: 'v2',
          canary: 'v1',
          versions: [
            { name: 'v1', weight: 100, upstreams: [...hung, ...healthy].map((each) => each.url) },
            { name: 'v2', weight: 0, upstreams: [other.url] },
          ],
        },
        { ...timeouts, request: 1_200, answer: 150 },
      );
      // all at once, before any timeout could eject anything and move the weights: every one is v1's
      const answers = await Promise.all(Array.from({ length: concurrency }, (_, index) => send(`${url}/r${index}`)));
      const context = JSON.stringify({ round, hungCount, healthyCount, concurrency, answers });
      if (healthyCount > 0) {
        expect(answers.every((each) => each.status === 200 && each.body.startsWith('served by v1-')), context).toBe(true);
      } else {
        // every v1 instance hung: the request waits out its timeout rather than switch versions
        expect(answers.every((each) => each.status === 504), context).toBe(true);
      }
      expect(other.received.length, context).toBe(received);
      for (const each of hung) await each.close();
    }
  });
});

describe('active health checks', () => {
  it('check each instance on its own: a hung check does not hold back the others', async () => {
    const hung = await upstream('hung', true);
    const healthy = await upstream('healthy', false);
    const upstreams = new Upstreams({ timeouts: { connect: 1_000, response: 10_000 }, onAvailabilityChange: () => undefined });
    closers.push(() => upstreams.close());
    upstreams.sync([
      { name: 'v1', weight: 100, upstreams: [hung.url, healthy.url] },
    ]);
    const health = new ActiveHealth(upstreams, { path: '/healthz', interval: 1_000, timeout: 30_000 });
    let firstSettled = false;
    const first = health.checkAll().then(() => {
      firstSettled = true;
    });
    // the hung instance's check waits up to 30 s; meanwhile every round checks the healthy one again
    const deadline = Date.now() + 20_000;
    while (healthy.received.length < 4 && Date.now() < deadline) {
      await health.checkAll();
      await sleep(20);
    }
    expect(healthy.received.length).toBeGreaterThanOrEqual(4);
    expect(firstSettled).toBe(false);
    expect(hung.received).toEqual(['GET']);
    await hung.close();
    await first;
  });
});

describe('the retry budget', () => {
  it('grants at least 3 retries at once per version, 20 % of its requests in flight beyond that, and takes them back', () => {
    const upstreams = new Upstreams({ timeouts: { connect: 1_000, response: 10_000 }, onAvailabilityChange: () => undefined });
    closers.push(() => upstreams.close());
    upstreams.sync([
      { name: 'v1', weight: 50, upstreams: ['http://127.0.0.1:9/a', 'http://127.0.0.1:9/b'] },
      { name: 'v2', weight: 50, upstreams: ['http://127.0.0.1:9/c'] },
    ]);
    const grants = (version: string) => {
      let granted = 0;
      while (granted < 1_000 && upstreams.reserveRetry(version)) granted++;
      return granted;
    };
    expect(grants('v1')).toBe(3);
    // each version has its own budget
    expect(grants('v2')).toBe(3);
    upstreams.retryDone('v1');
    expect(grants('v1')).toBe(1);
    // 50 requests in flight on v1's instances: 10 retries at once, 3 of them already taken
    const [first, second] = upstreams.instances().filter((each) => each.version === 'v1');
    first!.inFlight = 30;
    second!.inFlight = 20;
    expect(grants('v1')).toBe(7);
    first!.inFlight = 0;
    second!.inFlight = 0;
  });
});
