import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PRODUCTION, STAGING, TOKEN, startServingFixture } from '../../test/helpers/flag-serving.js';
import { currentRevision, flagHistory, putFlag, requireFlag } from './store.js';

describe('the kill switch SDKs pull: POST /api/client/features/:name/disable', () => {
  let pool: pg.Pool;
  let api: FastifyInstance;
  let base: string;
  beforeAll(async () => {
    ({ pool, api, base } = await startServingFixture());
    await putFlag(pool, PRODUCTION, { name: 'new-checkout', enabled: true, strategies: [{ name: 'default' }] }, { actor: 'test' });
    await putFlag(pool, STAGING, { name: 'new-checkout', enabled: true, strategies: [{ name: 'default' }] }, { actor: 'test' });
  });
  afterAll(async () => api.close());

  const disable = async (name: string, body: unknown, headers: Record<string, string> = { authorization: TOKEN }) => {
    const response = await request(`${base}/api/client/features/${encodeURIComponent(name)}/disable`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
    return { status: response.statusCode, body: (await response.body.json()) as { changed?: boolean; revision?: number; error?: string } };
  };

  it("turns the flag off in the token's scope only, records sdk:<instance> and the reason, and answers the new revision", async () => {
    const before = await currentRevision(pool, PRODUCTION);
    const answer = await disable('new-checkout', { reason: 'gate: 5 failures within 60000 ms', instance: 'web-1' });
    expect(answer).toEqual({ status: 200, body: { changed: true, revision: before + 1 } });
    expect((await requireFlag(pool, PRODUCTION, 'new-checkout')).definition.enabled).toBe(false);
    expect((await requireFlag(pool, STAGING, 'new-checkout')).definition.enabled).toBe(true);
    const [latest] = await flagHistory(pool, PRODUCTION, 'new-checkout', { limit: 1 });
    expect(latest).toMatchObject({ action: 'disabled', actor: 'sdk:web-1', reason: 'gate: 5 failures within 60000 ms' });
  });

  it('already off: changed false, the revision unchanged, no history entry; an absent instance is sdk:unknown', async () => {
    const revision = await currentRevision(pool, PRODUCTION);
    const entries = (await flagHistory(pool, PRODUCTION, 'new-checkout', { limit: 100 })).length;
    expect(await disable('new-checkout', { reason: 'again' })).toEqual({ status: 200, body: { changed: false, revision } });
    expect(await flagHistory(pool, PRODUCTION, 'new-checkout', { limit: 100 })).toHaveLength(entries);

    await putFlag(pool, PRODUCTION, { name: 'other', enabled: true, strategies: [{ name: 'default' }] }, { actor: 'test' });
    expect((await disable('other', { reason: 'broken' })).body.changed).toBe(true);
    const [latest] = await flagHistory(pool, PRODUCTION, 'other', { limit: 1 });
    expect(latest!.actor).toBe('sdk:unknown');
  });

  it('404 for an unknown flag, 401 without a client token, 400 without a reason', async () => {
    const unknown = await disable('no-such-flag', { reason: 'x' });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error).toMatch(/has no flag "no-such-flag"/);
    const anonymous = await disable('new-checkout', { reason: 'x' }, {});
    expect(anonymous.status).toBe(401);
    const noReason = await disable('new-checkout', { instance: 'web-1' });
    expect(noReason.status).toBe(400);
    expect(noReason.body.error).toMatch(/reason/);
    const extra = await disable('new-checkout', { reason: 'x', enabled: true });
    expect(extra.status).toBe(400);
  });

  it('only ever turns a flag off: nothing in the request can turn one on', async () => {
    await putFlag(pool, PRODUCTION, { name: 'stays-off', enabled: false, strategies: [{ name: 'default' }] }, { actor: 'test' });
    for (let i = 0; i < 3; i++) expect((await disable('stays-off', { reason: `try ${i}` })).body.changed).toBe(false);
    expect((await requireFlag(pool, PRODUCTION, 'stays-off')).definition.enabled).toBe(false);
  });
});
