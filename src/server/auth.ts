import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type pg from 'pg';
import { ANY, roleFor, type Role } from '../auth/bindings.js';
import { checkSession, checkToken, endSession, startSession, type ApiToken } from '../auth/tokens.js';
import type { ClientSecretCheck } from '../flags/serving.js';
import type { PromoteSpec } from '../spec/index.js';
import { describeCaller, meSchema, RoleHeaderError } from './access.js';
import { FailureLimiter } from './auth-failures.js';
import { callerOf, setCaller } from './caller.js';

/**
 * Who is calling. `none`: nobody proves anything, every caller gets the server's role (loopback only,
 * enforced by `promote server`). `tokens`: every route but the public ones needs an API token as
 * `Authorization: Bearer <token>`, or the dashboard's session cookie: a session secret of its own
 * (HttpOnly, so page scripts never see it), started by signing in with a token and ended by signing out.
 */
export const AUTH_MODES = ['none', 'tokens'] as const;
export type AuthMode = (typeof AUTH_MODES)[number];
export const SESSION_COOKIE = 'promote_session';
/** a write authenticated by the cookie must carry this header: a cross-site form or image cannot send one */
export const CSRF_HEADER = 'x-promote-csrf';
const SESSION_MAX_AGE_S = 12 * 3600;

export interface AuthOptions {
  mode: AuthMode;
  spec: PromoteSpec;
  pool: pg.Pool;
  /** without authentication: every caller's role. Default admin */
  role?: Role;
  limiter?: FailureLimiter;
}

const WRITES = new Set(['POST', 'PUT', 'DELETE', 'PATCH']);

/**
 * Routes that need no token: health, the API description, the dashboard's own files (its data comes
 * from /api, which does), signing in and out, and the flag SDKs' APIs, which carry their own client
 * tokens (see docs/security.md).
 */
export function isPublic(method: string, url: string): boolean {
  if (url === '/healthz' || url === '/openapi.json' || url === '/' || url === '/*') return method === 'GET' || method === 'HEAD';
  if (url === '/api/session') return method === 'POST' || method === 'DELETE';
  return url.startsWith('/api/client/') || url.startsWith('/api/frontend') || url === '/api/flags/stream' || url.startsWith('/ofrep/');
}

function headerValue(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function cookieValue(request: FastifyRequest, name: string): string | undefined {
  const header = headerValue(request, 'cookie');
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const at = part.indexOf('=');
    if (at > 0 && part.slice(0, at).trim() === name) return part.slice(at + 1).trim();
  }
  return undefined;
}

type Presented = { secret: string; via: 'token' | 'session' } | { malformed: string } | undefined;

function presentedCredentials(request: FastifyRequest): Presented {
  const authorization = headerValue(request, 'authorization');
  if (authorization !== undefined) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    return match ? { secret: match[1]!, via: 'token' } : { malformed: 'Authorization must be "Bearer <token>"' };
  }
  const cookie = cookieValue(request, SESSION_COOKIE);
  return cookie ? { secret: cookie, via: 'session' } : undefined;
}

/** Sent as text: the route's own response schema would otherwise drop `auth`, which tells the dashboard to show its sign-in form. */
function refuse(reply: FastifyReply, status: number, body: Record<string, string>): FastifyReply {
  return reply.status(status).type('application/json; charset=utf-8').send(JSON.stringify(body));
}

function unauthorized(reply: FastifyReply, error: string): FastifyReply {
  void reply.header('www-authenticate', 'Bearer realm="promote"');
  return refuse(reply, 401, { error, auth: 'token', hint: 'create a token with `promote token create --name <you> --role <role>`; send it as Authorization: Bearer <token>, or sign in to the dashboard with it' });
}

function tooMany(reply: FastifyReply, waitMs: number): FastifyReply {
  const seconds = Math.max(1, Math.ceil(waitMs / 1000));
  void reply.header('retry-after', String(seconds));
  return refuse(reply, 429, { error: `too many failed sign-ins from this address; retry in ${seconds}s`, auth: 'token' });
}

/** Registers the authentication hook and /api/session; call before registerAccess and every route. */
export function registerAuth(app: FastifyInstance, options: AuthOptions): void {
  const { mode, pool, spec } = options;
  const serverRole = options.role ?? 'admin';
  const limiter = options.limiter ?? new FailureLimiter();

  /** checks a presented token, counting failures per address; answers the refusal itself */
  async function authenticate(request: FastifyRequest, reply: FastifyReply, secret: string, via: 'token' | 'session'): Promise<ApiToken | undefined> {
    const wait = limiter.retryAfter(request.ip);
    if (wait > 0) {
      tooMany(reply, wait);
      return undefined;
    }
    const check = via === 'token' ? await checkToken(pool, secret) : await checkSession(pool, secret);
    if (check.ok) return check.token;
    limiter.fail(request.ip);
    unauthorized(reply, check.reason);
    return undefined;
  }

  app.addHook('onRequest', async (request, reply) => {
    if (mode === 'none') {
      setCaller(request, { ...callerOf(request), bindings: [{ role: serverRole, app: ANY, environment: ANY }] });
      return;
    }
    const url = request.routeOptions.url;
    // an unknown URL answers 404 whoever asks; a public route needs no identity
    if (url === undefined || isPublic(request.method, url)) return;
    const presented = presentedCredentials(request);
    if (presented === undefined) return unauthorized(reply, 'this server requires an API token');
    if ('malformed' in presented) return unauthorized(reply, presented.malformed);
    const token = await authenticate(request, reply, presented.secret, presented.via);
    if (!token) return reply;
    if (presented.via === 'session' && WRITES.has(request.method) && headerValue(request, CSRF_HEADER) !== '1') {
      return refuse(reply, 403, { error: `a change made with the dashboard's session cookie must carry the header ${CSRF_HEADER}: 1`, hint: 'scripts and tools should send Authorization: Bearer <token> instead of the cookie' });
    }
    setCaller(request, { actor: token.name, via: presented.via, tokenId: token.id, bindings: token.bindings });
    return undefined;
  });

  app.post(
    '/api/session',
    {
      schema: {
        summary: 'Sign the dashboard in with an API token: answers who that is and sets an HttpOnly cookie with a new session (not the token)',
        body: { type: 'object', properties: { token: { type: 'string', minLength: 1, maxLength: 200 } }, required: ['token'], additionalProperties: false },
        response: {
          200: meSchema,
          400: { type: 'object', properties: { error: { type: 'string' } }, required: ['error'] },
          401: { type: 'object', properties: { error: { type: 'string' }, auth: { type: 'string' }, hint: { type: 'string' } }, required: ['error'] },
          403: { type: 'object', properties: { error: { type: 'string' }, hint: { type: 'string' } }, required: ['error'] },
          409: { type: 'object', properties: { error: { type: 'string' } }, required: ['error'] },
          429: { type: 'object', properties: { error: { type: 'string' }, auth: { type: 'string' } }, required: ['error'] },
        },
      },
    },
    async (request, reply) => {
      if (mode === 'none') return reply.status(409).send({ error: 'this server runs without authentication (promote server --auth none): there is nothing to sign in to' });
      const token = await authenticate(request, reply, (request.body as { token: string }).token.trim(), 'token');
      if (!token) return reply;
      setCaller(request, { actor: token.name, via: 'session', tokenId: token.id, bindings: token.bindings });
      let me;
      try {
        me = describeCaller(spec, request);
      } catch (problem) {
        if (problem instanceof RoleHeaderError) return reply.status(400).send({ error: problem.message });
        throw problem;
      }
      if (!me) return reply.status(403).send({ error: `${token.name} has no role in ${spec.app.name}`, hint: 'sign in with a token that has a role in this app' });
      const untilExpiry = token.expiresAt ? Math.floor((token.expiresAt.getTime() - Date.now()) / 1000) : SESSION_MAX_AGE_S;
      const maxAge = Math.max(1, Math.min(SESSION_MAX_AGE_S, untilExpiry));
      const session = await startSession(pool, token, new Date(Date.now() + maxAge * 1000));
      const secure = request.protocol === 'https' ? '; Secure' : '';
      void reply.header('set-cookie', `${SESSION_COOKIE}=${session}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${maxAge}${secure}`);
      return reply.header('cache-control', 'no-store').send(me);
    },
  );

  app.delete('/api/session', { schema: { summary: 'Sign the dashboard out: ends the session for good and clears its cookie', response: { 204: { type: 'null' } } } }, async (request, reply) => {
    const session = cookieValue(request, SESSION_COOKIE);
    if (session && mode === 'tokens') await endSession(pool, session);
    return reply.status(204).header('set-cookie', `${SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0`).send();
  });
}

/**
 * With authentication, a flag SDK's client token `<app>:<environment>.<secret>` carries an API token as
 * its secret, which must hold a role (any) in that app and environment. Failures count against the
 * address like any other sign-in.
 */
export function clientSecretCheck(pool: pg.Pool, limiter: FailureLimiter): ClientSecretCheck {
  return async (secret, scope, request) => {
    const wait = limiter.retryAfter(request.ip);
    if (wait > 0) return `too many failed sign-ins from this address; retry in ${Math.max(1, Math.ceil(wait / 1000))}s`;
    const check = await checkToken(pool, secret);
    if (!check.ok) {
      limiter.fail(request.ip);
      return `the client token's secret: ${check.reason}`;
    }
    if (roleFor(check.token.bindings, scope.app, scope.environment) === undefined) return `API token ${check.token.name} has no role in ${scope.app}/${scope.environment}`;
    return undefined;
  };
}
