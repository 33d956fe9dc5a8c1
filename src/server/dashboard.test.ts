import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStorePool } from '../../test/helpers/database.js';
import { startRouter, table } from '../../test/helpers/router.js';
import { startUpstream } from '../../test/helpers/upstream.js';
import { startRollout } from '../engine/start.js';
import { putFlag } from '../flags/store.js';
import { RouterAdmin } from '../router/admin.js';
import { parseSpec, type PromoteSpec } from '../spec/index.js';
import { appendEvent, createRelease, syncEnvironments, upsertApp } from '../store/index.js';
import { buildServer } from './app.js';

const specText = (adminPort: number) => `version: 1
app: { name: shop }
environments:
  - name: staging
    database: postgres://localhost/shop
    target: { type: process, command: node server.js }
    strategy: canary
    router: { listen: 127.0.0.1:0, admin: 127.0.0.1:${adminPort} }
  - name: production
    database: postgres://localhost/shop
    target: { type: process, command: node server.js }
    strategy: canary
analysis:
  templates:
    errors:
      provider: { type: builtin, metric: error_rate }
      judge: { type: threshold, condition: value < 0.05 }
    latency:
      provider: { type: builtin, metric: latency }
      judge: { type: compare, test: mannWhitney }
strategies:
  canary:
    type: canary
    steps:
      - setWeight: 20
      - analysis: { templates: [errors, latency] }
      - setFlag: { flag: checkout, enabled: true }
      - promote: {}
`;

describe('the dashboard API', () => {
  let db: pg.Pool;
  let spec: PromoteSpec;
  let api: FastifyInstance;
  let base: string;
  let routerUrl: string;
  let admin: RouterAdmin;
  let healthy: number;
  let running: number;

  beforeAll(async () => {
    ({ pool: db } = await createStorePool());
    const stable = await startUpstream('1.0.0');
    const canary = await startUpstream('1.1.0');
    const { router, url } = await startRouter(table([['1.1.0', 50, [canary.url]], ['1.0.0', 50, [stable.url]]]));
    routerUrl = url;
    admin = new RouterAdmin(router, { host: '127.0.0.1', port: 0 });
    const adminAddress = await admin.listen();
    const parsed = parseSpec(specText(adminAddress.port), { file: 'promote.yaml' });
    if (!parsed.ok) throw new Error(parsed.problems.map((problem) => problem.message).join('\n'));
    spec = parsed.spec;
    await upsertApp(db, { name: 'shop' });
    await syncEnvironments(db, 'shop', ['staging', 'production']);
    await putFlag(db, { app: 'shop', environment: 'staging' }, { name: 'checkout', enabled: false }, { actor: 'alice' });
    for (const version of ['1.0.0', '1.1.0']) await createRelease(db, { app: 'shop', version, digest: `sha256:${version.replaceAll('.', '').padEnd(64, 'a')}`, migrationChecksums: {} });
    // staging: 1.0.0 Healthy, then 1.1.0 running at its analysis step (no controller runs: rows set as the engine would)
    healthy = (await startRollout(db, { spec, environment: 'staging', version: '1.0.0', actor: 'alice' })).id;
    await db.query(`update promote.rollouts set phase = 'Healthy', current_step = 4 where id = $1`, [healthy]);
    running = (await startRollout(db, { spec, environment: 'staging', version: '1.1.0', actor: 'alice' })).id;
    await db.query(`update promote.rollouts set phase = 'Progressing', current_step = 1, weights = '{"1.1.0": 20, "1.0.0": 80}' where id = $1`, [running]);
    await appendEvent(db, { type: 'step.completed', actor: 'controller', app: 'shop', environment: 'staging', rolloutId: running, data: { step: 0, label: 'setWeight 20' } });
    api = await buildServer({ pool: db, spec, web: false });
    base = await api.listen({ host: '127.0.0.1', port: 0 });
  });
  afterAll(async () => {
    await api?.close();
    await admin?.close();
  });

  const get = async (path: string) => {
    const response = await request(`${base}${path}`);
    return { status: response.statusCode, body: (await response.body.json()) as Record<string, unknown> };
  };

  it('GET /api/overview: environments in promotion order with the running release, the active rollout and the last finished one', async () => {
    const { status, body } = await get('/api/overview');
    expect(status).toBe(200);
    const [staging, production] = body.environments as Array<Record<string, unknown>>;
    expect(staging).toMatchObject({ name: 'staging', production: false, running: { version: '1.0.0', rolloutId: healthy }, active: { id: running, phase: 'Progressing', currentStep: 1, weights: { '1.1.0': 20, '1.0.0': 80 }, version: '1.1.0' }, lastFinished: { id: healthy, version: '1.0.0' } });
    expect(production).toMatchObject({ name: 'production', production: true, running: null, active: null, lastFinished: null, weights: null });
  });

  it('GET /api/rollouts/:id/detail: steps with state and times, flags touched, and the bounds the analyses judge by', async () => {
    const { status, body } = await get(`/api/rollouts/${running}/detail`);
    expect(status).toBe(200);
    const steps = body.steps as Array<{ index: number; kind: string; state: string; startedAt: string | null; finishedAt: string | null }>;
    expect(steps.map((step) => [step.kind, step.state])).toEqual([
      ['setWeight', 'done'],
      ['analysis', 'current'],
      ['setFlag', 'pending'],
      ['promote', 'pending'],
    ]);
    expect(steps[0]!.finishedAt).not.toBeNull();
    expect(steps[1]!.startedAt).toBe(steps[0]!.finishedAt);
    expect(steps[2]!.startedAt).toBeNull();
    expect(body.flags).toMatchObject({ steps: [{ step: 2, flag: 'checkout', change: { enabled: true } }], changes: [] });
    expect(body.thresholds).toEqual([
      { template: 'errors', provider: 'builtin', metric: 'error_rate', chart: 'errorRate', judge: 'threshold', condition: 'value < 0.05', bound: 0.05, operator: '<' },
      { template: 'latency', provider: 'builtin', metric: 'latency', chart: 'p99', judge: 'compare', condition: 'mannWhitney (increase is bad) against the stable version', bound: null, operator: null },
    ]);
    // a retry starts the steps over: the first attempt's completions no longer count
    await appendEvent(db, { type: 'rollout.phase', actor: 'controller', app: 'shop', environment: 'staging', rolloutId: running, data: { from: 'Degraded', to: 'Progressing', reason: 'retried by bob (attempt 2)' } });
    await db.query(`update promote.rollouts set current_step = 0 where id = $1`, [running]);
    const retried = (await get(`/api/rollouts/${running}/detail`)).body.steps as Array<{ state: string; finishedAt: string | null }>;
    expect(retried.map((step) => step.state)).toEqual(['current', 'pending', 'pending', 'pending']);
    expect(retried[0]!.finishedAt).toBeNull();
    await appendEvent(db, { type: 'step.completed', actor: 'controller', app: 'shop', environment: 'staging', rolloutId: running, data: { step: 0, label: 'setWeight 20' } });
    await db.query(`update promote.rollouts set current_step = 1 where id = $1`, [running]);
    expect(await get('/api/rollouts/999999/detail')).toEqual({ status: 404, body: { error: 'no rollout #999999 of shop' } });
  });

  it('GET /api/environments/:env/traffic: per-version points from the router, with error rate and latency', async () => {
    for (let i = 0; i < 40; i++) await (await request(`${routerUrl}/orders${i % 4 === 0 ? '?status=500' : ''}`)).body.text();
    // the router reports complete seconds only: wait for the one the requests fell in to end
    await expect
      .poll(async () => {
        const { body } = await get('/api/environments/staging/traffic?seconds=60');
        const versions = body.versions as Array<{ version: string; points: Array<{ requestsPerSecond: number }> }>;
        return versions.reduce((sum, version) => sum + version.points.reduce((total, point) => total + point.requestsPerSecond, 0), 0);
      }, { timeout: 10_000 })
      .toBeGreaterThan(0);
    const { status, body } = await get('/api/environments/staging/traffic?seconds=60');
    expect(status).toBe(200);
    expect(body).toMatchObject({ environment: 'staging', seconds: 60, step: 1 });
    const versions = body.versions as Array<{ version: string; points: Array<{ t: number; requestsPerSecond: number; errorRate: number | null; p50: number | null; p99: number | null }> }>;
    expect(versions.map((version) => version.version).sort()).toEqual(['1.0.0', '1.1.0']);
    const all = versions.flatMap((version) => version.points);
    expect(all.reduce((sum, point) => sum + point.requestsPerSecond, 0)).toBe(40);
    const busy = all.filter((point) => point.requestsPerSecond > 0);
    // a quarter of the requests answered 500, spread over both versions
    const errors = busy.reduce((sum, point) => sum + point.errorRate! * point.requestsPerSecond, 0);
    expect(errors).toBeCloseTo(10, 5);
    for (const point of busy) expect(point.p99).toBeGreaterThan(0);
    expect(versions[0]!.points).toHaveLength(60);

    expect(await get('/api/environments/production/traffic')).toEqual({ status: 404, body: { error: 'environment production has no router, so Promote measures no traffic there', hint: 'add router: to the environment in promote.yaml' } });
  });

  it('POST /api/environments/:env/rollback starts a rollback to the release Healthy before, planned without analysis', async () => {
    // 1.1.0 becomes Healthy too, so the one before it is 1.0.0
    await db.query(`update promote.rollouts set phase = 'Healthy', current_step = 4 where id = $1`, [running]);
    const response = await request(`${base}/api/environments/staging/rollback`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ reason: 'errors after 1.1.0' }) });
    const body = (await response.body.json()) as { id: number; environment: string; phase: string };
    expect(response.statusCode).toBe(201);
    expect(body).toMatchObject({ environment: 'staging', phase: 'Pending' });
    const detail = await get(`/api/rollouts/${body.id}/detail`);
    expect(detail.body).toMatchObject({ version: '1.0.0' });
    expect((detail.body.steps as Array<{ kind: string }>).map((step) => step.kind)).toEqual(['promote']);
    const events = (await get(`/api/rollouts/${body.id}/events`)).body as unknown as Array<{ type: string; data: Record<string, unknown> }>;
    expect(events.find((event) => event.type === 'rollback.requested')?.data).toEqual({ reason: 'errors after 1.1.0' });
    // a viewer may not
    const refused = await request(`${base}/api/environments/staging/rollback`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-promote-role': 'viewer' }, body: '{}' });
    expect(refused.statusCode).toBe(403);
    await refused.body.text();
  });
});
