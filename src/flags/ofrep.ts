import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { evaluateFlag } from './evaluate.js';
import { FlagNotFoundError } from './store-errors.js';
import { resolve, toFlagContext, type FlagValue } from './openfeature-mapping.js';
import type { CachedRuleset } from './ruleset-cache.js';
import { matchesEtag, requireClientToken, scopeOf, type FlagServingContext } from './serving.js';

/**
 * The OpenFeature Remote Evaluation Protocol (OFREP), so `@openfeature/ofrep-provider` and the other
 * OFREP providers evaluate Promote's flags on the server: one flag, or all of them at once (with an
 * ETag over the answer, so a polling client gets 304 until something it sees changes). Errors carry
 * OFREP's `errorCode` and `errorDetails`.
 */
export function registerOfrep(app: FastifyInstance, context: FlagServingContext): void {
  requireClientToken(app, context, (reply, message) => reply.status(401).send({ errorCode: 'GENERAL', errorDetails: message }));

  // OFREP bodies are small JSON documents; an empty one means an empty context
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    const text = String(body).trim();
    if (text === '') return done(null, {});
    try {
      done(null, JSON.parse(text));
    } catch (error) {
      done(Object.assign(new Error(`the request body is not JSON: ${(error as Error).message}`), { statusCode: 400, ofrepCode: 'PARSE_ERROR' }), undefined);
    }
  });
  app.setErrorHandler((error, request, reply) => {
    const key = (request.params as { key?: string } | undefined)?.key;
    // a token naming an app or environment the store does not know: a 404 would read as FLAG_NOT_FOUND
    if (error instanceof FlagNotFoundError) return reply.status(401).send({ errorCode: 'GENERAL', errorDetails: `the client token's scope: ${error.message}` });
    const statusCode = (error as { statusCode?: number }).statusCode ?? 500;
    const errorCode = (error as { ofrepCode?: string }).ofrepCode ?? (statusCode < 500 ? 'PARSE_ERROR' : 'GENERAL');
    return reply.status(statusCode).send({ ...(key !== undefined ? { key } : {}), errorCode, errorDetails: (error as Error).message });
  });

  const contextOf = (body: unknown, entry: CachedRuleset) => {
    if (body === null || typeof body !== 'object' || Array.isArray(body)) return { ok: false as const, code: 'PARSE_ERROR', message: 'the request body must be a JSON object like {"context": {...}}' };
    const parsed = toFlagContext((body as { context?: unknown }).context, { appName: entry.scope.app, environment: entry.scope.environment });
    return parsed.ok ? parsed : { ok: false as const, code: 'INVALID_CONTEXT', message: parsed.message };
  };

  const answer = (entry: CachedRuleset, key: string, flagContext: Parameters<typeof evaluateFlag>[2]): { status: number; body: OfrepAnswer } => {
    const resolution = resolve(entry.ruleset, evaluateFlag(entry.compiled, key, flagContext));
    if (!resolution.ok) {
      const status = resolution.errorCode === 'FLAG_NOT_FOUND' ? 404 : resolution.errorCode === 'GENERAL' ? 500 : 400;
      return { status, body: { key, errorCode: resolution.errorCode, errorDetails: resolution.errorDetails } };
    }
    return { status: 200, body: { key, value: resolution.value, variant: resolution.variant, reason: resolution.reason, metadata: { revision: entry.revision } } };
  };

  const keyParams = { type: 'object', properties: { key: { type: 'string', minLength: 1, maxLength: 200 } }, required: ['key'] } as const;

  app.post('/ofrep/v1/evaluate/flags/:key', { schema: { summary: 'OFREP: evaluate one flag for a context', params: keyParams } }, async (request, reply: FastifyReply) => {
    const { key } = request.params as { key: string };
    const entry = await context.cache.get(scopeOf(request));
    const parsed = contextOf(request.body, entry);
    if (!parsed.ok) return reply.status(400).send({ key, errorCode: parsed.code, errorDetails: parsed.message });
    const { status, body } = answer(entry, key, parsed.context);
    return reply.status(status).send(body);
  });

  app.post('/ofrep/v1/evaluate/flags', { schema: { summary: 'OFREP: evaluate every flag of the scope for a context; ETag over the answer, 304 on If-None-Match' } }, async (request, reply) => {
    const entry = await context.cache.get(scopeOf(request));
    const parsed = contextOf(request.body, entry);
    if (!parsed.ok) return reply.status(400).send({ errorCode: parsed.code, errorDetails: parsed.message });
    const flags = (entry.ruleset.features ?? []).map((feature) => answer(entry, feature.name, parsed.context).body);
    const json = JSON.stringify({ flags });
    // over the answer rather than the revision: the same revision answers differently per context and over time (date constraints)
    const etag = `W/"${createHash('sha256').update(json).digest('base64url').slice(0, 22)}"`;
    void reply.header('etag', etag).header('cache-control', 'no-cache');
    if (matchesEtag(request.headers['if-none-match'], etag)) return reply.status(304).send();
    return reply.type('application/json; charset=utf-8').send(json);
  });
}

type OfrepAnswer = { key: string; value: FlagValue; variant: string; reason: string; metadata: Record<string, string | number | boolean> } | { key: string; errorCode: string; errorDetails: string };
