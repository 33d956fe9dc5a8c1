import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import { formatBinding, mayGrant, parseBinding, type RoleBinding } from '../auth/bindings.js';
import { createToken, findTokens, listTokens, revokeTokens, type ApiToken } from '../auth/tokens.js';
import { PromoteError } from '../errors.js';
import { parseDuration } from '../spec/duration.js';
import { callerOf } from './caller.js';

const error = { type: 'object', properties: { error: { type: 'string' }, hint: { type: 'string' } }, required: ['error'] } as const;
const token = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    name: { type: 'string' },
    prefix: { type: 'string', description: 'the secret\'s first characters, to recognise it' },
    roles: { type: 'array', items: { type: 'string' } },
    createdBy: { type: 'string' },
    createdAt: { type: 'string', format: 'date-time' },
    expiresAt: { type: ['string', 'null'], format: 'date-time' },
    revokedAt: { type: ['string', 'null'], format: 'date-time' },
    lastUsedAt: { type: ['string', 'null'], format: 'date-time' },
  },
  required: ['id', 'name', 'prefix', 'roles', 'createdBy', 'createdAt', 'expiresAt', 'revokedAt', 'lastUsedAt'],
} as const;

export function describeToken(each: ApiToken) {
  return {
    id: each.id,
    name: each.name,
    prefix: each.prefix,
    roles: each.bindings.map(formatBinding),
    createdBy: each.createdBy,
    createdAt: each.createdAt.toISOString(),
    expiresAt: each.expiresAt?.toISOString() ?? null,
    revokedAt: each.revokedAt?.toISOString() ?? null,
    lastUsedAt: each.lastUsedAt?.toISOString() ?? null,
  };
}

/** Refuses when the caller's own bindings do not cover every one given: nobody hands out more than they hold. */
function checkGrantable(holder: readonly RoleBinding[], wanted: readonly RoleBinding[], actor: string, doing: string): void {
  const beyond = wanted.filter((binding) => !mayGrant(holder, binding));
  if (beyond.length > 0) {
    throw new PromoteError(`${actor} may not ${doing} ${beyond.map(formatBinding).join(', ')}: only an admin of that scope may`, { status: 403, hint: `${actor}'s roles: ${holder.map(formatBinding).join(', ') || 'none'}` });
  }
}

/** Token management over the API, for admins; `promote token` does the same with direct database access. */
export function registerTokenRoutes(app: FastifyInstance, options: { pool: pg.Pool }): void {
  const { pool } = options;
  app.get('/api/tokens', { schema: { summary: 'The active API tokens the caller could revoke (admins only); never their secrets', response: { 200: { type: 'array', items: token }, 403: error } } }, async (request) => {
    const holder = callerOf(request).bindings ?? [];
    return (await listTokens(pool)).filter((each) => each.bindings.every((binding) => mayGrant(holder, binding))).map(describeToken);
  });

  app.post(
    '/api/tokens',
    {
      schema: {
        summary: 'Create an API token (admins only, and only with roles within their own); the secret is in this answer and nowhere else',
        body: {
          type: 'object',
          properties: {
            name: { type: 'string', minLength: 1, maxLength: 100, description: 'the person or system, as the audit trail will name it' },
            roles: { type: 'array', minItems: 1, maxItems: 20, items: { type: 'string', minLength: 1, maxLength: 200 }, description: 'role[:app[/environment]], e.g. operator:orders/staging' },
            expiresIn: { type: 'string', minLength: 1, maxLength: 20, description: 'a duration such as 90d or 12h; default: never' },
          },
          required: ['name', 'roles'],
          additionalProperties: false,
        },
        response: { 201: { type: 'object', properties: { secret: { type: 'string' }, token }, required: ['secret', 'token'] }, 400: error, 403: error },
      },
    },
    async (request, reply) => {
      const body = request.body as { name: string; roles: string[]; expiresIn?: string };
      const caller = callerOf(request);
      const bindings = body.roles.map((text, index) => parseBinding(text, `roles[${index}]`));
      checkGrantable(caller.bindings ?? [], bindings, caller.actor, 'hand out');
      let expiresAt: Date | null = null;
      if (body.expiresIn !== undefined) {
        try {
          expiresAt = new Date(Date.now() + parseDuration(body.expiresIn));
        } catch (problem) {
          throw new PromoteError(`expiresIn: ${(problem as Error).message}`, { status: 400 });
        }
      }
      const created = await createToken(pool, { name: body.name, bindings, expiresAt, actor: caller.actor });
      return reply.status(201).header('cache-control', 'no-store').send({ secret: created.secret, token: describeToken(created.token) });
    },
  );

  app.delete(
    '/api/tokens/:id',
    {
      schema: {
        summary: 'Revoke an API token at once (admins of all its roles\' scopes)',
        params: { type: 'object', properties: { id: { type: 'integer', minimum: 1 } }, required: ['id'], additionalProperties: false },
        body: { type: ['object', 'null'], properties: { reason: { type: 'string', maxLength: 1000 } }, additionalProperties: false },
        response: { 200: token, 403: error, 404: error },
      },
    },
    async (request) => {
      const caller = callerOf(request);
      const [found] = await findTokens(pool, String((request.params as { id: number }).id));
      checkGrantable(caller.bindings ?? [], found!.bindings, caller.actor, 'revoke a token holding');
      const reason = (request.body as { reason?: string } | null | undefined)?.reason;
      const [revoked] = await revokeTokens(pool, [found!], caller.actor, reason);
      if (!revoked) throw new PromoteError(`API token #${found!.id} was revoked meanwhile`, { status: 404 });
      return describeToken(revoked);
    },
  );
}
