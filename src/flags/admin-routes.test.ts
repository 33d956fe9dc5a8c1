import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServingFixture } from '../../test/helpers/flag-serving.js';
import { listEvents } from '../store/events.js';
import { applyDueFlagSchedules } from './store-schedules.js';


type Body = Record<string, unknown> & Array<Record<string, unknown>>;

describe('the flag admin API', () => {
  let db: pg.Pool;
  let api: FastifyInstance;
  let base: string;
  beforeAll(async () => {
    ({ pool: db, api, base } = await startServingFixture());
  });
  afterAll(async () => api.close());

  const call = async (method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown, actor?: string) => {
    const headers: Record<string, string> = {};
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (actor) headers['x-promote-actor'] = actor;
    const response = await request(`${base}${path}`, { method, headers, ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}) });
    return { status: response.statusCode, body: (await response.body.json()) as Body };
  };
  const flags = '/api/apps/shop/environments/production/flags';

  it('creates, reads, lists and changes a flag, recording the actor from the header and the reason from the body', async () => {
    const created = await call('PUT', `${flags}/checkout`, { flag: { name: 'checkout', enabled: false, description: 'new checkout' }, reason: 'launch plan', expectedVersion: 0 }, 'alice');
    expect(created.status).toBe(201);
    expect(created.body.flag).toMatchObject({ name: 'checkout', version: 1, createdBy: 'alice', definition: { name: 'checkout', enabled: false, type: 'release' } });
    expect(created.body.change).toMatchObject({ action: 'created', actor: 'alice', reason: 'launch plan' });

    const enabled = await call('POST', `${flags}/checkout/enable`, { reason: 'go' });
    expect(enabled).toMatchObject({ status: 200, body: { flag: { version: 2, updatedBy: 'api' }, change: { action: 'enabled', actor: 'api', diff: ['enabled'] } } });
    const rollout = await call('POST', `${flags}/checkout/rollout`, { percent: 20, expectedVersion: 2 }, 'bob');
    expect(rollout.body.flag).toMatchObject({ version: 3, definition: { strategies: [{ name: 'flexibleRollout', parameters: { rollout: 20, stickiness: 'default', groupId: 'checkout' } }] } });
    const variants = await call('POST', `${flags}/checkout/variants`, { weights: { blue: 500, green: 500 } }, 'bob');
    expect(variants.status).toBe(200);
    expect((variants.body.flag as { definition: { variants: unknown[] } }).definition.variants).toHaveLength(2);
    // the same change again: 200, nothing changed
    expect((await call('POST', `${flags}/checkout/enable`, {})).body).toMatchObject({ change: null, flag: { version: 4 } });
    // no body at all is accepted on the action routes
    expect((await call('POST', `${flags}/checkout/disable`)).body).toMatchObject({ change: { action: 'disabled' } });

    expect((await call('GET', `${flags}/checkout`)).body).toMatchObject({ name: 'checkout', version: 5, definition: { enabled: false } });
    expect((await call('GET', flags)).body.map((each) => each.name)).toEqual(['checkout']);
    const history = await call('GET', `${flags}/checkout/history?limit=2`);
    expect(history.body.map((entry) => [entry.action, entry.actor])).toEqual([['disabled', 'api'], ['variants', 'bob']]);
    const events = (await listEvents(db, { app: 'shop' })).filter((event) => event.type === 'flag.changed');
    expect(events.map((event) => event.actor)).toEqual(['alice', 'api', 'bob', 'bob', 'api']);
  });

  it('answers 400 naming the field, 404 for unknown app, environment or flag, 409 on a version conflict', async () => {
    const invalid = await call('PUT', `${flags}/broken`, { flag: { name: 'broken', strategies: [{ name: 'default', constraints: [{ contextName: 'version', operator: 'SEMVER_GT', value: 'not-a-version' }] }] } });
    expect(invalid.status).toBe(400);
    expect(invalid.body.error).toMatch(/^flag "broken" is not valid: strategies\[0\]\.constraints\[0\]\.value: /);
    expect(invalid.body.problems).toEqual([expect.objectContaining({ field: 'strategies[0].constraints[0].value' })]);
    expect((await call('PUT', `${flags}/other`, { flag: { name: 'checkout' } })).body.error).toMatch(/name: must be "other"/);
    expect((await call('POST', `${flags}/checkout/rollout`, { percent: 101 })).body.error).toMatch(/percent must be <= 100/);
    expect((await call('POST', `${flags}/checkout/enable`, { force: true })).status).toBe(400);
    expect((await call('POST', `${flags}/checkout/variants`, { weights: { blue: 900, green: 500 } })).status).toBe(400);

    expect(await call('GET', `${flags}/ghost`)).toMatchObject({ status: 404, body: { error: 'shop/production has no flag "ghost"' } });
    expect(await call('GET', '/api/apps/shop/environments/qa/flags')).toMatchObject({ status: 404, body: { error: 'app "shop" has no environment "qa" in the state store' } });
    expect(await call('GET', '/api/apps/other/environments/production/flags')).toMatchObject({ status: 404, body: { error: 'the state store has no app "other"' } });
    expect((await call('POST', `${flags}/ghost/enable`, {})).status).toBe(404);

    const conflict = await call('POST', `${flags}/checkout/enable`, { expectedVersion: 1 });
    expect(conflict.status).toBe(409);
    expect(conflict.body.error).toMatch(/changed since you read it: you read version 1, it is at version \d+ now/);
    expect((await call('PUT', `${flags}/checkout`, { flag: { name: 'checkout' }, expectedVersion: 0 })).status).toBe(409);
  });

  it('archives with DELETE and restores with PUT', async () => {
    await call('PUT', `${flags}/old`, { flag: { name: 'old', enabled: true } });
    expect((await call('DELETE', `${flags}/old`, { reason: 'removed from the code' })).body).toMatchObject({ flag: { archived: true }, change: { action: 'archived', reason: 'removed from the code' } });
    expect((await call('DELETE', `${flags}/old`)).status).toBe(200);
    expect((await call('GET', flags)).body.map((each) => each.name)).toEqual(['checkout']);
    expect((await call('GET', `${flags}?archived=true`)).body.map((each) => each.name)).toEqual(['checkout', 'old']);
    expect((await call('GET', `${flags}/old`)).body).toMatchObject({ archived: true });
    expect((await call('PUT', `${flags}/old`, { flag: { name: 'old', enabled: true } })).body).toMatchObject({ change: { action: 'restored' }, flag: { archived: false } });
  });

  it('manages segments for the whole app and refuses to delete one in use', async () => {
    const created = await call('PUT', '/api/apps/shop/segments/beta', { segment: { name: 'beta', constraints: [{ contextName: 'userId', operator: 'IN', values: ['u1'] }] }, reason: 'beta group' }, 'carol');
    expect(created).toMatchObject({ status: 201, body: { segment: { name: 'beta', version: 1 }, change: { action: 'created', actor: 'carol' } } });
    expect((await call('PUT', '/api/apps/shop/segments/beta', { segment: { name: 'beta', constraints: [{ contextName: 'userId', operator: 'BETWEEN', values: ['u1'] }] } })).body.problems).toEqual([expect.objectContaining({ field: 'constraints[0].operator' })]);
    await call('PUT', `${flags}/beta-only`, { flag: { name: 'beta-only', enabled: true, strategies: [{ name: 'default', segments: ['beta'] }] } });
    const refused = await call('DELETE', '/api/apps/shop/segments/beta', {});
    expect(refused).toMatchObject({ status: 409, body: { error: 'segment "beta" of app shop is still used by flag production/beta-only' } });
    expect((await call('GET', '/api/apps/shop/segments')).body.map((each) => each.name)).toEqual(['beta']);
    expect((await call('GET', '/api/apps/shop/segments/nope')).status).toBe(404);
    await call('DELETE', `${flags}/beta-only`, {});
    expect((await call('DELETE', '/api/apps/shop/segments/beta', { reason: 'done' })).body).toMatchObject({ action: 'deleted', reason: 'done' });
    expect((await call('GET', '/api/apps/shop/segments/beta/history')).body.map((entry) => entry.action)).toEqual(['deleted', 'created']);
  });

  it('schedules, lists, cancels and applies changes; lists stale flags', async () => {
    const due = await call('POST', `${flags}/checkout/schedules`, { applyAt: new Date(Date.now() - 1000).toISOString(), change: { action: 'rollout', percent: 75 }, reason: 'ramp' }, 'dave');
    expect(due).toMatchObject({ status: 201, body: { status: 'pending', createdBy: 'dave', change: { action: 'rollout', percent: 75 } } });
    const later = await call('POST', `${flags}/checkout/schedules`, { applyAt: new Date(Date.now() + 3_600_000).toISOString(), change: { action: 'disable' } });
    expect((await call('POST', `${flags}/checkout/schedules`, { applyAt: new Date().toISOString(), change: { action: 'rollout', percent: 500 } })).body.error).toMatch(/percent: expected a whole number from 0 to 100/);
    expect((await call('POST', `${flags}/checkout/schedules`, { applyAt: 'tomorrow', change: { action: 'enable' } })).status).toBe(400);
    expect((await call('GET', '/api/apps/shop/environments/production/schedules?status=pending')).body.map((each) => each.id)).toEqual([due.body.id, later.body.id]);
    expect((await call('DELETE', `/api/apps/shop/environments/production/schedules/${String(later.body.id)}`, { reason: 'keep it on' })).body).toMatchObject({ status: 'cancelled', finishedBy: 'api' });
    expect((await call('DELETE', `/api/apps/shop/environments/production/schedules/${String(later.body.id)}`, {})).status).toBe(400);
    expect((await call('DELETE', '/api/apps/shop/environments/production/schedules/999999', {})).status).toBe(404);
    await applyDueFlagSchedules(db);
    expect((await call('GET', `${flags}/checkout`)).body).toMatchObject({ definition: { strategies: [{ parameters: { rollout: 75 } }] } });

    await db.query(`update promote.flags set updated_at = now() - interval '60 days' where name = 'old'`);
    const stale = await call('GET', '/api/apps/shop/stale-flags?unchangedFor=30d');
    expect(stale.body.map((each) => [(each.flag as { name: string }).name, each.state])).toEqual([['old', 'on']]);
    expect((await call('GET', '/api/apps/shop/stale-flags?unchangedFor=90d&environment=production')).body).toEqual([]);
    expect(await call('GET', '/api/apps/shop/stale-flags?unchangedFor=soon')).toMatchObject({ status: 400, body: { error: expect.stringMatching(/^unchangedFor: /) as unknown } });
  });

  it('describes every flag route in the OpenAPI document', async () => {
    const { body } = await call('GET', '/openapi.json');
    expect(Object.keys(body.paths as object)).toEqual(
      expect.arrayContaining([
        '/api/apps/{app}/environments/{environment}/flags',
        '/api/apps/{app}/environments/{environment}/flags/{name}',
        '/api/apps/{app}/environments/{environment}/flags/{name}/rollout',
        '/api/apps/{app}/environments/{environment}/flags/{name}/history',
        '/api/apps/{app}/environments/{environment}/schedules',
        '/api/apps/{app}/segments/{name}',
        '/api/apps/{app}/stale-flags',
      ]),
    );
  });
});
