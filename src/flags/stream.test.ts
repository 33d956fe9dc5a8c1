import Fastify, { type FastifyInstance } from 'fastify';
import type pg from 'pg';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PRODUCTION, TOKEN, startServingFixture, waitFor } from '../../test/helpers/flag-serving.js';
import { createSseParser, type SseEvent } from '../sdk/flags-transport.js';
import { createPostgresFlagSource } from './pg-source.js';
import { createRulesetCache, type RulesetCache } from './ruleset-cache.js';
import { flagServing } from './serving.js';
import type { FlagRulesetSource, ServedRuleset } from './source.js';
import { currentRevision, disableFlag, enableFlag, putFlag } from './store.js';

describe('the change stream', () => {
  let pool: pg.Pool;
  let fixture: FastifyInstance;
  let api: FastifyInstance;
  let base: string;
  let cache: RulesetCache;
  let sourceListeners = 0;
  beforeAll(async () => {
    ({ pool, api: fixture } = await startServingFixture());
    await putFlag(pool, PRODUCTION, { name: 'search-v2', enabled: true, strategies: [{ name: 'default' }] }, { actor: 'test' });
    // the real store, counted: how many change listeners the stream holds on it
    const store = createPostgresFlagSource(pool);
    const source: FlagRulesetSource & { close(): Promise<void> } = {
      ruleset: (scope) => store.ruleset(scope),
      async onChange(scope, listener) {
        const unsubscribe = await store.onChange(scope, listener);
        sourceListeners += 1;
        return async () => {
          sourceListeners -= 1;
          await unsubscribe();
        };
      },
      close: () => store.close(),
    };
    cache = createRulesetCache(source);
    api = Fastify();
    await api.register(flagServing, { pool, serverApp: 'shop', source, cache, stream: { heartbeatMs: 50 } });
    base = await api.listen({ host: '127.0.0.1', port: 0 });
  });
  afterAll(async () => {
    await api.close();
    await fixture.close();
  });

  const open = async (headers: Record<string, string> = {}) => {
    const events: SseEvent[] = [];
    let raw = '';
    const controller = new AbortController();
    const response = await request(`${base}/api/flags/stream`, { headers: { authorization: TOKEN, ...headers }, signal: controller.signal });
    const parse = createSseParser((event) => events.push(event));
    const reading = (async () => {
      try {
        for await (const chunk of response.body) {
          raw += String(chunk);
          parse(String(chunk));
        }
      } catch {
        // aborted by the test
      }
    })();
    return { status: response.statusCode, headers: response.headers, events, raw: () => raw, close: async () => (controller.abort(), await reading) };
  };
  const rulesets = (events: SseEvent[]) => events.filter((event) => event.event === 'ruleset').map((event) => ({ id: Number(event.id), ruleset: JSON.parse(event.data) as ServedRuleset }));

  it('sends the ruleset on connect, again after every change, and heartbeats in between', async () => {
    const stream = await open();
    try {
      expect(stream.status).toBe(200);
      expect(stream.headers['content-type']).toMatch(/^text\/event-stream/);
      await waitFor(() => stream.events.length === 1, 2000, 'the first ruleset');
      const [first] = rulesets(stream.events);
      expect(first!.id).toBe(first!.ruleset.revision);
      expect(first!.ruleset.features.map((feature) => feature.name)).toEqual(['search-v2']);
      const started = performance.now();
      await disableFlag(pool, PRODUCTION, 'search-v2', { actor: 'test' });
      await waitFor(() => rulesets(stream.events).length === 2, 2000, 'the changed ruleset');
      expect(performance.now() - started).toBeLessThan(1000);
      const [, second] = rulesets(stream.events);
      expect(second!.id).toBeGreaterThan(first!.id);
      expect(second!.ruleset.features[0]!.enabled).toBe(false);
      await waitFor(() => (stream.raw().match(/^: heartbeat$/gm) ?? []).length >= 2, 2000, 'two heartbeats');
    } finally {
      await stream.close();
      await enableFlag(pool, PRODUCTION, 'search-v2', { actor: 'test' });
    }
  });

  it('tells a client reconnecting at the current revision that nothing changed, and sends the rest the current ruleset', async () => {
    const revision = await currentRevision(pool, PRODUCTION);
    const current = await open({ 'last-event-id': String(revision) });
    const behind = await open({ 'last-event-id': String(revision - 1) });
    try {
      await waitFor(() => current.events.length === 1 && behind.events.length === 1, 2000, 'the first events');
      expect(current.events[0]).toEqual({ event: 'unchanged', id: String(revision), data: `{"revision":${revision}}` });
      expect(rulesets(behind.events)[0]!.id).toBe(revision);
    } finally {
      await current.close();
      await behind.close();
    }
  });

  it('refuses a client without a token and leaks no listeners when clients go away', async () => {
    const refused = await request(`${base}/api/flags/stream`);
    expect(refused.statusCode).toBe(401);
    expect(((await refused.body.json()) as { error: string }).error).toMatch(/Authorization header is missing/);
    const streams = await Promise.all(Array.from({ length: 20 }, () => open()));
    await waitFor(() => streams.every((stream) => stream.events.length === 1), 3000, 'every first ruleset');
    expect(cache.listenerCount(PRODUCTION)).toBe(20);
    expect(sourceListeners).toBe(1);
    await Promise.all(streams.map((stream) => stream.close()));
    await waitFor(() => cache.listenerCount() === 0, 2000, 'every listener gone');
    // a change after they left reaches nobody and breaks nothing
    await disableFlag(pool, PRODUCTION, 'search-v2', { actor: 'test' });
    const later = await open();
    await waitFor(() => rulesets(later.events).length === 1, 2000, 'a new client still served');
    expect(rulesets(later.events)[0]!.ruleset.features[0]!.enabled).toBe(false);
    await later.close();
    await waitFor(() => cache.listenerCount() === 0, 2000, 'the last listener gone');
  });

  it('ends open streams when the server closes', async () => {
    const server = Fastify();
    await server.register(flagServing, { pool, serverApp: 'shop' });
    const url = await server.listen({ host: '127.0.0.1', port: 0 });
    const response = await request(`${url}/api/flags/stream`, { headers: { authorization: TOKEN } });
    const body = response.body.text();
    const closing = performance.now();
    await server.close();
    await body;
    expect(performance.now() - closing).toBeLessThan(2000);
  });
});
