import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import { request } from 'undici';
import { Unleash, UnleashEvents } from 'unleash-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PRODUCTION, STAGING, STAGING_TOKEN, TOKEN, startServingFixture, waitFor } from '../../test/helpers/flag-serving.js';
import { inlineSegments, needsInlineSegments } from './client-api.js';
import { scopeFromAuthorization } from './client-token.js';
import { disableFlag, enableFlag, flagUsage, listClients, putFlag } from './store.js';

describe('the Unleash client API', () => {
  let pool: pg.Pool;
  let api: FastifyInstance;
  let base: string;
  beforeAll(async () => {
    ({ pool, api, base } = await startServingFixture());
    await putFlag(pool, PRODUCTION, { name: 'checkout-v2', enabled: true, strategies: [{ name: 'default' }] }, { actor: 'test' });
    await putFlag(pool, PRODUCTION, { name: 'beta-users', enabled: true, strategies: [{ name: 'userWithId', parameters: { userIds: 'u-1,u-2' } }] }, { actor: 'test' });
    await putFlag(pool, STAGING, { name: 'staging-only', enabled: true, strategies: [{ name: 'default' }] }, { actor: 'test' });
  });
  afterAll(async () => api.close());

  const features = async (headers: Record<string, string>) => {
    const response = await request(`${base}/api/client/features`, { headers });
    const text = await response.body.text();
    return { status: response.statusCode, etag: response.headers.etag as string | undefined, body: text ? (JSON.parse(text) as { features: Array<{ name: string; enabled: boolean }>; revision: number; error?: string }) : undefined };
  };

  it('refuses a missing or malformed token with a 401 that says what a token looks like', async () => {
    const missing = await features({});
    expect(missing.status).toBe(401);
    expect(missing.body?.error).toMatch(/Authorization header is missing: expected "<app>:<environment>\.<secret>"/);
    const malformed = await features({ authorization: 'just-a-secret' });
    expect(malformed.status).toBe(401);
    expect(malformed.body?.error).toMatch(/not a client token/);
    const badEnvironment = await features({ authorization: 'shop:Prod!.x' });
    expect(badEnvironment.body?.error).toMatch(/environment "Prod!" is not an environment name/);
    const unknown = await features({ authorization: 'shop:qa.x' });
    expect(unknown.status).toBe(404);
    expect(unknown.body?.error).toMatch(/app "shop" has no environment "qa"/);
  });

  it("serves the token's scope only, with an ETag from the revision and 304 until a change", async () => {
    const production = await features({ authorization: TOKEN });
    expect(production.status).toBe(200);
    expect(production.body!.features.map((feature) => feature.name).sort()).toEqual(['beta-users', 'checkout-v2']);
    expect(production.etag).toBe(`W/"shop:production:${production.body!.revision}:inline"`);
    const staging = await features({ authorization: `Bearer ${STAGING_TOKEN}` });
    expect(staging.body!.features.map((feature) => feature.name)).toEqual(['staging-only']);
    const everyApp = await features({ authorization: '*:staging.x' });
    expect(everyApp.body!.features.map((feature) => feature.name)).toEqual(['staging-only']);

    const modern = await features({ authorization: TOKEN, 'unleash-client-spec': '5.2.0' });
    const unchanged = await features({ authorization: TOKEN, 'unleash-client-spec': '5.2.0', 'if-none-match': modern.etag! });
    expect(unchanged.status).toBe(304);
    await disableFlag(pool, PRODUCTION, 'beta-users', { actor: 'test' });
    const changed = await waitFor(async () => (await features({ authorization: TOKEN, 'unleash-client-spec': '5.2.0', 'if-none-match': modern.etag! })).status === 200, 2000, 'a 200 after the change');
    expect(changed).toBeLessThan(2000);
    const after = await features({ authorization: TOKEN, 'unleash-client-spec': '5.2.0' });
    expect(after.body!.revision).toBeGreaterThan(modern.body!.revision);
    expect(after.body!.features.find((feature) => feature.name === 'beta-users')!.enabled).toBe(false);
    await enableFlag(pool, PRODUCTION, 'beta-users', { actor: 'test' });
  });

  it('works with the stock unleash-client SDK: fetch, local evaluation, refresh, registration and metrics', async () => {
    const unleash = new Unleash({ url: `${base}/api/`, appName: 'checkout-svc', instanceId: 'pod-1', refreshInterval: 100, metricsInterval: 200, customHeaders: { Authorization: TOKEN } });
    const problems: unknown[] = [];
    unleash.on(UnleashEvents.Error, (error: unknown) => problems.push(error));
    unleash.on(UnleashEvents.Warn, (warning: unknown) => problems.push(warning));
    try {
      await new Promise((resolve) => unleash.once(UnleashEvents.Synchronized, resolve));
      expect(unleash.isEnabled('checkout-v2')).toBe(true);
      expect(unleash.isEnabled('beta-users', { userId: 'u-2' })).toBe(true);
      expect(unleash.isEnabled('beta-users', { userId: 'u-3' })).toBe(false);
      expect(unleash.isEnabled('staging-only')).toBe(false);

      await disableFlag(pool, PRODUCTION, 'checkout-v2', { actor: 'test', reason: 'kill switch' });
      const seen = await waitFor(() => !unleash.isEnabled('checkout-v2'), 3000, 'unleash-client seeing the flag off');
      expect(seen).toBeLessThan(3000);

      await waitFor(async () => (await listClients(pool, PRODUCTION)).some((client) => client.appName === 'checkout-svc'), 3000, 'the registration');
      const [client] = (await listClients(pool, PRODUCTION)).filter((each) => each.appName === 'checkout-svc');
      expect(client).toMatchObject({ instanceId: 'pod-1', intervalMs: 200 });
      expect(client!.sdkVersion).toMatch(/^unleash-node-sdk:\d/);
      expect(client!.strategies).toEqual(expect.arrayContaining(['default', 'userWithId', 'flexibleRollout']));

      await waitFor(async () => {
        const usage = await flagUsage(pool, PRODUCTION, { since: new Date(Date.now() - 3_600_000), flag: 'beta-users' });
        return usage.some((row) => row.yes >= 1 && row.no >= 1);
      }, 3000, 'the metrics');
      const usage = await flagUsage(pool, PRODUCTION, { since: new Date(Date.now() - 3_600_000) });
      expect(usage.find((row) => row.flag === 'beta-users')).toMatchObject({ yes: 1, no: 1 });
      expect(usage.find((row) => row.flag === 'checkout-v2')!.yes).toBeGreaterThanOrEqual(1);
      expect(problems).toEqual([]);
    } finally {
      unleash.destroy();
      await enableFlag(pool, PRODUCTION, 'checkout-v2', { actor: 'test' });
    }
  });

  it('answers registrations and metrics with 202 as Unleash does, and names a bad field with 400', async () => {
    const post = async (path: string, body: unknown, authorization = TOKEN) => {
      const response = await request(`${base}${path}`, { method: 'POST', headers: { authorization, 'content-type': 'application/json' }, body: JSON.stringify(body) });
      const text = await response.body.text();
      return { status: response.statusCode, body: text ? (JSON.parse(text) as { error?: string }) : undefined };
    };
    expect(await post('/api/client/register', { appName: 'worker', instanceId: 'w-1', strategies: ['default'], started: new Date().toISOString(), interval: 15000, sdkVersion: 'unleash-client-go:4.1.0' })).toEqual({ status: 202, body: undefined });
    const now = new Date().toISOString();
    expect(await post('/api/client/metrics', { appName: 'worker', instanceId: 'w-1', bucket: { start: now, stop: now, toggles: { 'checkout-v2': { yes: 5, no: 2, variants: {} } } } })).toEqual({ status: 202, body: undefined });
    const missing = await post('/api/client/register', { instanceId: 'w-1' });
    expect(missing.status).toBe(400);
    expect(missing.body!.error).toMatch(/appName/);
    const negative = await post('/api/client/metrics', { appName: 'worker', bucket: { start: now, stop: now, toggles: { x: { yes: -1, no: 0 } } } });
    expect(negative.status).toBe(400);
    expect(negative.body!.error).toMatch(/bucket\/toggles\/x\/yes must be >= 0/);
    expect((await post('/api/client/register', { appName: 'worker' }, 'nope')).status).toBe(401);
  });
});

describe('client tokens and old SDKs', () => {
  it('reads the scope from any well-formed token and refuses the rest', () => {
    expect(scopeFromAuthorization('shop:production.abc.def', 'shop')).toEqual({ ok: true, scope: PRODUCTION, secret: 'abc.def' });
    expect(scopeFromAuthorization('*:staging.s', 'shop')).toEqual({ ok: true, scope: STAGING, secret: 's' });
    const noSecret = scopeFromAuthorization('shop:production.', 'shop');
    expect(noSecret.ok || noSecret.message).toMatch(/no secret/);
    expect(scopeFromAuthorization(['a', 'b'], 'shop')).toMatchObject({ ok: false });
    const noApp = scopeFromAuthorization(':production.s', 'shop');
    expect(noApp.ok || noApp.message).toMatch(/not a client token/);
  });

  it('inlines segment constraints for SDKs older than client specification 4.2', () => {
    expect(needsInlineSegments(undefined)).toBe(true);
    expect(needsInlineSegments('4.1.9')).toBe(true);
    expect(needsInlineSegments('4.2.0')).toBe(false);
    expect(needsInlineSegments('5.2.0')).toBe(false);
    const ruleset = {
      version: 2,
      segments: [{ id: 7, constraints: [{ contextName: 'country', operator: 'IN', values: ['NO'] }] }],
      features: [{ name: 'f', enabled: true, strategies: [{ name: 'default', segments: [7, 8], constraints: [{ contextName: 'userId', operator: 'IN', values: ['u'] }] }] }],
    };
    const inlined = inlineSegments(ruleset);
    expect(inlined.segments).toBeUndefined();
    expect(inlined.features[0]!.strategies![0]).toEqual({
      name: 'default',
      constraints: [
        { contextName: 'country', operator: 'IN', values: ['NO'] },
        { contextName: 'promote-missing-segment', operator: 'IN', values: [] },
        { contextName: 'userId', operator: 'IN', values: ['u'] },
      ],
    });
  });
});
