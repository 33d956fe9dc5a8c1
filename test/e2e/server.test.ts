import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildServer } from '../../src/server/app.js';
import { parseSpec } from '../../src/spec/index.js';
import { createRelease, upsertApp } from '../../src/store/index.js';
import { runInProcess } from '../helpers/cli.js';
import { createStorePool } from '../helpers/database.js';

const specText = `version: 1
app: { name: shop }
environments:
  - name: staging
    database: postgres://localhost/shop
    target: { type: process, command: node server.js }
    strategy: canary
strategies:
  canary:
    type: canary
    steps:
      - setWeight: 50
      - promote: {}
`;

describe('the HTTP API', () => {
  let db: pg.Pool;
  let api: FastifyInstance;
  let base: string;
  beforeAll(async () => {
    ({ pool: db } = await createStorePool());
    const parsed = parseSpec(specText, { file: 'promote.yaml' });
    if (!parsed.ok) throw new Error('spec');
    await upsertApp(db, { name: 'shop' });
    await createRelease(db, { app: 'shop', version: '1.0.0', digest: `sha256:${'a'.repeat(64)}`, migrationChecksums: {} });
    api = await buildServer({ pool: db, spec: parsed.spec });
    base = await api.listen({ host: '127.0.0.1', port: 0 });
  });
  afterAll(async () => api.close());

  const call = async (method: 'GET' | 'POST', path: string, body?: unknown) => {
    const response = await request(`${base}${path}`, { method, ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body), headers: { 'content-type': 'application/json' } } : {}) });
    return { status: response.statusCode, body: (await response.body.json()) as Record<string, unknown> & Array<Record<string, unknown>> };
  };

  it('publishes an OpenAPI document generated from the route schemas', async () => {
    const { status, body } = await call('GET', '/openapi.json');
    expect(status).toBe(200);
    expect(body.openapi).toBe('3.1.0');
    expect(Object.keys(body.paths as object)).toEqual(expect.arrayContaining(['/api/deploy', '/api/rollouts', '/api/rollouts/{id}', '/api/rollouts/{id}/events', '/api/rollouts/{id}/measurements', '/api/environments/{environment}/abort', '/api/releases']));
  });

  it('rejects a malformed request naming the field', async () => {
    const missing = await call('POST', '/api/deploy', { environment: 'staging' });
    expect(missing.status).toBe(400);
    expect(missing.body.error).toMatch(/version/);
    const extra = await call('POST', '/api/deploy', { version: '1.0.0', environment: 'staging', force: true });
    expect(extra.status).toBe(400);
    expect(extra.body.error).toMatch(/additional properties|force/);
    const badEnvironment = await call('POST', '/api/deploy', { version: '1.0.0', environment: 'Staging!' });
    expect(badEnvironment.status).toBe(400);
    const huge = await call('POST', '/api/deploy', JSON.stringify({ version: '1.0.0', environment: 'staging', pad: 'x'.repeat(100_000) }));
    expect(huge.status).toBe(413);
  });

  it('starts a rollout, refuses a second one and a command that makes no sense now', async () => {
    const unknown = await call('POST', '/api/deploy', { version: '9.9.9', environment: 'staging' });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error).toBe('release 9.9.9 of shop is not recorded');
    const started = await call('POST', '/api/deploy', { version: '1.0.0', environment: 'staging' });
    expect(started.status).toBe(201);
    expect(started.body).toMatchObject({ app: 'shop', environment: 'staging', phase: 'Pending', createdBy: 'api' });
    const second = await call('POST', '/api/deploy', { version: '1.0.0', environment: 'staging' });
    expect(second.status).toBe(409);
    expect(second.body.error).toMatch(/already has an active rollout/);
    const promote = await call('POST', '/api/environments/staging/promote', { full: true });
    expect(promote.status).toBe(409);
    expect(promote.body.error).toMatch(/cannot promote a rollout that is Pending; valid now: pause, abort/);
    const abort = await call('POST', '/api/environments/staging/abort', { reason: 'wrong build' });
    expect(abort.status).toBe(202);
    const commands = await db.query<{ command: { kind: string; reason: string } }>('select command from promote.rollout_commands');
    expect(commands.rows.map((row) => row.command)).toEqual([{ kind: 'abort', actor: 'api', reason: 'wrong build' }]);
    const events = await call('GET', `/api/rollouts/${String(started.body.id)}/events`);
    expect(events.body.map((event) => event.type)).toContain('rollout.created');
    expect((await call('GET', '/api/rollouts/999')).status).toBe(404);
    expect((await call('GET', '/api/rollouts?environment=staging')).body).toHaveLength(1);
  });

  it('will not listen beyond loopback while it has no authentication', async () => {
    const result = await runInProcess(['server', '--listen', '0.0.0.0:7070', '--auth', 'none'], { cwd: '/', env: {} });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/listens on loopback only/);
  });
});
