/**
 * The HTTP status of a PromoteError is the error's own (notFound: 404), else 400 for usage and 409 for
 * the rest: never guessed from its wording. Through buildServer and app.inject on a real store:
 * "no earlier Healthy release" is a conflict (409, it was 404 by the words "has no"), unknown things
 * (environment, rollout, release) are 404, and a new message saying "has no" without a status is 409.
 */
import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStorePool } from '../../test/helpers/database.js';
import { startRollout } from '../engine/start.js';
import { parseSpec } from '../spec/index.js';
import { createRelease, upsertApp } from '../store/index.js';
import { buildServer } from './app.js';

const specText = `version: 1
app: { name: shop }
environments:
  - name: staging
    database: postgres://localhost/shop
    target: { type: external, url: "http://127.0.0.1:1/{{version}}" }
    strategy: canary
strategies:
  canary: { type: canary, steps: [{ setWeight: 50 }, { promote: {} }] }
`;

describe('the HTTP status of an API error', () => {
  let pool: pg.Pool;
  let api: FastifyInstance;

  beforeAll(async () => {
    ({ pool } = await createStorePool());
    const parsed = parseSpec(specText, { file: 'promote.yaml' });
    if (!parsed.ok) throw new Error(parsed.problems.map((problem) => problem.message).join('\n'));
    await upsertApp(pool, { name: 'shop' });
    await createRelease(pool, { app: 'shop', version: '1.0.0', digest: `sha256:${'a'.repeat(64)}`, migrationChecksums: {} });
    // 1.0.0 is Healthy in staging: the only release that ever was, so there is nothing earlier to return to
    const started = await startRollout(pool, { spec: parsed.spec, environment: 'staging', version: '1.0.0', actor: 'alice' });
    await pool.query(`update promote.rollouts set phase = 'Healthy' where id = $1`, [started.id]);
    api = await buildServer({ pool, spec: parsed.spec });
  });
  afterAll(async () => {
    await api?.close();
  });

  const post = async (url: string, body: unknown = {}) => {
    const response = await api.inject({ method: 'POST', url, payload: body as Record<string, unknown> });
    return { status: response.statusCode, body: response.json<{ error: string; hint?: string }>() };
  };

  it('answers a rollback with no earlier Healthy release 409, with its message and hint', async () => {
    const answer = await post('/api/environments/staging/rollback', { reason: 'errors after 1.0.0' });
    expect(answer).toEqual({
      status: 409,
      body: { error: 'staging has no earlier Healthy release to return to', hint: 'name the release to return to: promote rollback --to <version>, or "to" in the API call' },
    });
    // refused before anything started: staging still has only its one rollout
    expect((await pool.query('select count(*)::int as count from promote.rollouts')).rows[0]).toEqual({ count: 1 });
  });

  it('answers a PromoteError that says "has no" but gives no status 409, not 404', async () => {
    // buildServer is ready when it returns, so no route can be added: the words come from a version
    // name instead, which the refusal "it was never Healthy there" (no status of its own) repeats
    const version = '0.9 has no migrations';
    await createRelease(pool, { app: 'shop', version, digest: `sha256:${'c'.repeat(64)}`, migrationChecksums: {} });
    expect(await post('/api/environments/staging/rollback', { to: version })).toMatchObject({ status: 409, body: { error: `cannot roll staging back to ${version}: it was never Healthy there` } });
  });

  it('answers 404 for what does not exist: an environment, a rollout, a release, an active rollout to command', async () => {
    // a rollback to an unknown environment names the environment, not a missing earlier release
    expect(await post('/api/environments/qa/rollback')).toMatchObject({ status: 404, body: { error: 'no environment "qa" in promote.yaml; expected one of staging' } });
    expect(await post('/api/deploy', { version: '1.0.0', environment: 'qa' })).toMatchObject({ status: 404, body: { error: 'no environment "qa" in promote.yaml; expected one of staging' } });
    expect(await post('/api/deploy', { version: '9.9.9', environment: 'staging' })).toMatchObject({ status: 404, body: { error: 'release 9.9.9 of shop is not recorded' } });
    expect(await post('/api/rollouts/424242/approvals', { approver: 'bob', reason: 'looks fine' })).toMatchObject({ status: 404, body: { error: 'no rollout #424242 of shop' } });
    expect(await post('/api/environments/staging/pause')).toMatchObject({ status: 404, body: { error: 'shop has no active rollout in staging to pause' } });
  });

  it('keeps a conflict 409: rolling back to a release that never served the environment', async () => {
    await createRelease(pool, { app: 'shop', version: '2.0.0', digest: `sha256:${'b'.repeat(64)}`, migrationChecksums: {} });
    expect(await post('/api/environments/staging/rollback', { to: '2.0.0' })).toMatchObject({ status: 409, body: { error: 'cannot roll staging back to 2.0.0: it was never Healthy there' } });
  });
});
