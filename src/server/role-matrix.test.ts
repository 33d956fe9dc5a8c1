import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStorePool } from '../../test/helpers/database.js';
import { specFromYaml } from '../../test/helpers/spec.js';
import { parseBinding } from '../auth/bindings.js';
import { createToken } from '../auth/tokens.js';
import { startRollout } from '../engine/start.js';
import { putFlag } from '../flags/store.js';
import { createRelease, upsertApp } from '../store/index.js';
import { buildServer } from './app.js';

/**
 * Every route of the OpenAPI document, called by every kind of caller, with a body that passes its
 * schema so the access check (not validation) decides. The expectations are written out here, not
 * derived from src/server/access.ts: the table below is the policy as the docs state it.
 */
const specText = `version: 1
app: { name: shop }
environments:
  - name: staging
    database: postgres://localhost/shop
    target: { type: process, command: node server.js }
    strategy: gated
  - name: live
    database: postgres://localhost/shop
    target: { type: process, command: node server.js }
    strategy: gated
strategies:
  gated:
    type: canary
    steps:
      - approval: {}
      - setWeight: 50
      - promote: {}
`;

const CALLERS = {
  anonymous: undefined,
  viewer: ['viewer'],
  operator: ['operator'],
  approver: ['approver'],
  /** admin of another app only */
  outsider: ['admin:billing'],
  /** operator in staging, nothing in live */
  stagingOperator: ['operator:shop/staging'],
  // last: its DELETE /api/tokens/{id} revokes the spare token the others try first
  admin: ['admin'],
} as const;
type CallerName = keyof typeof CALLERS;
type Environment = 'staging' | 'live';

const EVERYONE_IN_SHOP: CallerName[] = ['viewer', 'operator', 'approver', 'admin', 'stagingOperator'];
/** A read naming an environment needs a role there. */
const READERS = (environment: Environment): CallerName[] => EVERYONE_IN_SHOP.filter((caller) => environment === 'staging' || caller !== 'stagingOperator');
const OPERATOR_UP = (environment: Environment): CallerName[] => ['operator', 'approver', 'admin', ...(environment === 'staging' ? (['stagingOperator'] as const) : [])];
const ADMIN_IN_PRODUCTION = (environment: Environment): CallerName[] => (environment === 'live' ? ['admin'] : OPERATOR_UP(environment));

/** The written policy: who may call each state-changing route, per environment. */
const WRITES: Record<string, (environment: Environment) => CallerName[]> = {
  'POST /api/deploy': ADMIN_IN_PRODUCTION,
  'POST /api/environments/{environment}/pause': OPERATOR_UP,
  'POST /api/environments/{environment}/abort': OPERATOR_UP,
  'POST /api/environments/{environment}/resume': ADMIN_IN_PRODUCTION,
  'POST /api/environments/{environment}/retry': ADMIN_IN_PRODUCTION,
  'POST /api/environments/{environment}/promote': ADMIN_IN_PRODUCTION,
  'POST /api/environments/{environment}/rollback': ADMIN_IN_PRODUCTION,
  'POST /api/rollouts/{id}/approvals': () => ['approver', 'admin'],
  'PUT /api/apps/{app}/environments/{environment}/flags/{name}': ADMIN_IN_PRODUCTION,
  'DELETE /api/apps/{app}/environments/{environment}/flags/{name}': ADMIN_IN_PRODUCTION,
  'POST /api/apps/{app}/environments/{environment}/flags/{name}/enable': ADMIN_IN_PRODUCTION,
  'POST /api/apps/{app}/environments/{environment}/flags/{name}/disable': ADMIN_IN_PRODUCTION,
  'POST /api/apps/{app}/environments/{environment}/flags/{name}/rollout': ADMIN_IN_PRODUCTION,
  'POST /api/apps/{app}/environments/{environment}/flags/{name}/variants': ADMIN_IN_PRODUCTION,
  'POST /api/apps/{app}/environments/{environment}/flags/{name}/schedules': ADMIN_IN_PRODUCTION,
  'DELETE /api/apps/{app}/environments/{environment}/schedules/{id}': ADMIN_IN_PRODUCTION,
  // segments reach every environment, production included
  'PUT /api/apps/{app}/segments/{name}': () => ['admin'],
  'DELETE /api/apps/{app}/segments/{name}': () => ['admin'],
  'GET /api/tokens': () => ['admin', 'outsider'],
  'POST /api/tokens': () => ['admin'],
  'DELETE /api/tokens/{id}': () => ['admin'],
  // the apps' own reports: any role in the app
  'POST /api/metrics': () => EVERYONE_IN_SHOP,
  'POST /feedback': () => EVERYONE_IN_SHOP,
};

/** Routes anyone may call, token or not (the flag SDKs carry their own client tokens). */
const PUBLIC = (method: string, path: string): boolean =>
  path === '/healthz' || path === '/api/session' || path.startsWith('/api/client/') || path.startsWith('/api/frontend') || path === '/api/flags/stream' || path.startsWith('/ofrep/');
/** Routes any identified caller may call, whatever its roles. */
const UNSCOPED = new Set(['GET /api/me']);

type Schema = { type?: string | string[]; properties?: Record<string, Schema>; required?: string[]; enum?: unknown[]; items?: Schema; minItems?: number; minimum?: number; minLength?: number; format?: string; default?: unknown };

/** A small value that passes the schema. */
function exampleOf(schema: Schema | undefined, key = ''): unknown {
  if (!schema) return undefined;
  if (schema.enum) return schema.enum[0];
  const type = Array.isArray(schema.type) ? schema.type.find((each) => each !== 'null') : schema.type;
  switch (type) {
    case 'object':
      return Object.fromEntries((schema.required ?? []).map((name) => [name, exampleOf(schema.properties?.[name], name)]));
    case 'array':
      return Array.from({ length: schema.minItems ?? 0 }, () => exampleOf(schema.items, key));
    case 'integer':
    case 'number':
      return Math.max(schema.minimum ?? 1, 1);
    case 'boolean':
      return false;
    case 'string':
      if (schema.format === 'date-time') return new Date(Date.now() + 3_600_000).toISOString();
      return key === 'roles' ? 'viewer:shop/staging' : 'x'.padEnd(schema.minLength ?? 1, 'x');
    default:
      return {};
  }
}

describe('the role matrix: every route by every caller', () => {
  let db: pg.Pool;
  let api: FastifyInstance;
  const secrets: Partial<Record<CallerName, string>> = {};
  const rollouts: Record<Environment, number> = { staging: 0, live: 0 };
  let spare: number;

  beforeAll(async () => {
    ({ pool: db } = await createStorePool());
    const spec = specFromYaml(specText);
    await upsertApp(db, { name: 'shop' });
    await createRelease(db, { app: 'shop', version: '1.0.0', digest: `sha256:${'a'.repeat(64)}`, migrationChecksums: {} });
    for (const environment of ['staging', 'live'] as const) {
      rollouts[environment] = (await startRollout(db, { spec, environment, version: '1.0.0', actor: 'alice', skipEnvironmentGate: 'role matrix' })).id;
      await putFlag(db, { app: 'shop', environment }, { name: 'checkout', enabled: false }, { actor: 'alice' });
    }
    for (const [name, roles] of Object.entries(CALLERS)) {
      if (roles) secrets[name as CallerName] = (await createToken(db, { name, bindings: roles.map((role) => parseBinding(role)), actor: 'test' })).secret;
    }
    spare = (await createToken(db, { name: 'spare', bindings: [parseBinding('viewer')], actor: 'test' })).token.id;
    api = await buildServer({ pool: db, spec, auth: 'tokens', web: false });
  });
  afterAll(async () => {
    await api?.close();
  });

  it('answers each call as the policy says: 401 without a token, 403 without the role, and never refuses an allowed caller', async () => {
    const document = (await api.inject({ method: 'GET', url: '/openapi.json' })).json<{ paths: Record<string, Record<string, { requestBody?: { content?: Record<string, { schema?: Schema }> } }>> }>();
    const routes = Object.entries(document.paths).flatMap(([path, methods]) => Object.entries(methods).map(([method, operation]) => ({ method: method.toUpperCase(), path, operation })));
    expect(routes.length).toBeGreaterThan(50);
    const unclassifiedWrites = routes.filter(({ method, path }) => method !== 'GET' && !PUBLIC(method, path) && !WRITES[`${method} ${path}`]);
    expect(unclassifiedWrites.map(({ method, path }) => `${method} ${path}`)).toEqual([]);

    const mismatches: string[] = [];
    let calls = 0;
    for (const { method, path, operation } of routes) {
      if (path === '/api/stream') continue; // an event stream never ends; its 401/403 is checked in auth.test.ts
      const environments: Environment[] = path.includes('{environment}') || path === '/api/deploy' || path.includes('/approvals') ? ['staging', 'live'] : ['staging'];
      for (const environment of environments) {
        const url = path
          .replace('{environment}', environment)
          .replace('{app}', 'shop')
          .replace('{name}', path.includes('/segments/') ? 'beta' : 'checkout')
          .replace('{key}', 'checkout')
          .replace('{id}', path.startsWith('/api/rollouts/') ? String(rollouts[environment]) : path.startsWith('/api/tokens/') ? String(spare) : '1');
        const body = exampleOf(operation.requestBody?.content?.['application/json']?.schema) as Record<string, unknown> | undefined;
        if (body && path === '/api/deploy') Object.assign(body, { version: '1.0.0', environment });
        if (body && path === '/api/session') body.token = 'not-a-token';
        for (const caller of Object.keys(CALLERS) as CallerName[]) {
          const secret = secrets[caller];
          const response = await api.inject({
            method: method as 'GET',
            url,
            headers: { ...(secret ? { authorization: `Bearer ${secret}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
            ...(body !== undefined ? { payload: JSON.stringify(body) } : {}),
          });
          calls += 1;
          const answer = (() => {
            try {
              return response.json<{ error?: string; auth?: string }>();
            } catch {
              return {};
            }
          })();
          const unauthenticated = response.statusCode === 401 && answer.auth === 'token';
          const forbidden = response.statusCode === 403 && /may not|has no role/.test(answer.error ?? '');
          const key = `${method} ${path}`;
          let expected: 'allowed' | '401' | '403';
          // signing in with a wrong token is refused whoever you are; nothing else public ever is
          if (key === 'POST /api/session') expected = '401';
          else if (PUBLIC(method, path)) expected = 'allowed';
          else if (caller === 'anonymous') expected = '401';
          else if (UNSCOPED.has(key)) expected = caller === 'outsider' ? '403' : 'allowed';
          else if (WRITES[key]) expected = WRITES[key](environment).includes(caller) ? 'allowed' : '403';
          else expected = (path.includes('{environment}') ? READERS(environment) : EVERYONE_IN_SHOP).includes(caller) ? 'allowed' : '403';
          const got = unauthenticated ? '401' : forbidden ? '403' : 'allowed';
          if (got !== expected || response.statusCode >= 500) mismatches.push(`${caller} ${method} ${url}: expected ${expected}, got ${response.statusCode} ${answer.error ?? ''}`);
        }
      }
    }
    expect(mismatches).toEqual([]);
    expect(calls).toBeGreaterThan(400);
  });
});
