import { createServer, type Server } from 'node:http';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OpenFeature, ProviderEvents } from '@openfeature/server-sdk';
import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PRODUCTION, SPEC_TEXT, TOKEN, startServingFixture, waitFor } from '../../test/helpers/flag-serving.js';
import { disableFlag, enableFlag, putFlag, setFlagRollout } from '../flags/store.js';
import { buildServer } from '../server/app.js';
import { parseSpec } from '../spec/index.js';
import { createFlagsClient, type FlagsClient } from './flags.js';
import { PromoteFlagsProvider } from './openfeature.js';

describe('the flags SDK', () => {
  let pool: pg.Pool;
  let api: FastifyInstance;
  let base: string;
  const clients: FlagsClient[] = [];
  const client = (options: Partial<Parameters<typeof createFlagsClient>[0]> = {}) => {
    const created = createFlagsClient({ url: base, token: TOKEN, reconnectMaxMs: 400, fetchTimeoutMs: 1000, ...options });
    clients.push(created);
    return created;
  };
  beforeAll(async () => {
    ({ pool, api, base } = await startServingFixture());
    const put = (flag: Record<string, unknown>) => putFlag(pool, PRODUCTION, flag, { actor: 'test' });
    await put({ name: 'new-checkout', enabled: true, strategies: [{ name: 'flexibleRollout', parameters: { rollout: 100, stickiness: 'default', groupId: 'new-checkout' } }] });
    await put({ name: 'orders-move', type: 'migration', enabled: true, strategies: [{ name: 'default' }], variants: [{ name: 'shadow', weight: 1000, weightType: 'fix' }] });
    await put({ name: 'banner', enabled: true, strategies: [{ name: 'default' }], variants: [{ name: 'hello', weight: 1000, weightType: 'fix', payload: { type: 'string', value: 'Hello' } }] });
  });
  afterAll(async () => {
    await Promise.all(clients.map((each) => each.close()));
    await OpenFeature.close();
    await api.close();
  });

  it('evaluates locally and sees a store change within 1 s', async () => {
    const flags = client();
    expect(await flags.ready()).toBe('server');
    expect(flags.status()).toBe('READY');
    expect(flags.isEnabled('new-checkout', { userId: 'u-1' })).toBe(true);
    expect(flags.getVariant('banner')).toMatchObject({ name: 'hello', enabled: true, payload: { type: 'string', value: 'Hello' } });
    expect(flags.migrationStage('orders-move', { userId: 'u-1' })).toBe('shadow');
    expect(flags.migrationStage('new-checkout')).toBe('off');
    expect(flags.evaluate('nope')).toMatchObject({ enabled: false, reason: 'ERROR', errorCode: 'FLAG_NOT_FOUND' });
    expect(flags.isEnabled('nope', {}, true)).toBe(true);

    const seen: number[] = [];
    flags.on('change', (revision) => seen.push(revision));
    const times: number[] = [];
    for (const rollout of [0, 100, 0, 100, 0]) {
      const started = performance.now();
      await setFlagRollout(pool, PRODUCTION, 'new-checkout', rollout, { actor: 'test' });
      times.push(await waitFor(() => flags.isEnabled('new-checkout', { userId: 'u-1' }) === (rollout === 100), 2000, `rollout ${rollout} seen`));
      expect(performance.now() - started).toBeLessThan(1000);
    }
    expect(seen.length).toBeGreaterThanOrEqual(5);
    expect(Math.max(...times)).toBeLessThan(1000);
    await setFlagRollout(pool, PRODUCTION, 'new-checkout', 100, { actor: 'test' });
  });

  it('keeps evaluating with the last ruleset while the server is down and picks up changes after its restart', async () => {
    const cacheFile = join(mkdtempSync(join(tmpdir(), 'promote-flags-')), 'flags.json');
    const port = Number(new URL(base).port);
    const flags = client({ cacheFile });
    await flags.ready();
    await waitFor(() => flags.isEnabled('new-checkout', { userId: 'u-1' }), 2000, 'the flag on');
    await waitFor(() => existsSync(cacheFile), 2000, 'the cache file written');
    const errors: Error[] = [];
    flags.on('error', (error) => errors.push(error));

    await api.close();
    await waitFor(() => flags.status() === 'STALE', 3000, 'STALE after the server went away');
    expect(flags.isEnabled('new-checkout', { userId: 'u-1' })).toBe(true);
    expect(errors.length).toBeGreaterThan(0);

    // a fresh instance started now, with the server down, starts from the cache file
    const fromCache = client({ cacheFile, url: `http://127.0.0.1:${port}` });
    expect(await fromCache.ready()).toBe('cache');
    expect(fromCache.status()).toBe('STALE');
    expect(fromCache.isEnabled('new-checkout', { userId: 'u-1' })).toBe(true);
    const noCache = client({ url: `http://127.0.0.1:${port}` });
    expect(await noCache.ready()).toBe('none');
    expect(noCache.evaluate('new-checkout')).toMatchObject({ reason: 'ERROR', errorCode: 'PROVIDER_NOT_READY' });
    expect(noCache.isEnabled('new-checkout', {}, true)).toBe(true);

    await disableFlag(pool, PRODUCTION, 'new-checkout', { actor: 'test', reason: 'changed while the server was down' });
    const parsed = parseSpec(SPEC_TEXT, { file: 'promote.yaml' });
    if (!parsed.ok) throw new Error('spec');
    api = await buildServer({ pool, spec: parsed.spec });
    await api.listen({ host: '127.0.0.1', port });
    await waitFor(() => !flags.isEnabled('new-checkout', { userId: 'u-1' }), 5000, 'the change after the restart');
    expect(flags.status()).toBe('READY');
    await waitFor(() => !fromCache.isEnabled('new-checkout', { userId: 'u-1' }) && noCache.status() === 'READY', 5000, 'the other clients catching up');
    await enableFlag(pool, PRODUCTION, 'new-checkout', { actor: 'test' });
  });

  it('falls back to polling the client API with its ETag when the stream is not available', async () => {
    let featureRequests = 0;
    let notModified = 0;
    // a proxy that cuts event streams, as some do, and passes everything else through
    const proxy: Server = createServer((incoming, outgoing) => {
      if (incoming.url === '/api/flags/stream') return outgoing.writeHead(502).end('{"error":"streams are not allowed here"}');
      featureRequests += 1;
      void request(`${base}${incoming.url}`, { headers: incoming.headers as Record<string, string> }).then(async (answer) => {
        if (answer.statusCode === 304) notModified += 1;
        outgoing.writeHead(answer.statusCode, answer.headers as Record<string, string>).end(Buffer.from(await answer.body.arrayBuffer()));
      });
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    try {
      const flags = client({ url: `http://127.0.0.1:${(proxy.address() as { port: number }).port}`, pollIntervalMs: 100 });
      expect(await flags.ready()).toBe('server');
      await disableFlag(pool, PRODUCTION, 'new-checkout', { actor: 'test' });
      await waitFor(() => !flags.isEnabled('new-checkout', { userId: 'u-1' }), 3000, 'the change through polling');
      await waitFor(() => notModified > 0, 2000, 'a 304');
      expect(featureRequests).toBeGreaterThan(1);
    } finally {
      await enableFlag(pool, PRODUCTION, 'new-checkout', { actor: 'test' });
      await new Promise((resolve) => proxy.close(resolve));
      proxy.closeAllConnections();
    }
  });

  it('never throws on a bad token: every answer is the default', async () => {
    const errors: Error[] = [];
    const flags = createFlagsClient({ url: base, token: 'no-token', onError: (error) => errors.push(error) });
    expect(await flags.ready()).toBe('none');
    expect(flags.isEnabled('new-checkout', {}, true)).toBe(true);
    expect(flags.migrationStage('orders-move')).toBe('off');
    expect(errors[0]!.message).toMatch(/token: the Authorization header is not a client token/);
    await flags.close();
  });

  it('serves OpenFeature through PromoteFlagsProvider: details, error codes and change events', async () => {
    const provider = new PromoteFlagsProvider({ url: base, token: TOKEN, reconnectMaxMs: 400 });
    await OpenFeature.setProviderAndWait('promote-test', provider);
    const flags = OpenFeature.getClient('promote-test');
    expect(await flags.getBooleanDetails('new-checkout', false, { targetingKey: 'u-1' })).toMatchObject({ value: true, variant: 'on' });
    expect(await flags.getStringDetails('banner', 'x')).toMatchObject({ value: 'Hello', variant: 'hello' });
    expect(await flags.getStringDetails('orders-move', 'off', { targetingKey: 'u-1' })).toMatchObject({ value: 'shadow', variant: 'shadow' });
    expect(await flags.getNumberDetails('banner', 7)).toMatchObject({ value: 7, reason: 'ERROR', errorCode: 'TYPE_MISMATCH' });
    expect(await flags.getObjectDetails('nope', { a: 1 })).toMatchObject({ value: { a: 1 }, errorCode: 'FLAG_NOT_FOUND' });
    const changes: unknown[] = [];
    flags.addHandler(ProviderEvents.ConfigurationChanged, (details) => changes.push(details));
    await disableFlag(pool, PRODUCTION, 'new-checkout', { actor: 'test' });
    await waitFor(() => changes.length > 0, 2000, 'CONFIGURATION_CHANGED');
    expect(await flags.getBooleanDetails('new-checkout', true, { targetingKey: 'u-1' })).toMatchObject({ value: false, reason: 'DISABLED' });
    await enableFlag(pool, PRODUCTION, 'new-checkout', { actor: 'test' });
  });
});
