/**
 * Issue 11: every API call that asks to change state is an `api.call` event in the audit trail.
 * Drives every POST/PUT/PATCH/DELETE under /api that the OpenAPI document lists (a new route is covered
 * without touching this file) once, through the real server (buildServer, app.inject) on a real store,
 * each as its own named caller, and checks: exactly one api.call event per call with that actor, the
 * route, the status it answered (2xx, 4xx, refusals alike); none for the apps' reporting routes; the
 * chain verifies; and no event holds the database password or the Authorization value sent.
 */
import Fastify from 'fastify';
import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStorePool } from '../helpers/database.js';
import { createToken } from '../../src/auth/tokens.js';
import { startRollout } from '../../src/engine/start.js';
import { registerCallAudit } from '../../src/server/audit-calls.js';
import { buildServer } from '../../src/server/app.js';
import type { PromoteSpec } from '../../src/spec/index.js';
import { specFromYaml } from '../helpers/spec.js';
import { createRelease, listEvents, updateRolloutState, upsertApp, verifyEventChain, type PromoteEvent } from '../../src/store/index.js';

// production's database URL carries this password; a bearer value is sent with every call: neither may reach the trail
const secret = 'auditS3cretPassw0rd';
const bearer = 'Bearer tok_auditBearerValue0123456789';

type Schema = { type?: string | string[]; properties?: Record<string, Schema>; enum?: unknown[]; items?: Schema; minimum?: number; const?: unknown; anyOf?: Schema[]; oneOf?: Schema[] };
interface WriteRoute {
  method: string;
  path: string;
  body: unknown;
}

/** Field values the fixture makes real, so calls get into the routes' logic, not only their validation. */
const known: Record<string, unknown> = { version: '1.0.0', environment: 'staging', app: 'shop', name: 'checkout', reason: 'audit coverage', decision: 'approve', approver: 'carol' };

/** A plausible value for a JSON schema (the body a route documents). */
function sample(schema: Schema | undefined, depth = 0, name = ''): unknown {
  if (!schema || depth > 6) return null;
  if (name in known && (schema.type === 'string' || schema.type === undefined) && !schema.enum) return known[name];
  if (schema.const !== undefined) return schema.const;
  if (schema.enum) return schema.enum[0];
  const variant = schema.anyOf?.[0] ?? schema.oneOf?.[0];
  if (variant) return sample(variant, depth + 1);
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  if (type === 'object' || schema.properties) return Object.fromEntries(Object.entries(schema.properties ?? {}).map(([key, value]) => [key, sample(value, depth + 1, key)]));
  if (type === 'array') return [sample(schema.items, depth + 1)];
  if (type === 'integer' || type === 'number') return schema.minimum ?? 1;
  if (type === 'boolean') return true;
  if (type === 'string') return 'staging';
  return null;
}

/** Bodies that succeed on the fixture, for routes whose documented schema is too loose to sample one from. */
const bodies: Record<string, unknown> = {
  'PUT /api/apps/{app}/environments/{environment}/flags/{name}': { flag: { name: 'checkout', enabled: true }, reason: 'audit coverage' },
  'PUT /api/apps/{app}/segments/{name}': { segment: { name: 'checkout', constraints: [{ contextName: 'userId', operator: 'IN', values: ['u1'] }] }, reason: 'audit coverage' },
  'POST /api/apps/{app}/environments/{environment}/flags/{name}/variants': { weights: { a: 500, b: 500 }, reason: 'audit coverage' },
  'POST /api/apps/{app}/environments/{environment}/flags/{name}/schedules': { applyAt: '2099-01-01T00:00:00.000Z', change: { action: 'enable' }, reason: 'audit coverage' },
};

const real: Record<string, string> = { id: '1', environment: 'staging', env: 'staging', app: 'shop', name: 'checkout', key: 'checkout' };

/** Staging and production, whose database URLs carry the password no event may hold. */
const specText = `version: 1
app: { name: shop }
environments:
  - name: staging
    database: postgres://audit:${secret}@127.0.0.1:1/shop
    target: { type: process, command: node server.js }
    strategy: canary
  - name: production
    database: postgres://audit:${secret}@127.0.0.1:1/shop
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

const specOf = (): PromoteSpec => specFromYaml(specText);

describe('API calls in the audit trail', () => {
  let pool: pg.Pool;
  let app: FastifyInstance;
  let writes: WriteRoute[];

  beforeAll(async () => {
    ({ pool } = await createStorePool({ max: 4 }));
    await upsertApp(pool, { name: 'shop' });
    await createRelease(pool, { app: 'shop', version: '1.0.0', digest: `sha256:${'a'.repeat(64)}`, migrationChecksums: {} });
    await startRollout(pool, { spec: specOf(), environment: 'staging', version: '1.0.0', actor: 'fixture' });
    app = await buildServer({ pool, spec: specOf(), web: false });
    const document = app.swagger() as { paths: Record<string, Record<string, { requestBody?: { content?: Record<string, { schema?: Schema }> } }>> };
    writes = Object.entries(document.paths).flatMap(([path, operations]) =>
      Object.entries(operations)
        .filter(([method]) => ['post', 'put', 'patch', 'delete'].includes(method) && path.startsWith('/api/'))
        .map(([method, operation]) => ({ method: method.toUpperCase(), path, body: operation.requestBody ? sample(operation.requestBody.content?.['application/json']?.schema) : undefined })),
    );
    // puts (they create) first and deletes last, so the others find what they change
    const order = (route: WriteRoute) => ['PUT', 'POST', 'PATCH', 'DELETE'].indexOf(route.method);
    writes.sort((a, b) => order(a) - order(b));
    for (const route of writes) route.body = bodies[`${route.method} ${route.path}`] ?? route.body;
  });
  afterAll(async () => app?.close());

  const callEvents = async (): Promise<PromoteEvent[]> => (await listEvents(pool, { limit: 10_000 })).filter((event) => event.type === 'api.call');

  it('every state-changing /api route answered is one api.call event with its caller, route and status', { timeout: 60_000 }, async () => {
    const recorded = writes.filter((route) => !/^\/api\/(metrics$|client\/)/.test(route.path));
    expect(recorded.length).toBeGreaterThan(15);
    expect(recorded.map((route) => `${route.method} ${route.path}`)).toEqual(expect.arrayContaining(['POST /api/deploy', 'POST /api/session', 'DELETE /api/session', 'POST /api/tokens']));
    const statuses: string[] = [];
    for (const [index, route] of recorded.entries()) {
      const actor = `auditor-${index}`;
      const url = route.path.replace(/\{(\w+)\}/g, (_, name: string) => real[name] ?? 'x');
      const response = await app.inject({
        method: route.method as 'POST',
        url,
        headers: { 'x-promote-actor': actor, authorization: bearer, ...(route.body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(route.body === undefined ? {} : { payload: JSON.stringify(route.body) }),
      });
      statuses.push(`${route.method} ${route.path} ${response.statusCode}`);
      const pattern = route.path.replace(/\{(\w+)\}/g, ':$1');
      const mine = (await callEvents()).filter((event) => event.actor === actor);
      expect(mine, `${route.method} ${url} answered ${response.statusCode}: ${response.body.slice(0, 200)}`).toHaveLength(1);
      const event = mine[0]!;
      expect(event.data).toMatchObject({ method: route.method, route: pattern, status: response.statusCode, via: 'none', remoteAddress: '127.0.0.1' });
      expect(event.app).toBe('shop');
      const params = event.data.params as Record<string, string>;
      for (const name of [...route.path.matchAll(/\{(\w+)\}/g)].map((match) => match[1]!)) expect(params[name]).toBe(real[name] ?? 'x');
      if (typeof (route.body as { reason?: unknown } | undefined)?.reason === 'string') expect(event.data.reason).toBe('audit coverage');
    }
    // the calls reached the routes' logic, not only their doors: the flag, segment and rollout changes succeed
    const succeeded = statuses.filter((line) => / 2\d\d$/.test(line)).map((line) => line.replace(/ \d+$/, ''));
    expect(succeeded, statuses.join('\n')).toEqual(expect.arrayContaining([
      'PUT /api/apps/{app}/environments/{environment}/flags/{name}',
      'POST /api/apps/{app}/environments/{environment}/flags/{name}/variants',
      'POST /api/apps/{app}/environments/{environment}/flags/{name}/schedules',
      'DELETE /api/apps/{app}/environments/{environment}/schedules/{id}',
      'PUT /api/apps/{app}/segments/{name}',
      'POST /api/environments/{environment}/pause',
    ]));
  });

  it('refusals and invalid bodies are recorded with their status; the apps\' reports are not', async () => {
    // a viewer's abort: refused by the access check once roles apply (authentication, issue 11); recorded as answered either way
    const refused = await app.inject({ method: 'POST', url: '/api/environments/staging/abort', headers: { 'x-promote-actor': 'mallory', 'x-promote-role': 'viewer' }, payload: { reason: 'let me' } });
    const invalid = await app.inject({ method: 'POST', url: '/api/deploy', headers: { 'x-promote-actor': 'clumsy', 'content-type': 'application/json' }, payload: '{"version":' });
    expect(invalid.statusCode).toBe(400);
    const events = await callEvents();
    expect(events.filter((event) => event.actor === 'mallory').map((event) => event.data)).toEqual([
      { method: 'POST', route: '/api/environments/:environment/abort', params: { environment: 'staging' }, status: refused.statusCode, via: 'none', remoteAddress: '127.0.0.1', reason: 'let me' },
    ]);
    expect(events.filter((event) => event.actor === 'clumsy').map((event) => event.data.status)).toEqual([400]);
    expect(events.find((event) => event.actor === 'clumsy')?.data).not.toHaveProperty('reason');

    const before = (await callEvents()).length;
    const reported = await app.inject({ method: 'POST', url: '/api/metrics', headers: { 'x-promote-actor': 'app' }, payload: { environment: 'staging', version: '1.0.0', metrics: { latency: 1 } } });
    const registered = await app.inject({ method: 'POST', url: '/api/client/register', headers: { authorization: 'shop:staging.x' }, payload: { appName: 'a', instanceId: 'i', sdkVersion: 's', strategies: [], started: new Date().toISOString(), interval: 1000 } });
    const unknown = await app.inject({ method: 'POST', url: '/api/no/such/route', payload: {} });
    expect([reported.statusCode, registered.statusCode, unknown.statusCode]).not.toContain(500);
    expect(unknown.statusCode).toBe(404);
    expect((await callEvents()).length).toBe(before);
  });

  it("a rollback through the API is recorded as its caller's (the rollout, its reason and the call), not as 'api'", async () => {
    // 1.0.0 served production once (Healthy there), so a rollback may return to it
    const served = await startRollout(pool, { spec: specOf(), environment: 'production', version: '1.0.0', actor: 'fixture', skipEnvironmentGate: 'audit test' });
    await updateRolloutState(pool, served.id, { phase: 'Healthy' });
    const response = await app.inject({ method: 'POST', url: '/api/environments/production/rollback', headers: { 'x-promote-actor': 'rolling-back' }, payload: { to: '1.0.0', reason: 'back to known good' } });
    expect(response.statusCode, response.body).toBe(201);
    const rolloutId = response.json<{ id: number }>().id;
    const events = await listEvents(pool, { rolloutId });
    expect(events.filter((event) => ['rollout.created', 'rollback.requested'].includes(event.type)).map((event) => [event.type, event.actor])).toEqual([
      ['rollout.created', 'rolling-back'],
      ['rollback.requested', 'rolling-back'],
    ]);
    expect((await callEvents()).filter((event) => event.actor === 'rolling-back').map((event) => [event.data.route, event.data.status, event.data.reason])).toEqual([['/api/environments/:environment/rollback', 201, 'back to known good']]);
  });

  it('the chain verifies and no event holds the password or the Authorization value', async () => {
    expect(await verifyEventChain(pool)).toMatchObject({ ok: true });
    const all = JSON.stringify(await listEvents(pool, { limit: 10_000 }));
    expect(all).not.toContain(secret);
    expect(all).not.toContain('tok_auditBearerValue');
    // a path parameter carrying a URL with a password is masked too
    await app.inject({ method: 'POST', url: `/api/environments/${encodeURIComponent(`postgres://u:${secret}@h/db`)}/pause`, headers: { 'x-promote-actor': 'masked' }, payload: { reason: 'x' } });
    const masked = (await callEvents()).filter((event) => event.actor === 'masked');
    expect(masked).toHaveLength(1);
    expect(JSON.stringify(masked)).not.toContain(secret);
    expect((masked[0]!.data.params as Record<string, string>).environment).toBe('postgres://u:***@h/db');
  });

  it('with authentication: the actor is the token, a refused or forged credential is recorded without its value, a sign-in without its token', async () => {
    const { secret } = await createToken(pool, { name: 'alice', bindings: [{ role: 'admin', app: '*', environment: '*' }], actor: 'setup' });
    const authed = await buildServer({ pool, spec: specOf(), auth: 'tokens', web: false });
    try {
      const anonymous = await authed.inject({ method: 'POST', url: '/api/environments/staging/pause', headers: { 'x-promote-actor': 'nobody' }, payload: { reason: 'no credentials' } });
      expect(anonymous.statusCode).toBe(401);
      const forged = await authed.inject({ method: 'POST', url: '/api/environments/staging/pause', headers: { authorization: 'Bearer pmt_forgedForgedForgedForgedForgedForgedForged12', 'x-promote-actor': 'forger' }, payload: { reason: 'forged' } });
      expect(forged.statusCode).toBe(401);
      const real = await authed.inject({ method: 'POST', url: '/api/environments/staging/pause', headers: { authorization: `Bearer ${secret}`, 'x-promote-actor': 'someone-else' }, payload: { reason: 'as alice' } });
      const signIn = await authed.inject({ method: 'POST', url: '/api/session', payload: { token: secret } });
      expect(signIn.statusCode).toBe(200);
      const events = (await callEvents()).slice(-3);
      expect(events.map((event) => [event.actor, event.data.route, event.data.status, event.data.via])).toEqual([
        // a wrong credential is recorded, the name it gave only as a claim; no credential at all is noise anyone can send, not recorded
        ['unauthenticated', '/api/environments/:environment/pause', 401, 'none'],
        // the header cannot rename an authenticated caller
        ['alice', '/api/environments/:environment/pause', real.statusCode, 'token'],
        // a sign-in is recorded as the token's holder, its token nowhere
        ['alice', '/api/session', 200, expect.any(String) as string],
      ]);
      expect(events.slice(0, 1).map((event) => event.data.claimedActor)).toEqual(['forger']);
      expect(events[1]!.data.tokenId).toEqual(expect.any(Number));
      expect(events[1]!.data).not.toHaveProperty('claimedActor');
      expect((await callEvents()).some((event) => event.data.claimedActor === 'nobody')).toBe(false);
      const all = JSON.stringify(await listEvents(pool, { limit: 10_000 }));
      expect(all).not.toContain(secret);
      expect(all).not.toContain('pmt_forged');
    } finally {
      await authed.close();
    }
  });

  it('a call refused by a hook before its route (as authentication refuses with 401) is recorded with that status, the body unread', async () => {
    const server = Fastify();
    registerCallAudit(server, { pool, app: 'shop' });
    server.addHook('onRequest', async (request, reply) => {
      if (request.headers.authorization !== 'Bearer good') return reply.status(401).send({ error: 'sign in', auth: 'token' });
    });
    server.post('/api/session', () => ({ actor: 'alice' }));
    try {
      const response = await server.inject({ method: 'POST', url: '/api/session', headers: { authorization: bearer, 'x-promote-actor': 'intruder' }, payload: { token: 'tok_auditSignInSecret', reason: 'hello' } });
      expect(response.statusCode).toBe(401);
      const recorded = (await callEvents()).filter((event) => event.data.claimedActor === 'intruder');
      // refused in onRequest: the body was never parsed, so not even its reason is there
      expect(recorded.map((event) => [event.actor, event.data])).toEqual([
        ['unauthenticated', { method: 'POST', route: '/api/session', params: {}, status: 401, via: 'none', remoteAddress: '127.0.0.1', claimedActor: 'intruder' }],
      ]);
      const signedIn = await server.inject({ method: 'POST', url: '/api/session', headers: { authorization: 'Bearer good', 'x-promote-actor': 'hook-passed' }, payload: { token: 'tok_auditSignInSecret' } });
      expect(signedIn.statusCode).toBe(200);
      expect((await callEvents()).filter((event) => event.actor === 'hook-passed').map((event) => event.data.status)).toEqual([200]);
      expect(JSON.stringify(await listEvents(pool, { limit: 10_000 }))).not.toContain('tok_auditSignInSecret');
    } finally {
      await server.close();
    }
  });

  it('a call whose event cannot be appended is still answered, and the loss is logged with the event', async () => {
    // a store that refuses connections: the append fails for real
    const down = new pg.Pool({ connectionString: 'postgres://audit:pw@127.0.0.1:1/none', connectionTimeoutMillis: 2000 });
    const logged: { fields: Record<string, unknown>; message: string }[] = [];
    const server = Fastify();
    registerCallAudit(server, { pool: down, app: 'shop', log: { error: (fields: Record<string, unknown>, message: string) => logged.push({ fields, message }) } as never });
    server.post('/api/things/:name', () => ({ done: true }));
    try {
      const response = await server.inject({ method: 'POST', url: '/api/things/one', headers: { 'x-promote-actor': 'dora' }, payload: { reason: 'try' } });
      expect(response.statusCode).toBe(200);
      expect(response.json()).toEqual({ done: true });
      expect(logged).toHaveLength(1);
      expect(logged[0]!.message).toContain('recording API call POST /api/things/:name (status 200) in the audit trail failed');
      expect(logged[0]!.fields.lost).toMatchObject({ type: 'api.call', actor: 'dora', data: { route: '/api/things/:name', status: 200, reason: 'try' } });
      expect(String((logged[0]!.fields.err as Error).message)).toMatch(/recording event api.call|connect|ECONNREFUSED/);
    } finally {
      await server.close();
      await down.end();
    }
  });
});
