import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runInProcess } from '../../test/helpers/cli.js';
import { createStorePool } from '../../test/helpers/database.js';
import { specFromYaml } from '../../test/helpers/spec.js';
import { scratchFolder } from '../../test/helpers/scratch.js';
import { startRollout } from '../engine/start.js';
import { putFlag } from '../flags/store.js';
import type { PromoteSpec } from '../spec/index.js';
import { createRelease, getRollout, listEvents, upsertApp } from '../store/index.js';
import { ACTIONS, can, effectiveRole, ROLES, unclassifiedRoutes, type Action, type Role } from './access.js';
import { buildServer } from './app.js';

const specText = `version: 1
app: { name: shop }
environments:
  - name: staging
    database: postgres://localhost/shop
    target: { type: process, command: node server.js }
    strategy: canary
  - name: live
    database: postgres://localhost/shop
    target: { type: process, command: node server.js }
    strategy: canary
strategies:
  canary:
    type: canary
    steps:
      - setWeight: 50
      - approval: {}
      - promote: {}
`;

const specOf = specFromYaml;

describe('can(role, action, environment)', () => {
  const spec = specOf(specText);
  // the whole matrix, written out: [role, environment kind] -> the actions allowed
  const expected: Record<Role, { nonProduction: Action[]; production: Action[] }> = {
    viewer: { nonProduction: [], production: [] },
    operator: { nonProduction: ['deploy', 'pause', 'resume', 'abort', 'retry', 'promote', 'rollback', 'flag.write'], production: ['pause', 'abort'] },
    approver: { nonProduction: ['deploy', 'pause', 'resume', 'abort', 'retry', 'promote', 'rollback', 'approve', 'flag.write'], production: ['pause', 'abort', 'approve'] },
    admin: { nonProduction: [...ACTIONS], production: [...ACTIONS] },
  };

  for (const role of ROLES) {
    for (const action of ACTIONS) {
      it(`${role} ${action}: staging ${expected[role].nonProduction.includes(action)}, live (last = production) ${expected[role].production.includes(action)}`, () => {
        expect(can(spec, role, action, 'staging')).toBe(expected[role].nonProduction.includes(action));
        expect(can(spec, role, action, 'live')).toBe(expected[role].production.includes(action));
        // an environment named production is production wherever it stands; app-wide changes count as production
        expect(can(spec, role, action, 'production')).toBe(expected[role].production.includes(action));
        expect(can(spec, role, action, undefined)).toBe(expected[role].production.includes(action));
      });
    }
  }

  it('promote server --role takes only a known role', async () => {
    const refused = await runInProcess(['server', '--role', 'root'], { cwd: await scratchFolder() });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('--role root: roles are viewer, operator, approver, admin');
  });

  it('the role header only lowers the server role', () => {
    expect(effectiveRole('admin', undefined)).toBe('admin');
    expect(effectiveRole('admin', 'viewer')).toBe('viewer');
    expect(effectiveRole('operator', 'admin')).toBe('operator');
    expect(effectiveRole('operator', ['approver', 'viewer'])).toBe('operator');
    expect(() => effectiveRole('admin', 'root')).toThrow('x-promote-role: unknown role "root"; roles are viewer, operator, approver, admin');
  });
});

describe('the access check on the API', () => {
  let db: pg.Pool;
  let spec: PromoteSpec;
  let api: FastifyInstance;
  let operatorApi: FastifyInstance;
  let base: string;
  let operatorBase: string;
  let live: number;

  beforeAll(async () => {
    ({ pool: db } = await createStorePool());
    spec = specOf(specText);
    await upsertApp(db, { name: 'shop' });
    await createRelease(db, { app: 'shop', version: '1.0.0', digest: `sha256:${'a'.repeat(64)}`, migrationChecksums: {} });
    live = (await startRollout(db, { spec, environment: 'live', version: '1.0.0', actor: 'alice', skipEnvironmentGate: 'access test' })).id;
    await putFlag(db, { app: 'shop', environment: 'live' }, { name: 'checkout', enabled: false }, { actor: 'alice' });
    api = await buildServer({ pool: db, spec, web: false });
    base = await api.listen({ host: '127.0.0.1', port: 0 });
    operatorApi = await buildServer({ pool: db, spec, role: 'operator', web: false });
    operatorBase = await operatorApi.listen({ host: '127.0.0.1', port: 0 });
  });
  afterAll(async () => {
    await api?.close();
    await operatorApi?.close();
  });

  const call = async (at: string, method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, role?: string, body: unknown = {}) => {
    const response = await request(`${at}${path}`, {
      method,
      headers: { 'content-type': 'application/json', ...(role ? { 'x-promote-role': role } : {}) },
      ...(method === 'GET' ? {} : { body: JSON.stringify(body) }),
    });
    return { status: response.statusCode, body: (await response.body.json()) as Record<string, unknown> };
  };

  it("refuses a viewer's abort in production with 403 and changes nothing", async () => {
    const before = await getRollout(db, live);
    const eventsBefore = (await listEvents(db, { rolloutId: live })).length;
    const refused = await call(base, 'POST', '/api/environments/live/abort', 'viewer', { reason: 'try' });
    expect(refused.status).toBe(403);
    expect(refused.body).toEqual({ error: 'role viewer may not abort in live', hint: 'you view as viewer (x-promote-role); your roles: admin' });
    const after = await getRollout(db, live);
    expect(after?.phase).toBe(before?.phase);
    expect(after?.updatedAt).toEqual(before?.updatedAt);
    expect((await listEvents(db, { rolloutId: live })).length).toBe(eventsBefore);
    expect((await db.query('select count(*)::int as count from promote.rollout_commands')).rows[0]).toEqual({ count: 0 });
  });

  it("an operator server refuses production deploys and flag writes but lets a pause through; the header cannot raise the role", async () => {
    const deploy = await call(operatorBase, 'POST', '/api/deploy', 'admin', { version: '1.0.0', environment: 'live' });
    expect(deploy).toEqual({ status: 403, body: { error: 'role operator may not deploy in live', hint: 'the server gives its callers the role operator (promote server --role); admin may' } });
    const flag = await call(operatorBase, 'POST', '/api/apps/shop/environments/live/flags/checkout/enable');
    expect(flag.status).toBe(403);
    expect(flag.body.error).toBe('role operator may not flag.write in live');
    const segment = await call(operatorBase, 'PUT', '/api/apps/shop/segments/beta', undefined, { segment: { constraints: [] } });
    expect(segment.body.error).toBe('role operator may not flag.write in every environment');
    const approve = await call(operatorBase, 'POST', `/api/rollouts/${live}/approvals`, undefined, { approver: 'bob', reason: 'ok' });
    expect(approve.body.error).toBe('role operator may not approve in live');
    // allowed through the check: the route itself answers (202: the pause is queued for the controller)
    const pause = await call(operatorBase, 'POST', '/api/environments/live/pause', undefined, { reason: 'look first' });
    expect(pause.status).toBe(202);
    // flags stayed as they were
    expect((await db.query(`select definition->>'enabled' as enabled from promote.flags where name = 'checkout'`)).rows[0]).toEqual({ enabled: 'false' });
  });

  it('GET /api/me says the role and what it may do per environment, in promotion order', async () => {
    expect(await call(operatorBase, 'GET', '/api/me')).toEqual({
      status: 200,
      body: { actor: 'api', via: 'none', role: 'operator', serverRole: 'operator', roles: ['viewer', 'operator'], grants: ['operator'], can: { staging: ['deploy', 'pause', 'resume', 'abort', 'retry', 'promote', 'rollback', 'flag.write'], live: ['pause', 'abort'] } },
    });
    const viewer = await call(base, 'GET', '/api/me', 'viewer');
    expect(viewer.body).toMatchObject({ role: 'viewer', serverRole: 'admin', roles: ['viewer', 'operator', 'approver', 'admin'], can: { staging: [], live: [] } });
    expect(await call(base, 'GET', '/api/me', 'root')).toEqual({ status: 400, body: { error: 'x-promote-role: unknown role "root"; roles are viewer, operator, approver, admin' } });
  });

  it('reads stay open to a viewer, and every state-changing API route is classified', async () => {
    expect((await call(base, 'GET', `/api/rollouts/${live}`, 'viewer')).status).toBe(200);
    expect((await call(base, 'GET', '/api/apps/shop/environments/live/flags', 'viewer')).status).toBe(200);
    expect(unclassifiedRoutes(api)).toEqual([]);
  });
});
