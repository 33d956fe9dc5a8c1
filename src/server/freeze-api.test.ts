/**
 * POST /api/deploy into a frozen environment, through buildServer and app.inject on a real store:
 * refused with 423 saying which window and until when; overrideFreeze (admin only, 1..1000
 * characters) starts the rollout and records freeze.overridden with the caller and the reason.
 */
import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStorePool } from '../../test/helpers/database.js';
import { parseSpec } from '../spec/index.js';
import { createRelease, listEvents, upsertApp } from '../store/index.js';
import { buildServer } from './app.js';

const until = new Date(Date.now() + 3_600_000);
const specText = `version: 1
app: { name: shop }
environments:
  - name: production
    database: postgres://localhost/shop
    target: { type: external, url: "http://127.0.0.1:1/{{version}}" }
    strategy: canary
    freeze:
      windows:
        - name: change-freeze
          from: ${new Date(Date.now() - 60_000).toISOString()}
          until: ${until.toISOString()}
strategies:
  canary: { type: canary, steps: [{ setWeight: 50 }, { promote: {} }] }
`;

describe('POST /api/deploy during a freeze window', () => {
  let pool: pg.Pool;
  let api: FastifyInstance;

  beforeAll(async () => {
    ({ pool } = await createStorePool());
    const parsed = parseSpec(specText, { file: 'promote.yaml' });
    if (!parsed.ok) throw new Error(parsed.problems.map((problem) => problem.message).join('\n'));
    await upsertApp(pool, { name: 'shop' });
    await createRelease(pool, { app: 'shop', version: '1.0.0', digest: `sha256:${'a'.repeat(64)}`, migrationChecksums: {} });
    api = await buildServer({ pool, spec: parsed.spec, web: false });
  });
  afterAll(async () => api?.close());

  const deploy = async (body: Record<string, unknown>, headers: Record<string, string> = {}) => {
    const response = await api.inject({ method: 'POST', url: '/api/deploy', payload: { environment: 'production', version: '1.0.0', ...body }, headers: { 'x-promote-actor': 'dana', ...headers } });
    return { status: response.statusCode, body: response.json<Record<string, unknown>>() };
  };
  const rollouts = async () => Number((await pool.query<{ n: number }>('select count(*)::int as n from promote.rollouts')).rows[0]!.n);

  it('answers 423 naming the window, its end and the override, and starts nothing', async () => {
    const refused = await deploy({});
    expect(refused.status).toBe(423);
    expect(refused.body.error).toBe(`production is frozen by window change-freeze until ${until.toISOString().slice(0, 16)}Z: deploys there are refused until then`);
    expect(refused.body.hint).toContain('overrideFreeze');
    expect(await rollouts()).toBe(0);
  });

  it('refuses an empty or oversized reason, and an override by a non-admin', async () => {
    expect((await deploy({ overrideFreeze: '' })).status).toBe(400);
    expect((await deploy({ overrideFreeze: 'x'.repeat(1001) })).status).toBe(400);
    const operator = await deploy({ overrideFreeze: 'hotfix' }, { 'x-promote-role': 'operator' });
    expect(operator.status).toBe(403);
    expect(await rollouts()).toBe(0);
  });

  it('an admin override starts the rollout and records who overrode which window and why', async () => {
    const started = await deploy({ overrideFreeze: 'INC-42: checkout is down, this is the fix' });
    expect(started.status).toBe(201);
    const events = await listEvents(pool, { rolloutId: Number(started.body.id) });
    expect(events.find((event) => event.type === 'freeze.overridden')).toMatchObject({
      environment: 'production',
      data: { window: 'change-freeze', until: until.toISOString(), reason: 'INC-42: checkout is down, this is the fix', version: '1.0.0' },
    });
    const actor = events.find((event) => event.type === 'freeze.overridden')?.actor;
    expect(actor).toBe(events.find((event) => event.type === 'rollout.created')?.actor);
    expect(actor).toContain('dana');
  });
});
