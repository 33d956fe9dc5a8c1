import { connect } from 'node:net';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRouter, table } from '../helpers/router.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';

const agent = new Agent({ keepAliveTimeout: 10_000 });
afterAll(async () => agent.close());

async function get(url: string, headers: Record<string, string> = {}) {
  const response = await request(url, { dispatcher: agent, headers });
  const text = await response.body.text();
  return { status: response.statusCode, headers: response.headers, text, json: () => JSON.parse(text) as { version: string; port: number; headers: Record<string, string>; body: string; url: string } };
}

describe('router: forwarding', () => {
  let v1: TestUpstream;
  let v2: TestUpstream;
  let url: string;
  beforeAll(async () => {
    v1 = await startUpstream('v1');
    v2 = await startUpstream('v2');
    ({ url } = await startRouter(table([['v2', 0, [v2.url]], ['v1', 100, [v1.url]]], { canary: 'v2', override: { header: 'X-Promote-Version', cookie: 'promote_version' } })));
  });

  it('forwards to the weighted version with X-Forwarded-* and without hop-by-hop headers', async () => {
    const response = await get(`${url}/orders?x=1`, { 'x-forwarded-for': '10.1.1.1', 'x-keep': 'me' });
    expect(response.status).toBe(200);
    const seen = response.json();
    expect(seen.version).toBe('v1');
    expect(seen.url).toBe('/orders?x=1');
    expect(seen.headers['x-forwarded-for']).toBe('10.1.1.1, 127.0.0.1');
    expect(seen.headers['x-forwarded-proto']).toBe('http');
    expect(seen.headers['x-forwarded-host']).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(seen.headers['x-keep']).toBe('me');
    expect(response.headers['x-promote-version']).toBe('v1');
    expect(response.headers['set-cookie']).toBe('upstream=1; Path=/');
  });

  it('drops the headers the client named in Connection, as hop-by-hop', async () => {
    const { port } = new URL(url);
    const socket = connect(Number(port), '127.0.0.1');
    let reply = '';
    socket.on('data', (chunk: Buffer) => (reply += chunk.toString()));
    socket.write('GET /hop HTTP/1.1\r\nHost: x\r\nConnection: close, X-Secret\r\nX-Secret: drop me\r\nTE: trailers\r\nX-Keep: me\r\n\r\n');
    await new Promise((resolve) => socket.once('close', resolve));
    // the body arrives chunked: the JSON object sits between the chunk-size lines
    const seen = JSON.parse(reply.slice(reply.indexOf('{'), reply.lastIndexOf('}') + 1)) as { headers: Record<string, string> };
    expect(seen.headers['x-secret']).toBeUndefined();
    expect(seen.headers.te).toBeUndefined();
    expect(seen.headers['x-keep']).toBe('me');
  });

  it('lets a tester force the canary by header or cookie', async () => {
    expect((await get(url, { 'x-promote-version': 'canary' })).json().version).toBe('v2');
    expect((await get(url, { cookie: 'a=b; promote_version=v2' })).json().version).toBe('v2');
    expect((await get(url, { 'x-promote-version': 'nonsense' })).json().version).toBe('v1');
  });

  it('streams request and response bodies both ways', async () => {
    const chunks = Array.from({ length: 50 }, (_, index) => `chunk-${index};`);
    async function* body() {
      for (const chunk of chunks) {
        yield Buffer.from(chunk);
        await sleep(1);
      }
    }
    const response = await request(`${url}/stream`, { dispatcher: agent, method: 'POST', body: Readable.from(body()) });
    expect(response.statusCode).toBe(200);
    expect(await response.body.text()).toBe(chunks.join(''));
  });

  it('passes WebSocket upgrades through and keeps the connection on its version', async () => {
    const { port } = new URL(url);
    const socket = connect(Number(port), '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write('GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nX-Promote-Version: canary\r\n\r\n');
    const handshake = await new Promise<string>((resolve) => socket.once('data', (chunk: Buffer) => resolve(chunk.toString())));
    expect(handshake).toMatch(/^HTTP\/1\.1 101 Switching Protocols\r\n/);
    expect(handshake).toMatch(/x-version: v2/);
    socket.write('ping');
    const echoed = await new Promise<string>((resolve) => socket.once('data', (chunk: Buffer) => resolve(chunk.toString())));
    expect(echoed).toBe('v2:ping');
    socket.destroy();
  });
});

describe('router: failures stay with the request that met them', () => {
  let good: TestUpstream;
  let url: string;
  let router: Awaited<ReturnType<typeof startRouter>>['router'];
  beforeAll(async () => {
    good = await startUpstream('v1');
    ({ url, router } = await startRouter(table([['v1', 100, [good.url]]]), { timeouts: { connect: 1_000, request: 500, idle: 65_000 } }));
  });

  it('answers 502 for garbage from the upstream, counts it as an error, and serves the next request', async () => {
    const bad = await get(`${url}/garbage`);
    expect(bad.status).toBe(502);
    expect(bad.headers['x-promote-error']).toBeDefined();
    expect((await get(`${url}/fine`)).status).toBe(200);
    await sleep(1_100);
    const window = router.metrics.window('v1', 5);
    expect(window.byClass.error).toBeGreaterThanOrEqual(1);
  });

  it('answers 504 when the upstream is slower than the request timeout', async () => {
    const slow = await get(`${url}/slow?delay=1500`);
    expect(slow.status).toBe(504);
  });

  it('retries a reset GET once on a fresh connection, but never a POST without an Idempotency-Key', async () => {
    const before = good.received.filter((record) => record.url === '/reset').length;
    const getResponse = await get(`${url}/reset`);
    // the upstream resets every attempt, so the single retry fails too: two arrivals, then 502
    expect(getResponse.status).toBe(502);
    expect(good.received.filter((record) => record.url === '/reset').length - before).toBe(2);
    const postResponse = await request(`${url}/reset`, { dispatcher: agent, method: 'POST', body: 'once' });
    await postResponse.body.dump();
    expect(postResponse.statusCode).toBe(502);
    expect(good.received.filter((record) => record.url === '/reset').length - before).toBe(3);
  });
});

describe('router: malformed requests', () => {
  let url: string;
  let port: number;
  beforeAll(async () => {
    const upstream = await startUpstream('v1');
    ({ url, port } = await startRouter(table([['v1', 100, [upstream.url]]])));
  });

  async function raw(text: string): Promise<string> {
    const socket = connect(port, '127.0.0.1');
    let reply = '';
    socket.on('data', (chunk: Buffer) => (reply += chunk.toString()));
    socket.write(text);
    await new Promise((resolve) => socket.once('close', resolve));
    return reply;
  }

  it('gives up on a body cut short by the client without harming anyone else', async () => {
    const socket = connect(port, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write('POST /orders HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nonly a part');
    await sleep(50);
    socket.destroy();
    await sleep(50);
    const others = await Promise.all(Array.from({ length: 10 }, () => get(url)));
    expect(others.every((response) => response.status === 200)).toBe(true);
  });

  it('answers 400 to a broken header line and 431 to oversized headers, and keeps serving others', async () => {
    expect(await raw('GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n')).toMatch(/^HTTP\/1\.1 400/);
    expect(await raw(`GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`)).toMatch(/^HTTP\/1\.1 431/);
    expect((await get(url)).status).toBe(200);
  });
});
