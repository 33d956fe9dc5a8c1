import { OFREPProvider } from '@openfeature/ofrep-provider';
import { OpenFeature, type Client } from '@openfeature/server-sdk';
import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PRODUCTION, TOKEN, startServingFixture } from '../../test/helpers/flag-serving.js';
import { toFlagContext } from './openfeature-mapping.js';
import { disableFlag, putFlag } from './store.js';

const only = (name: string, payload: { type: string; value: string }) => [{ name, weight: 1000, weightType: 'fix' as const, payload }];

describe('OFREP', () => {
  let pool: pg.Pool;
  let api: FastifyInstance;
  let base: string;
  let flags: Client;
  beforeAll(async () => {
    ({ pool, api, base } = await startServingFixture());
    const put = (flag: Record<string, unknown>) => putFlag(pool, PRODUCTION, flag, { actor: 'test' });
    await put({ name: 'dark-mode', enabled: true, strategies: [{ name: 'default' }] });
    await put({ name: 'beta', enabled: true, strategies: [{ name: 'userWithId', parameters: { userIds: 'u-1' } }] });
    await put({ name: 'kill-switch', enabled: false, strategies: [{ name: 'default' }] });
    await put({ name: 'banner', enabled: true, strategies: [{ name: 'default' }], variants: only('greeting', { type: 'string', value: 'Hello' }) });
    await put({ name: 'page-size', enabled: true, strategies: [{ name: 'default' }], variants: only('large', { type: 'number', value: '25' }) });
    await put({ name: 'theme', enabled: true, strategies: [{ name: 'default' }], variants: only('red', { type: 'json', value: '{"color":"red","contrast":2}' }) });
    await put({ name: 'quoted', enabled: true, strategies: [{ name: 'default' }], variants: only('text', { type: 'json', value: '"not an object"' }) });
    await OpenFeature.setProviderAndWait('ofrep-test', new OFREPProvider({ baseUrl: base, headers: { Authorization: TOKEN } }));
    flags = OpenFeature.getClient('ofrep-test');
  });
  afterAll(async () => {
    await OpenFeature.close();
    await api.close();
  });

  it('answers the stock OFREP provider with typed values, variants and reasons', async () => {
    expect(await flags.getBooleanDetails('dark-mode', false)).toMatchObject({ value: true, variant: 'on', reason: 'STATIC', flagMetadata: { revision: expect.any(Number) as number } });
    expect(await flags.getBooleanDetails('beta', false, { targetingKey: 'u-1' })).toMatchObject({ value: true, reason: 'TARGETING_MATCH' });
    expect(await flags.getBooleanDetails('beta', true, { targetingKey: 'u-2' })).toMatchObject({ value: false, variant: 'off', reason: 'DEFAULT' });
    expect(await flags.getBooleanDetails('kill-switch', true)).toMatchObject({ value: false, reason: 'DISABLED' });
    const banner = await flags.getStringDetails('banner', 'default', { targetingKey: 'u-9' });
    expect(banner).toMatchObject({ value: 'Hello', variant: 'greeting' });
    expect(banner.errorCode).toBeUndefined();
    expect(await flags.getNumberDetails('page-size', 10, { targetingKey: 'u-9' })).toMatchObject({ value: 25, variant: 'large' });
    expect(await flags.getObjectDetails('theme', {}, { targetingKey: 'u-9' })).toMatchObject({ value: { color: 'red', contrast: 2 }, variant: 'red' });
  });

  it("gives the caller's default with the error code when the flag is unknown, broken, of another type or the context is not flat", async () => {
    expect(await flags.getBooleanDetails('no-such-flag', true)).toMatchObject({ value: true, reason: 'ERROR', errorCode: 'FLAG_NOT_FOUND' });
    expect(await flags.getObjectDetails('quoted', { fallback: true }, { targetingKey: 'u-9' })).toMatchObject({ value: { fallback: true }, errorCode: 'PARSE_ERROR', errorMessage: expect.stringMatching(/not an object or array/) as string });
    expect(await flags.getStringDetails('dark-mode', 'plain')).toMatchObject({ value: 'plain', errorCode: 'TYPE_MISMATCH' });
    expect(await flags.getBooleanDetails('dark-mode', false, { address: { city: 'Oslo' } })).toMatchObject({ value: false, errorCode: 'INVALID_CONTEXT', errorMessage: expect.stringMatching(/context\.address must be a string/) as string });
  });

  const post = async (path: string, body: string, headers: Record<string, string> = {}) => {
    const response = await request(`${base}${path}`, { method: 'POST', body, headers: { authorization: TOKEN, 'content-type': 'application/json', ...headers } });
    const text = await response.body.text();
    return { status: response.statusCode, etag: response.headers.etag as string | undefined, body: text ? (JSON.parse(text) as Record<string, unknown>) : undefined };
  };

  it('evaluates every flag at once with an ETag over the answer, 304 until the answer changes', async () => {
    const context = JSON.stringify({ context: { targetingKey: 'u-1' } });
    const first = await post('/ofrep/v1/evaluate/flags', context);
    expect(first.status).toBe(200);
    const answers = first.body!.flags as Array<Record<string, unknown>>;
    expect(answers.map((answer) => answer.key).sort()).toEqual(['banner', 'beta', 'dark-mode', 'kill-switch', 'page-size', 'quoted', 'theme']);
    expect(answers.find((answer) => answer.key === 'quoted')).toEqual({ key: 'quoted', errorCode: 'PARSE_ERROR', errorDetails: expect.stringMatching(/flag quoted, variant text/) as string });
    expect((await post('/ofrep/v1/evaluate/flags', context, { 'if-none-match': first.etag! })).status).toBe(304);
    const otherUser = await post('/ofrep/v1/evaluate/flags', JSON.stringify({ context: { targetingKey: 'u-2' } }), { 'if-none-match': first.etag! });
    expect(otherUser.status).toBe(200);
    await disableFlag(pool, PRODUCTION, 'dark-mode', { actor: 'test' });
    let changed = await post('/ofrep/v1/evaluate/flags', context, { 'if-none-match': first.etag! });
    for (let tries = 0; changed.status === 304 && tries < 100; tries += 1) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      changed = await post('/ofrep/v1/evaluate/flags', context, { 'if-none-match': first.etag! });
    }
    expect(changed.status).toBe(200);
    expect((changed.body!.flags as Array<Record<string, unknown>>).find((answer) => answer.key === 'dark-mode')).toMatchObject({ value: false, reason: 'DISABLED' });
  });

  it("answers malformed requests in OFREP's error shape", async () => {
    expect(await post('/ofrep/v1/evaluate/flags/dark-mode', '{"context": ')).toMatchObject({ status: 400, body: { key: 'dark-mode', errorCode: 'PARSE_ERROR', errorDetails: expect.stringMatching(/not JSON/) as string } });
    expect(await post('/ofrep/v1/evaluate/flags/dark-mode', '[1]')).toMatchObject({ status: 400, body: { errorCode: 'PARSE_ERROR' } });
    expect(await post('/ofrep/v1/evaluate/flags/dark-mode', '{"context": "u-1"}')).toMatchObject({ status: 400, body: { errorCode: 'INVALID_CONTEXT', errorDetails: 'the context must be an object, got string' } });
    expect(await post('/ofrep/v1/evaluate/flags', '{"context": {"currentTime": "yesterday"}}')).toMatchObject({ status: 400, body: { errorCode: 'INVALID_CONTEXT', errorDetails: expect.stringMatching(/currentTime must be a date/) as string } });
    expect(await post('/ofrep/v1/evaluate/flags/nope', '')).toMatchObject({ status: 404, body: { key: 'nope', errorCode: 'FLAG_NOT_FOUND' } });
    expect(await post('/ofrep/v1/evaluate/flags/dark-mode', '{}', { authorization: 'secret-only' })).toMatchObject({ status: 401, body: { errorCode: 'GENERAL' } });
    expect(await post('/ofrep/v1/evaluate/flags/dark-mode', '{}', { authorization: 'shop:qa.x' })).toMatchObject({ status: 401, body: { errorDetails: expect.stringMatching(/no environment "qa"/) as string } });
  });
});

describe('OpenFeature context -> Unleash context', () => {
  it('maps targetingKey to userId and sessionId and flattens the rest into properties', () => {
    expect(toFlagContext({ targetingKey: 'u-1', plan: 'pro', seats: 3, trial: false, remoteAddress: '10.0.0.1', properties: { region: 'eu' } }, { appName: 'shop' })).toEqual({
      ok: true,
      context: { appName: 'shop', userId: 'u-1', sessionId: 'u-1', remoteAddress: '10.0.0.1', properties: { plan: 'pro', seats: '3', trial: 'false', region: 'eu' } },
    });
    expect(toFlagContext({ targetingKey: 'u-1', userId: 'u-7', sessionId: 's-1' })).toMatchObject({ ok: true, context: { userId: 'u-7', sessionId: 's-1' } });
    expect(toFlagContext({ currentTime: new Date('2025-01-02T03:04:05Z') })).toEqual({ ok: true, context: { currentTime: '2025-01-02T03:04:05.000Z' } });
    expect(toFlagContext({ tags: ['a'] })).toEqual({ ok: false, message: 'context.tags must be a string, number, boolean or date (Unleash context values are flat), got an array' });
  });
});
