import { randomBytes } from 'node:crypto';
import { createServer as createHttpServer } from 'node:http';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { Client } from 'undici';
import { afterAll, describe, expect, inject, it, vi } from 'vitest';
import { startFaultProxy, type FaultProxy } from './fault-proxy.js';

// timings are loose on purpose (shared, noisy machines): lower bounds are what a fault must cause,
// upper bounds only catch a fault that does nothing or never ends

const servers: Server[] = [];
afterAll(async () => {
  for (const server of servers) {
    server.closeAllConnections?.();
    await new Promise((resolve) => server.close(resolve));
  }
});

/** a TCP echo server; its sockets are destroyed with it */
async function startEcho(onConnection?: (socket: Socket) => void): Promise<number> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    if (onConnection) onConnection(socket);
    else socket.pipe(socket);
  });
  server.closeAllConnections = () => sockets.forEach((socket) => socket.destroy());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push(server);
  return (server.address() as AddressInfo).port;
}

declare module 'node:net' {
  interface Server {
    closeAllConnections?: () => void;
  }
}

interface Probe {
  socket: Socket;
  received: () => Buffer;
  error: () => NodeJS.ErrnoException | undefined;
  /** resolves when the server side ended (FIN) or the socket closed */
  ended: Promise<number>;
  closed: Promise<number>;
  /** resolves at the time `bytes` in all have arrived; rejects if the socket closes first or after ms */
  until(bytes: number, ms?: number): Promise<number>;
  dataEvents: () => number;
}

async function dial(port: number): Promise<Probe> {
  const socket = connect({ host: '127.0.0.1', port });
  const chunks: Buffer[] = [];
  let error: NodeJS.ErrnoException | undefined;
  let size = 0;
  const waiting: Array<() => void> = [];
  socket.on('data', (chunk: Buffer) => {
    chunks.push(chunk);
    size += chunk.length;
    waiting.forEach((check) => check());
  });
  socket.on('error', (caught) => {
    error = caught;
  });
  const ended = new Promise<number>((resolve) => {
    socket.on('end', () => resolve(performance.now()));
    socket.on('close', () => resolve(performance.now()));
  });
  const closed = new Promise<number>((resolve) => socket.on('close', () => resolve(performance.now())));
  socket.on('close', () => waiting.forEach((check) => check()));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const until = (bytes: number, ms = 10_000) =>
    new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`received ${size} of ${bytes} bytes in ${ms} ms`)), ms);
      const check = () => {
        if (size >= bytes) resolve(performance.now());
        else if (socket.destroyed) reject(error ?? new Error(`closed after ${size} of ${bytes} bytes`));
        else return;
        clearTimeout(timer);
      };
      waiting.push(check);
      check();
    });
  return { socket, received: () => Buffer.concat(chunks), error: () => error, ended, closed, until, dataEvents: () => chunks.length };
}

/** time of one write and its echo */
async function roundTrip(probe: Probe, payload = Buffer.from('ping')): Promise<number> {
  const before = probe.received().length;
  const start = performance.now();
  probe.socket.write(payload);
  return (await probe.until(before + payload.length)) - start;
}

/** the fastest of a few round trips: for upper bounds, so one stall of a busy machine does not fail a test */
async function fastestRoundTrip(probe: Probe, tries = 3): Promise<number> {
  let fastest = Infinity;
  for (let index = 0; index < tries; index++) fastest = Math.min(fastest, await roundTrip(probe));
  return fastest;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function startHttp(): Promise<number> {
  const server = createHttpServer((request, response) => {
    request.resume();
    request.on('end', () => response.end(`hello ${request.url}`));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push(server); // an http.Server has its own closeAllConnections
  return (server.address() as AddressInfo).port;
}

describe('fault proxy over a TCP echo server', () => {
  it('forwards bytes unchanged both ways and counts them', async () => {
    const proxy = await startFaultProxy({ target: { port: await startEcho() } });
    const probe = await dial(proxy.port);
    const payload = randomBytes(1 << 20);
    probe.socket.write(payload);
    await probe.until(payload.length);
    expect(probe.received().equals(payload)).toBe(true);
    expect(proxy.stats()).toMatchObject({ accepted: 1, active: 1, bytes: { upstream: payload.length, downstream: payload.length } });
    probe.socket.end();
    await probe.closed;
    await expect.poll(() => proxy.stats().active).toBe(0);
  });

  it('adds latency per direction, on open connections too, and removes it', async () => {
    const proxy = await startFaultProxy({ target: { port: await startEcho() } });
    const probe = await dial(proxy.port);
    await roundTrip(probe);
    await proxy.set({ latency: { ms: 100 } });
    expect(await roundTrip(probe)).toBeGreaterThanOrEqual(100);
    expect(await fastestRoundTrip(probe)).toBeLessThan(190); // downstream only by default: not twice
    await proxy.set({ latency: { ms: 100, direction: 'both' } });
    expect(await roundTrip(probe)).toBeGreaterThanOrEqual(200);
    await proxy.clear();
    expect(await fastestRoundTrip(probe)).toBeLessThan(90);
    expect(proxy.stats().faults.latency).toBe(2);
  });

  it('keeps chunk order under jitter, and every chunk is delayed at least latency - jitter', async () => {
    const proxy = await startFaultProxy({ target: { port: await startEcho() }, seed: 3 });
    await proxy.set({ latency: { ms: 60, jitterMs: 40 } });
    const probe = await dial(proxy.port);
    const times: number[] = [];
    for (let index = 0; index < 8; index++) {
      times.push(await roundTrip(probe, Buffer.from(`chunk-${index};`)));
    }
    for (const time of times) expect(time).toBeGreaterThanOrEqual(20);
    expect(Math.max(...times) - Math.min(...times)).toBeGreaterThan(5); // jitter varies the delay

    // many writes in flight at once come out in order
    const sent: string[] = [];
    for (let index = 0; index < 200; index++) {
      sent.push(`${index},`);
      probe.socket.write(`${index},`);
      if (index % 20 === 0) await sleep(2);
    }
    const before = times.reduce((sum, _time, index) => sum + `chunk-${index};`.length, 0);
    await probe.until(before + sent.join('').length);
    expect(probe.received().subarray(before).toString()).toBe(sent.join(''));
  });

  it('limits bandwidth within a tolerance', async () => {
    const proxy = await startFaultProxy({ target: { port: await startEcho() } });
    await proxy.set({ bandwidth: { bytesPerSecond: 100_000 } });
    const probe = await dial(proxy.port);
    const payload = randomBytes(100_000);
    const start = performance.now();
    probe.socket.write(payload);
    const seconds = ((await probe.until(payload.length)) - start) / 1000;
    // the first 50 ms piece goes at once: 0.95 s at exactly the rate
    expect(seconds).toBeGreaterThanOrEqual(0.85);
    expect(seconds).toBeLessThan(5);
    expect(probe.received().equals(payload)).toBe(true);
  });

  it('resets the connection after afterBytes: the client gets ECONNRESET and no more than that', async () => {
    const proxy = await startFaultProxy({ target: { port: await startEcho() } });
    await proxy.set({ reset: { afterBytes: 1000, direction: 'downstream' } });
    const probe = await dial(proxy.port);
    probe.socket.write(randomBytes(600));
    await probe.until(600);
    probe.socket.write(randomBytes(5000));
    await probe.closed;
    expect(probe.error()?.code).toBe('ECONNRESET');
    expect(probe.received().length).toBeLessThanOrEqual(1000);
    expect(proxy.stats().faults.reset).toBe(1);
    await expect.poll(() => proxy.stats().active).toBe(0);
  });

  it('timeout holds data and closes after ms; ms 0 holds until the fault is removed, losing nothing', async () => {
    const proxy = await startFaultProxy({ target: { port: await startEcho() } });
    await proxy.set({ timeout: { ms: 200 } });
    const probe = await dial(proxy.port);
    const start = performance.now();
    probe.socket.write('held');
    expect((await probe.closed) - start).toBeGreaterThanOrEqual(195);
    expect(probe.received().length).toBe(0);

    await proxy.set({ timeout: { ms: 0 } });
    const held = await dial(proxy.port);
    held.socket.write('held until cleared');
    await sleep(300);
    expect(held.received().length).toBe(0);
    expect(held.socket.destroyed).toBe(false);
    await proxy.clear();
    await held.until('held until cleared'.length);
    expect(held.received().toString()).toBe('held until cleared');
  });

  it('half-open: the peer sees a hung connection that never closes, even after the fault is removed', async () => {
    const proxy = await startFaultProxy({ target: { port: await startEcho() } });
    const probe = await dial(proxy.port);
    await roundTrip(probe);
    await proxy.set({ halfOpen: true });
    probe.socket.write('anyone there?');
    probe.socket.end();
    await sleep(400);
    expect(probe.received().toString()).toBe('ping');
    expect(probe.socket.destroyed).toBe(false);
    expect(probe.socket.readableEnded).toBe(false);
    await proxy.clear();
    await sleep(100);
    expect(probe.received().toString()).toBe('ping');
    expect(proxy.stats().active).toBe(1);
  });

  it('slices chunks into small pieces, delayUs apart, with the bytes intact', async () => {
    const proxy = await startFaultProxy({ target: { port: await startEcho() }, seed: 11 });
    await proxy.set({ slice: { averageBytes: 50, varianceBytes: 20, delayUs: 2000 } });
    const probe = await dial(proxy.port);
    const payload = randomBytes(2000);
    const start = performance.now();
    probe.socket.write(payload);
    const elapsed = (await probe.until(payload.length)) - start;
    expect(probe.received().equals(payload)).toBe(true);
    expect(probe.dataEvents()).toBeGreaterThanOrEqual(10);
    expect(elapsed).toBeGreaterThanOrEqual(2000 / 70 - 1); // at least (pieces - 1) delays of 2 ms
  });

  it('slow close delays the FIN but not the data', async () => {
    const port = await startEcho((socket) => socket.end('bye'));
    const proxy = await startFaultProxy({ target: { port } });
    await proxy.set({ slowClose: { ms: 300 } });
    const start = performance.now();
    const probe = await dial(proxy.port);
    const data = await probe.until(3);
    const ended = await probe.ended;
    expect(data - start).toBeLessThan(250);
    expect(ended - start).toBeGreaterThanOrEqual(300);
    expect(probe.received().toString()).toBe('bye');
  });

  it('down refuses new connections and drops open ones; up again on the same port', async () => {
    const proxy = await startFaultProxy({ target: { port: await startEcho() } });
    const probe = await dial(proxy.port);
    await proxy.set({ down: true });
    await probe.closed;
    await expect(dial(proxy.port)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    expect(proxy.stats().faults.down).toBe(1);
    await proxy.clear();
    const again = await dial(proxy.port);
    expect(await roundTrip(again)).toBeLessThan(1000);
  });

  it('a refused target reaches the client as a reset', async () => {
    const port = await startEcho();
    const proxy = await startFaultProxy({ target: { port } });
    const closing = servers.pop()!;
    await new Promise((resolve) => closing.close(resolve));
    const probe = await dial(proxy.port);
    await probe.closed;
    expect(probe.error()?.code).toBe('ECONNRESET');
  });

  it('the same seed makes the same per-connection decisions; another seed others', async () => {
    const port = await startEcho();
    const pattern = async (seed: number) => {
      const proxy = await startFaultProxy({ target: { port }, seed, faults: { reset: { probability: 0.5 } } });
      const outcome: string[] = [];
      for (let index = 0; index < 16; index++) {
        const probe = await dial(proxy.port);
        probe.socket.write('x');
        outcome.push(await probe.until(1, 5000).then(() => 'echo', () => probe.error()?.code ?? 'closed'));
        probe.socket.destroy();
      }
      expect(proxy.stats().faults.reset).toBe(outcome.filter((result) => result === 'ECONNRESET').length);
      await proxy.close();
      return outcome.join(' ');
    };
    const first = await pattern(42);
    expect(first).toContain('echo');
    expect(first).toContain('ECONNRESET');
    expect(first).not.toContain('closed');
    expect(await pattern(42)).toBe(first);
    expect(await pattern(43)).not.toBe(first);
  });

  it('probability 0 never applies a fault', async () => {
    const proxy = await startFaultProxy({ target: { port: await startEcho() }, faults: { latency: { ms: 500, probability: 0 } } });
    const probe = await dial(proxy.port);
    expect(await roundTrip(probe)).toBeLessThan(400);
    expect(proxy.stats().faults.latency).toBe(0);
  });

  it('rejects faults that mean nothing', async () => {
    const proxy = await startFaultProxy({ target: { port: await startEcho() } });
    expect(() => proxy.set({ latency: { ms: -1 } })).toThrow(/latency.ms/);
    expect(() => proxy.set({ reset: { probability: 2 } })).toThrow(/probability/);
    expect(() => proxy.set({ bandwidth: { bytesPerSecond: 0 } })).toThrow(/bytesPerSecond/);
  });

  it('close() destroys every connection and the listener and leaves no timer behind', async () => {
    const port = await startEcho();
    // every long timer started from here on must be cleared by close()
    const started = new Set<unknown>();
    const cleared = new Set<unknown>();
    const realSetTimeout = globalThis.setTimeout;
    const setSpy = vi.spyOn(globalThis, 'setTimeout').mockImplementation(((run: () => void, ms?: number) => {
      const timer = realSetTimeout(run, ms);
      if ((ms ?? 0) >= 60_000) started.add(timer);
      return timer;
    }));
    const clearSpy = vi.spyOn(globalThis, 'clearTimeout');
    try {
      const proxy = await startFaultProxy({ target: { port }, closeAfterFile: false });
      await proxy.set({ latency: { ms: 60_000, direction: 'upstream' }, timeout: { ms: 60_000, direction: 'downstream' } });
      const probes = await Promise.all([dial(proxy.port), dial(proxy.port)]);
      probes[0].socket.write('waiting a minute');
      await expect.poll(() => started.size).toBe(3); // the chunk's latency and each connection's timeout
      await proxy.close();
      await Promise.all(probes.map((probe) => probe.closed));
      for (const [timer] of clearSpy.mock.calls) cleared.add(timer);
      expect([...started].filter((timer) => !cleared.has(timer))).toEqual([]);
      expect(proxy.stats().active).toBe(0);
      await expect(dial(proxy.port)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    } finally {
      setSpy.mockRestore();
      clearSpy.mockRestore();
    }
  });
});

describe('fault proxy in front of an HTTP server (undici)', () => {
  const withClient = async (proxy: FaultProxy, run: (client: Client) => Promise<void>, options: Client.Options = {}) => {
    const client = new Client(proxy.url(), options);
    try {
      await run(client);
    } finally {
      await client.destroy();
    }
  };

  it('latency both ways slows each request by at least twice the latency', async () => {
    const proxy = await startFaultProxy({ target: { port: await startHttp() } });
    await withClient(proxy, async (client) => {
      const response = await client.request({ method: 'GET', path: '/fast' });
      expect(await response.body.text()).toBe('hello /fast');
      await proxy.set({ latency: { ms: 80, direction: 'both' } });
      const start = performance.now();
      const slow = await client.request({ method: 'GET', path: '/slow' });
      expect(await slow.body.text()).toBe('hello /slow');
      expect(performance.now() - start).toBeGreaterThanOrEqual(160);
    });
  });

  it('a reset fails the request with ECONNRESET', async () => {
    const proxy = await startFaultProxy({ target: { port: await startHttp() }, faults: { reset: {} } });
    await withClient(proxy, async (client) => {
      const failure = await client.request({ method: 'GET', path: '/' }).then(
        () => undefined,
        (error: Error & { code?: string; cause?: { code?: string } }) => error,
      );
      expect(failure).toBeDefined();
      expect([failure?.code, failure?.cause?.code]).toContain('ECONNRESET');
    });
  });

  it('half-open makes a request time out while the connection stays open', async () => {
    const proxy = await startFaultProxy({ target: { port: await startHttp() } });
    await withClient(
      proxy,
      async (client) => {
        await (await client.request({ method: 'GET', path: '/' })).body.text();
        await proxy.set({ halfOpen: true });
        const start = performance.now();
        await expect(client.request({ method: 'GET', path: '/hang' })).rejects.toMatchObject({ code: 'UND_ERR_HEADERS_TIMEOUT' });
        expect(performance.now() - start).toBeGreaterThanOrEqual(290);
        expect(proxy.stats().active).toBe(1);
        expect(proxy.stats().faults.halfOpen).toBe(1);
      },
      { headersTimeout: 300 },
    );
  });
});

describe('fault proxy in front of the test run PostgreSQL', () => {
  it('queries get slower with latency and fail with a reset', async () => {
    const adminUrl = inject('adminDatabaseUrl');
    const target = new URL(adminUrl);
    const proxy = await startFaultProxy({ target: { host: target.hostname, port: Number(target.port) }, seed: 5 });
    const client = new pg.Client({ connectionString: proxy.through(adminUrl) });
    const errors: Error[] = [];
    client.on('error', (error) => errors.push(error));
    await client.connect();
    try {
      const timed = async () => {
        const start = performance.now();
        await client.query('select 1');
        return performance.now() - start;
      };
      await timed();
      expect(await timed()).toBeLessThan(150);
      await proxy.set({ latency: { ms: 150 } });
      expect(await timed()).toBeGreaterThanOrEqual(150);
      await proxy.set({ reset: {} });
      const failure = await client.query('select 1').then(
        () => undefined,
        (error: Error & { code?: string }) => error,
      );
      expect(failure?.code ?? failure?.message).toMatch(/ECONNRESET|terminated/);
      expect(proxy.stats().faults.reset).toBe(1);

      await proxy.clear();
      const fresh = new pg.Client({ connectionString: proxy.through(adminUrl) });
      await fresh.connect();
      expect((await fresh.query<{ one: number }>('select 1 as one')).rows[0]?.one).toBe(1);
      await fresh.end();
    } finally {
      await Promise.race([client.end().catch(() => {}), sleep(1000)]);
    }
  });
});
