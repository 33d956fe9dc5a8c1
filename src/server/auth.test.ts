import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStorePool } from '../../test/helpers/database.js';
import { specFromYaml } from '../../test/helpers/spec.js';
import { parseBinding } from '../auth/bindings.js';
import { createToken } from '../auth/tokens.js';
import { createReporter } from '../sdk/report.js';
import { createRelease, getRollout, upsertApp, verifyEventChain } from '../store/index.js';
import { buildServer } from './app.js';
import { FailureLimiter } from './auth-failures.js';

const specText = `version: 1
app: { name: shop }
environments:
  - name: staging
    database: postgres://app:db-password-1@localhost/shop
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
      - promote: {}
`;

const specOf = specFromYaml;

type Answer = { status: number; body: Record<string, unknown>; headers: Record<string, unknown> };

describe('authentication with API tokens', () => {
  let db: pg.Pool;
  let api: FastifyInstance;
  const secrets: Record<string, string> = {};
  const limiter = new FailureLimiter({ maxFailures: 5, windowMs: 60_000 });

  const call = async (method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, options: { token?: string; headers?: Record<string, string>; body?: unknown; ip?: string } = {}): Promise<Answer> => {
    const response = await api.inject({
      method,
      url,
      remoteAddress: options.ip ?? '127.0.0.1',
      headers: { ...(options.token ? { authorization: `Bearer ${options.token}` } : {}), ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}), ...options.headers },
      ...(options.body !== undefined ? { payload: JSON.stringify(options.body) } : {}),
    });
    let body: Record<string, unknown> = {};
    try {
      body = response.body ? (JSON.parse(response.body) as Record<string, unknown>) : {};
    } catch {
      body = { text: response.body };
    }
    return { status: response.statusCode, body, headers: response.headers };
  };

  beforeAll(async () => {
    ({ pool: db } = await createStorePool());
    await upsertApp(db, { name: 'shop' });
    await createRelease(db, { app: 'shop', version: '1.0.0', digest: `sha256:${'a'.repeat(64)}`, migrationChecksums: {} });
    for (const [name, roles] of [
      ['root', ['admin']],
      ['vera', ['viewer']],
      ['otto', ['operator:shop/staging', 'viewer:shop/live']],
      ['stage-admin', ['admin:shop/staging']],
      ['elsewhere', ['admin:billing']],
    ] as const) {
      secrets[name] = (await createToken(db, { name, bindings: roles.map((role) => parseBinding(role)), actor: 'test' })).secret;
    }
    api = await buildServer({ pool: db, spec: specOf(specText), auth: 'tokens', web: false, authFailures: limiter });
  });
  afterAll(async () => {
    await api?.close();
  });

  it('answers 401 with the way in to every non-public route without a token, and lets health and the API description through', async () => {
    for (const url of ['/api/rollouts', '/api/me', '/metrics', '/api/stream', '/api/apps/shop/environments/live/flags', '/api/report']) {
      const answer = await call('GET', url);
      expect(answer.status, url).toBe(401);
      expect(answer.body).toMatchObject({ error: 'this server requires an API token', auth: 'token' });
      expect(answer.headers['www-authenticate']).toBe('Bearer realm="promote"');
    }
    const deploy = await call('POST', '/api/deploy', { body: { version: '1.0.0', environment: 'staging' } });
    expect(deploy.status).toBe(401);
    expect((await call('GET', '/healthz')).status).toBe(200);
    expect((await call('GET', '/openapi.json')).status).toBe(200);
    expect((await call('GET', '/api/rollouts', { headers: { authorization: 'Basic cm9vdDpyb290' } })).body.error).toBe('Authorization must be "Bearer <token>"');
  });

  it('names the actor after the token, whatever the headers say, and scopes roles by environment', async () => {
    const me = await call('GET', '/api/me', { token: secrets.otto, headers: { 'x-promote-actor': 'root' } });
    expect(me.body).toMatchObject({ actor: 'otto', via: 'token', role: 'operator', grants: ['operator:shop/staging', 'viewer:shop/live'], can: { staging: ['deploy', 'pause', 'resume', 'abort', 'retry', 'promote', 'rollback', 'flag.write'], live: [] } });
    const started = await call('POST', '/api/deploy', { token: secrets.otto, headers: { 'x-promote-actor': 'root' }, body: { version: '1.0.0', environment: 'staging' } });
    expect(started.status).toBe(201);
    expect((await getRollout(db, started.body.id as number))?.createdBy).toBe('otto');
    // the environments the first deploy recorded are in the trail as the deployer's doing
    expect((await db.query<{ actor: string }>(`select actor from promote.events where type = 'environments.changed'`)).rows).toEqual([{ actor: 'otto' }]);
    const live = await call('POST', '/api/deploy', { token: secrets.otto, body: { version: '1.0.0', environment: 'live' } });
    expect(live).toMatchObject({ status: 403, body: { error: 'role viewer may not deploy in live' } });
    // the header lowers, never raises
    expect((await call('POST', '/api/environments/staging/pause', { token: secrets.otto, headers: { 'x-promote-role': 'admin' }, body: {} })).status).toBe(202);
    expect((await call('POST', '/api/environments/staging/resume', { token: secrets.otto, headers: { 'x-promote-role': 'viewer' }, body: {} })).status).toBe(403);
    // a token with no role in this app sees nothing of it
    const outsider = await call('GET', '/api/rollouts', { token: secrets.elsewhere });
    expect(outsider).toMatchObject({ status: 403, body: { error: 'elsewhere has no role in shop' } });
    expect((await call('GET', '/api/me', { token: secrets.elsewhere })).status).toBe(403);
  });

  it('refuses unknown, revoked and expired tokens with the reason, and never echoes the secret', async () => {
    const forged = `pmt_${'x'.repeat(43)}`;
    const unknown = await call('GET', '/api/rollouts', { token: forged, ip: '10.0.0.9' });
    expect(unknown).toMatchObject({ status: 401, body: { error: 'unknown API token' } });
    expect(JSON.stringify(unknown.body)).not.toContain(forged);
    const short = await call('GET', '/api/rollouts', { token: 'hunter2', ip: '10.0.0.9' });
    expect(short.body.error).toMatch(/^not a Promote API token/);
    const { secret, token } = await createToken(db, { name: 'temp', bindings: [parseBinding('viewer')], actor: 'test', expiresAt: new Date(Date.now() + 3_600_000) });
    expect((await call('GET', '/api/rollouts', { token: secret })).status).toBe(200);
    await db.query(`update promote.tokens set created_at = now() - interval '2 hours', expires_at = now() - interval '1 hour' where id = $1`, [token.id]);
    const expired = await call('GET', '/api/rollouts', { token: secret, ip: '10.0.0.9' });
    expect(expired.status).toBe(401);
    expect(expired.body.error).toMatch(/^API token temp \(pmt_.{6}…\) expired at /);
    expect(JSON.stringify(expired.body)).not.toContain(secret);
  });

  it('lets an admin create and revoke tokens within its own scope only; a revoked token stops at once', async () => {
    const created = await call('POST', '/api/tokens', { token: secrets['stage-admin'], body: { name: 'ci', roles: ['operator:shop/staging'], expiresIn: '30d' } });
    expect(created.status).toBe(201);
    expect(created.headers['cache-control']).toBe('no-store');
    const secret = created.body.secret as string;
    expect(secret).toMatch(/^pmt_[A-Za-z0-9_-]{43}$/);
    expect((await call('GET', '/api/me', { token: secret })).body).toMatchObject({ actor: 'ci', role: 'operator' });
    const wider = await call('POST', '/api/tokens', { token: secrets['stage-admin'], body: { name: 'sneaky', roles: ['admin'] } });
    expect(wider).toMatchObject({ status: 403, body: { error: 'stage-admin may not hand out admin: only an admin of that scope may' } });
    expect((await call('POST', '/api/tokens', { token: secrets.otto, body: { name: 'x', roles: ['viewer:shop/staging'] } })).status).toBe(403);
    const badRole = await call('POST', '/api/tokens', { token: secrets.root, body: { name: 'x', roles: ['owner'] } });
    expect(badRole.status).toBe(400);
    expect(badRole.body.error).toMatch(/^roles\[0\] "owner": unknown role/);
    // the scoped admin sees only what it could revoke
    const listed = (await call('GET', '/api/tokens', { token: secrets['stage-admin'] })).body as unknown as Array<{ name: string }>;
    expect(listed.map((each) => each.name)).toEqual(['stage-admin', 'ci']);
    expect((await call('DELETE', `/api/tokens/${(created.body.token as { id: number }).id}`, { token: secrets['stage-admin'], body: { reason: 'rotated' } })).status).toBe(200);
    expect((await call('GET', '/api/me', { token: secret })).body.error).toMatch(/^API token ci \(pmt_.{6}…\) was revoked at /);
    const events = (await db.query<{ type: string; actor: string; data: unknown }>(`select type, actor, data from promote.events where type like 'token.%' order by seq`)).rows;
    expect(events.filter((event) => event.actor === 'stage-admin').map((event) => event.type)).toEqual(['token.created', 'token.revoked']);
    for (const each of Object.values(secrets).concat(secret)) expect(JSON.stringify(events)).not.toContain(each);
    expect((await verifyEventChain(db)).ok).toBe(true);
  });

  it('signs the dashboard in with a session cookie that is not the token; a change by cookie needs the CSRF header; signing out ends the session for good', async () => {
    const signIn = await call('POST', '/api/session', { body: { token: secrets.otto } });
    expect(signIn.status).toBe(200);
    expect(signIn.body).toMatchObject({ actor: 'otto', via: 'session' });
    const cookie = String(signIn.headers['set-cookie']);
    expect(cookie).toMatch(/^promote_session=pms_[A-Za-z0-9_-]{43}; HttpOnly; SameSite=Strict; Path=\/; Max-Age=43200$/);
    expect(cookie).not.toContain(secrets.otto);
    const session = cookie.split(';')[0]!;
    expect((await call('GET', '/api/me', { headers: { cookie: `theme=dark; ${session}` } })).body).toMatchObject({ actor: 'otto', via: 'session' });
    const forgedForm = await call('POST', '/api/environments/staging/pause', { headers: { cookie: session }, body: {} });
    expect(forgedForm).toMatchObject({ status: 403, body: { error: "a change made with the dashboard's session cookie must carry the header x-promote-csrf: 1" } });
    expect((await call('POST', '/api/environments/staging/pause', { headers: { cookie: session, 'x-promote-csrf': '1' }, body: {} })).status).toBe(202);
    const signOut = await call('DELETE', '/api/session', { headers: { cookie: session } });
    expect(signOut.status).toBe(204);
    expect(String(signOut.headers['set-cookie'])).toContain('promote_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0');
    // a copy of the cookie kept after signing out is worth nothing
    expect((await call('GET', '/api/me', { headers: { cookie: session }, ip: '10.3.0.1' })).body).toMatchObject({ error: 'this session was signed out; sign in again', auth: 'token' });
    // the token itself is not a session, and a wrong token does not sign in
    expect((await call('GET', '/api/me', { headers: { cookie: `promote_session=${secrets.otto}` }, ip: '10.3.0.1' })).body.error).toBe('not a Promote session; sign in again');
    expect((await call('POST', '/api/session', { body: { token: 'nope' }, ip: '10.3.0.1' })).status).toBe(401);
  });

  it("ends a token's sessions when the token is revoked", async () => {
    const { secret, token } = await createToken(db, { name: 'short-lived', bindings: [parseBinding('viewer')], actor: 'test' });
    const session = String((await call('POST', '/api/session', { body: { token: secret } })).headers['set-cookie']).split(';')[0]!;
    expect((await call('GET', '/api/me', { headers: { cookie: session } })).status).toBe(200);
    await db.query('update promote.tokens set revoked_at = now() where id = $1', [token.id]);
    expect((await call('GET', '/api/me', { headers: { cookie: session }, ip: '10.3.0.2' })).body.error).toMatch(/^API token short-lived \(pmt_.{6}…\) was revoked at /);
  });

  it('turns an address away with 429 and Retry-After after repeated failures, even with a good token, and no other address', async () => {
    const ip = '10.0.0.66';
    for (let attempt = 0; attempt < 5; attempt += 1) expect((await call('GET', '/api/rollouts', { token: `pmt_${String(attempt).repeat(43)}`, ip })).status).toBe(401);
    const blocked = await call('GET', '/api/rollouts', { token: secrets.root, ip });
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(0);
    expect((await call('POST', '/api/session', { body: { token: secrets.root }, ip })).status).toBe(429);
    expect((await call('GET', '/api/rollouts', { token: secrets.root, ip: '10.0.0.67' })).status).toBe(200);
  });

  it('never shows a database password or token in an answer', async () => {
    const answers = await Promise.all([call('GET', '/api/app', { token: secrets.root }), call('GET', '/api/environments/staging/migrations', { token: secrets.root }), call('GET', '/api/overview', { token: secrets.root })]);
    for (const answer of answers) {
      const text = JSON.stringify(answer.body);
      expect(text).not.toContain('db-password-1');
      for (const each of Object.values(secrets)) expect(text).not.toContain(each);
    }
  });

  it("records an app's reports only with a token that has a role in the app", async () => {
    const url = await api.listen({ host: '127.0.0.1', port: 0 });
    const reports = async (token?: string) => {
      const errors: string[] = [];
      const reporter = createReporter({ url, app: 'shop', environment: 'staging', version: '1.0.0', flushIntervalMs: 60_000, onError: (error) => errors.push(error.message), ...(token ? { token } : {}) });
      reporter.count('checkout.error', 3);
      await reporter.close();
      return { stats: reporter.stats(), errors };
    };
    const anonymous = await reports();
    expect(anonymous.stats.sent).toBe(0);
    expect(anonymous.errors.join('\n')).toContain('answered 401');
    expect((await reports(secrets.elsewhere)).stats.sent).toBe(0);
    expect((await reports(secrets.vera)).stats.sent).toBe(1);
    const rows = (await db.query<{ count: number }>(`select count(*)::int as count from promote.reported_metrics where metric = 'checkout.error'`)).rows[0];
    expect(rows?.count).toBe(1);
  });

  it('answers any Authorization, cookie and CSRF header with a JSON 2xx, 401, 403 or 429, never a 500, and never echoes what was sent (fuzz)', async () => {
    let address = 0;
    const header = fc.oneof(fc.string({ maxLength: 80 }), fc.constantFrom('Bearer', 'Bearer ', 'bearer pmt_', `Bearer ${secrets.vera}`, `Bearer ${secrets.vera}x`, `Bearer ${secrets.vera} ${secrets.root}`), fc.string({ maxLength: 60 }).map((text) => `Bearer pmt_${text}`));
    await fc.assert(
      fc.asyncProperty(fc.option(header), fc.option(fc.string({ maxLength: 80 })), fc.option(fc.constantFrom('1', '0', '')), fc.constantFrom<'GET' | 'POST'>('GET', 'POST'), async (authorization, cookie, csrf, method) => {
        address += 1;
        const headers: Record<string, string> = {};
        if (authorization !== null) headers.authorization = authorization;
        if (cookie !== null) headers.cookie = `promote_session=${cookie}`;
        if (csrf !== null) headers['x-promote-csrf'] = csrf;
        const answer = await call(method, method === 'GET' ? '/api/rollouts' : '/api/environments/staging/pause', { headers, body: method === 'POST' ? {} : undefined, ip: `10.1.${address >> 8}.${address & 255}` }).catch((problem: Error) => ({ status: 0, body: { error: problem.message }, headers: {} }));
        expect([200, 202, 400, 401, 403, 429]).toContain(answer.status);
        expect(typeof answer.body.error === 'string' || answer.status < 300).toBe(true);
        if (answer.status >= 400 && (authorization?.length ?? 0) > 12) expect(answer.body.error).not.toContain(authorization!.replace(/^Bearer\s+/i, ''));
      }),
      { seed: 11, numRuns: Number(process.env.FUZZ_RUNS ?? 2000) },
    );
  });

  it("takes a flag SDK's client token only with an API token holding a role in its app and environment", async () => {
    const features = (authorization: string) => call('GET', '/api/client/features', { headers: { authorization }, ip: '10.2.0.1' });
    const good = await features(`shop:live.${secrets.otto}`);
    expect(good.status).not.toBe(401);
    const outsider = await features(`shop:staging.${secrets.elsewhere}`);
    expect(outsider).toMatchObject({ status: 401, body: { error: 'API token elsewhere has no role in shop/staging' } });
    const made = await features('shop:staging.orders-service');
    expect(made.status).toBe(401);
    expect(made.body.error).toMatch(/^the client token's secret: not a Promote API token/);
    const ofrep = await call('POST', '/ofrep/v1/evaluate/flags', { headers: { authorization: `Bearer shop:staging.pmt_${'z'.repeat(43)}` }, body: { context: {} }, ip: '10.2.0.1' });
    expect(ofrep).toMatchObject({ status: 401, body: { errorCode: 'GENERAL', errorDetails: "the client token's secret: unknown API token" } });
  });
});
