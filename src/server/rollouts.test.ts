import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStorePool } from '../../test/helpers/database.js';
import { startRollout } from '../engine/start.js';
import { parseSpec, type PromoteSpec } from '../spec/index.js';
import { createRelease, listEvents, upsertApp } from '../store/index.js';
import { loadEngineRecord, ROLLOUTS_CHANNEL } from '../store/rollout-engine.js';
import { buildServer } from './app.js';

const specText = `version: 1
app: { name: shop }
environments:
  - name: staging
    database: postgres://localhost/shop
    target: { type: process, command: node server.js }
    strategy: gated
  - name: production
    database: postgres://localhost/shop
    target: { type: process, command: node server.js }
    strategy: canary
strategies:
  gated:
    type: canary
    steps:
      - approval: { count: 2 }
      - promote: {}
  canary:
    type: canary
    steps:
      - setWeight: 50
      - approval: {}
      - promote: {}
`;

interface Receipt {
  approval?: { approver: string; decision: string; stepIndex: number; reason: string | null };
  step?: number;
  required?: number;
  approvals?: number;
  counted?: boolean;
  message?: string;
  error?: string;
}

describe('POST /api/rollouts/:id/approvals', () => {
  let db: pg.Pool;
  let url: string;
  let api: FastifyInstance;
  let base: string;
  let spec: PromoteSpec;
  let gated: number;
  let canary: number;
  let listener: pg.Client;
  const wakes: string[] = [];

  beforeAll(async () => {
    ({ pool: db, url } = await createStorePool());
    const parsed = parseSpec(specText, { file: 'promote.yaml' });
    if (!parsed.ok) throw new Error(parsed.problems.map((problem) => problem.message).join('\n'));
    spec = parsed.spec;
    await upsertApp(db, { name: 'shop' });
    await createRelease(db, { app: 'shop', version: '1.0.0', digest: `sha256:${'a'.repeat(64)}`, migrationChecksums: {} });
    // alice starts both rollouts; no controller runs, so each stays where its plan starts
    gated = (await startRollout(db, { spec, environment: 'staging', version: '1.0.0', actor: 'alice' })).id;
    canary = (await startRollout(db, { spec, environment: 'production', version: '1.0.0', actor: 'alice', skipEnvironmentGate: 'route test' })).id;
    api = await buildServer({ pool: db, spec });
    base = await api.listen({ host: '127.0.0.1', port: 0 });
    listener = new pg.Client({ connectionString: url });
    await listener.connect();
    listener.on('notification', (message) => wakes.push(message.payload ?? ''));
    await listener.query(`listen ${ROLLOUTS_CHANNEL}`);
  });
  afterAll(async () => {
    await listener?.end();
    await api?.close();
  });

  const vote = async (id: number, body: unknown) => {
    const response = await request(`${base}/api/rollouts/${id}/approvals`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
    return { status: response.statusCode, body: (await response.body.json()) as Receipt };
  };

  it('records a vote on the step the rollout waits at, with its audit event, and wakes the controller', async () => {
    wakes.length = 0;
    const first = await vote(gated, { approver: 'bob', reason: 'load test passed' });
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ step: 1, required: 2, approvals: 1, counted: true, message: 'step 1 has 1 of 2 approvals; waiting for 1 more' });
    expect(first.body.approval).toMatchObject({ approver: 'bob', decision: 'approved', stepIndex: 0, reason: 'load test passed' });
    // the controller sees the vote in its next look, and is told to look now
    expect((await loadEngineRecord(db, gated))?.approvals).toEqual({ 0: 1 });
    for (let waited = 0; waited < 2_000 && !wakes.includes(String(gated)); waited += 20) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(wakes).toContain(String(gated));
    const events = await listEvents(db, { rolloutId: gated });
    expect(events.filter((event) => event.type === 'approval.recorded').map((event) => [event.actor, event.data])).toEqual([
      ['bob', { step: 0, approver: 'bob', decision: 'approved', reason: 'load test passed' }],
    ]);
  });

  it('keeps the store rules: one vote per person, the starter is refused, a rejection is evidence only', async () => {
    const again = await vote(gated, { approver: 'bob', reason: 'once more' });
    expect(again.status).toBe(409);
    expect(again.body.error).toMatch(new RegExp(`^bob has already voted on step 0 of rollout #${gated} \\(approved at .*\\); each person votes once per step$`));
    const starter = await vote(gated, { approver: 'alice', reason: 'my own release' });
    expect(starter).toEqual({ status: 403, body: { error: `alice started rollout #${gated}, so alice cannot approve it; ask another approver` } });
    const rejected = await vote(gated, { approver: 'dave', reason: 'error budget is spent', decision: 'rejected' });
    expect(rejected.body).toMatchObject({ counted: false, approvals: 1, approval: { decision: 'rejected' } });
    const second = await vote(gated, { approver: ' carol ', reason: 'dashboards are green' });
    expect(second.body).toMatchObject({ counted: true, approvals: 2, message: 'step 1 has 2 of 2 approvals; the rollout continues', approval: { approver: 'carol' } });
    expect((await loadEngineRecord(db, gated))?.approvals).toEqual({ 0: 2 });
    const listed = await request(`${base}/api/rollouts/${gated}/approvals`);
    expect(listed.statusCode).toBe(200);
    expect(((await listed.body.json()) as Array<{ approver: string; decision: string }>).map((each) => `${each.approver} ${each.decision}`)).toEqual(['bob approved', 'dave rejected', 'carol approved']);
  });

  it('after a retry, the votes of the earlier attempt no longer count and the same people vote again', async () => {
    // what decide() does on retry: the next attempt starts again from the first step
    await db.query(`update promote.rollouts set state = jsonb_set(state, '{attempt}', '2') where id = $1`, [gated]);
    expect((await loadEngineRecord(db, gated))?.approvals).toEqual({});
    const again = await vote(gated, { approver: 'bob', reason: 'the fix is in' });
    expect(again.status).toBe(201);
    expect(again.body).toMatchObject({ approvals: 1, counted: true, approval: { attempt: 2, approver: 'bob' } });
    expect((await loadEngineRecord(db, gated))?.approvals).toEqual({ 0: 1 });
  });

  it('refuses a vote on a rollout that is not at an approval step, or has ended, naming where it is', async () => {
    const early = await vote(canary, { approver: 'bob', reason: 'looks good' });
    expect(early).toEqual({ status: 409, body: { error: `rollout #${canary} is at step 1 of 3 (setWeight 50), not at an approval step; votes are taken only while it waits at one` } });
    await db.query(`update promote.rollouts set phase = 'Aborted', state = jsonb_set(jsonb_set(state, '{phase}', '"Aborted"'), '{step}', '1') where id = $1`, [canary]);
    const ended = await vote(canary, { approver: 'bob', reason: 'looks good' });
    expect(ended).toEqual({ status: 409, body: { error: `rollout #${canary} is Aborted; votes are taken only while it waits at an approval step` } });
    expect(await vote(999_999, { approver: 'bob', reason: 'looks good' })).toEqual({ status: 404, body: { error: 'no rollout #999999 of shop' } });
    expect((await request(`${base}/api/rollouts/999999/approvals`)).statusCode).toBe(404);
    // nothing was recorded for any of them
    expect((await db.query('select count(*)::int as count from promote.approvals where rollout_id = $1', [canary])).rows[0]).toEqual({ count: 0 });
  });

  it('validates the body by its schema', async () => {
    const anonymous = await vote(gated, { reason: 'why' });
    expect(anonymous.status).toBe(400);
    expect(anonymous.body.error).toMatch(/must name the approver/);
    for (const body of [{ approver: 'bob' }, { approver: '   ', reason: 'why' }, { approver: 'bob', reason: '' }, { approver: 'bob', reason: 'why', decision: 'maybe' }, { approver: 'bob', reason: 'why', role: 'admin' }]) {
      const refused = await vote(gated, body);
      expect(refused.status, JSON.stringify(body)).toBe(400);
      expect(refused.body.error).toMatch(/^body/);
    }
    const document = (await (await request(`${base}/openapi.json`)).body.json()) as { paths: Record<string, Record<string, unknown>> };
    expect(Object.keys(document.paths['/api/rollouts/{id}/approvals'] ?? {}).sort()).toEqual(['get', 'post']);
  });
});
