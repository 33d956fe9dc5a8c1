import type { FastifyInstance } from 'fastify';
import semver from 'semver';
import type { ClientRuleset, Constraint, StrategyDefinition } from './model.js';
import type { CachedRuleset } from './ruleset-cache.js';
import { matchesEtag, requireClientToken, scopeOf, type FlagServingContext } from './serving.js';
import { FlagNotFoundError } from './store-errors.js';
import { currentRevision, disableFlag, recordClientRegistration, recordFlagUsage } from './store.js';

/**
 * Unleash's client API, so the stock `unleash-client` SDKs of every language read Promote's flags
 * unchanged: they fetch the ruleset, evaluate locally, and report who they are and how often each flag
 * was checked. The scope comes from the client token (serving.ts); status codes are Unleash's.
 */
export function registerUnleashClientApi(app: FastifyInstance, context: FlagServingContext): void {
  requireClientToken(app, context);

  app.get(
    '/api/client/features',
    {
      schema: {
        summary: "The scope's flags in Unleash's client format; ETag from the revision, 304 when If-None-Match names it",
        headers: { type: 'object', properties: { authorization: { type: 'string', description: 'client token <app>:<environment>.<secret>; with --auth tokens the secret is an API token with a role there' } } },
        querystring: { type: 'object', additionalProperties: true },
        response: { 200: { type: 'object', additionalProperties: true }, 304: { type: 'null' }, 401: error, 404: error },
      },
    },
    async (request, reply) => {
      const entry = await context.cache.get(scopeOf(request));
      const inline = needsInlineSegments(request.headers['unleash-client-spec']);
      const etag = `W/"${entry.scope.app}:${entry.scope.environment}:${entry.revision}${inline ? ':inline' : ''}"`;
      void reply.header('etag', etag).header('cache-control', 'no-cache');
      if (matchesEtag(request.headers['if-none-match'], etag)) return reply.status(304).send();
      return reply.type('application/json; charset=utf-8').send(inline ? JSON.stringify(inlineSegments(entry.ruleset)) : bodyOf(entry));
    },
  );

  app.post(
    '/api/client/register',
    {
      schema: {
        summary: 'An SDK instance says who it is (Unleash client registration)',
        body: {
          type: 'object',
          required: ['appName'],
          properties: {
            appName: { type: 'string', minLength: 1, maxLength: 255 },
            instanceId: { type: 'string', minLength: 1, maxLength: 255 },
            sdkVersion: { type: ['string', 'null'], maxLength: 255 },
            strategies: { type: 'array', maxItems: 200, items: { type: 'string', maxLength: 255 } },
            started: { type: ['string', 'null'], format: 'date-time' },
            interval: { type: ['integer', 'null'], minimum: 0 },
          },
          additionalProperties: true,
        },
        response: { 202: { type: 'null' }, 400: error, 401: error, 404: error },
      },
    },
    async (request, reply) => {
      const body = request.body as { appName: string; instanceId?: string; sdkVersion?: string | null; strategies?: string[]; started?: string | null; interval?: number | null };
      await recordClientRegistration(context.pool, scopeOf(request), {
        appName: body.appName,
        instanceId: body.instanceId ?? 'unknown',
        sdkVersion: body.sdkVersion ?? null,
        strategies: body.strategies ?? [],
        startedAt: body.started ? new Date(body.started) : null,
        intervalMs: body.interval ?? null,
      });
      return reply.status(202).send();
    },
  );

  app.post(
    '/api/client/metrics',
    {
      bodyLimit: 1024 * 1024,
      schema: {
        summary: 'How often an SDK instance checked each flag in a time bucket, and which variants it got',
        body: {
          type: 'object',
          required: ['appName', 'bucket'],
          properties: {
            appName: { type: 'string', minLength: 1, maxLength: 255 },
            instanceId: { type: 'string', minLength: 1, maxLength: 255 },
            bucket: {
              type: 'object',
              required: ['start', 'stop', 'toggles'],
              properties: {
                start: { type: 'string', format: 'date-time' },
                stop: { type: 'string', format: 'date-time' },
                toggles: {
                  type: 'object',
                  maxProperties: 10_000,
                  additionalProperties: {
                    type: 'object',
                    required: ['yes', 'no'],
                    properties: {
                      yes: { type: 'integer', minimum: 0 },
                      no: { type: 'integer', minimum: 0 },
                      variants: { type: 'object', additionalProperties: { type: 'integer', minimum: 0 } },
                    },
                  },
                },
              },
            },
          },
          additionalProperties: true,
        },
        response: { 202: { type: 'null' }, 400: error, 401: error, 404: error },
      },
    },
    async (request, reply) => {
      const body = request.body as { appName: string; instanceId?: string; bucket: { start: string; stop: string; toggles: Record<string, { yes: number; no: number; variants?: Record<string, number> }> } };
      await recordFlagUsage(context.pool, scopeOf(request), {
        appName: body.appName,
        instanceId: body.instanceId ?? 'unknown',
        start: new Date(body.bucket.start),
        stop: new Date(body.bucket.stop),
        toggles: body.bucket.toggles,
      });
      return reply.status(202).send();
    },
  );

  // Promote's own addition: the kill switch the SDK's gate pulls when a new code path keeps failing.
  // It can only ever turn a flag off, so a client token (which anything reading flags holds) is enough.
  app.post(
    '/api/client/features/:name/disable',
    {
      schema: {
        summary: "Kill switch: turn a flag of the token's scope off for everyone (recorded in its history as sdk:<instance>); only ever turns off",
        params: { type: 'object', required: ['name'], properties: { name: { type: 'string', minLength: 1, maxLength: 255 } } },
        body: {
          type: 'object',
          required: ['reason'],
          properties: { reason: { type: 'string', minLength: 1, maxLength: 1000 }, instance: { type: 'string', minLength: 1, maxLength: 255 } },
          additionalProperties: false,
        },
        response: { 200: { type: 'object', required: ['changed', 'revision'], properties: { changed: { type: 'boolean' }, revision: { type: 'integer' } } }, 400: error, 401: error, 404: error },
      },
    },
    async (request, reply) => {
      const scope = scopeOf(request);
      const { name } = request.params as { name: string };
      const body = request.body as { reason: string; instance?: string };
      try {
        const written = await disableFlag(context.pool, scope, name, { actor: `sdk:${body.instance ?? 'unknown'}`, reason: body.reason });
        // read after the write: a later change only makes the number higher, which is what callers wait past
        return reply.send({ changed: written.change !== null, revision: await currentRevision(context.pool, scope) });
      } catch (caught) {
        if (caught instanceof FlagNotFoundError) return reply.status(404).send({ error: caught.message });
        throw caught;
      }
    },
  );
}

const error = { type: 'object', properties: { error: { type: 'string' }, hint: { type: 'string' } }, required: ['error'] } as const;

function bodyOf(entry: CachedRuleset): string {
  return entry.json;
}

/**
 * SDKs older than client specification 4.2 know no top-level segments: Unleash's server copies each
 * segment's constraints into the strategies that use it for them, and so does Promote.
 */
export function needsInlineSegments(specHeader: string | string[] | undefined): boolean {
  const version = semver.coerce(Array.isArray(specHeader) ? specHeader[0] : specHeader);
  return version === null || semver.lt(version, '4.2.0');
}

export function inlineSegments(ruleset: ClientRuleset): ClientRuleset {
  const constraintsOf = new Map<number, Constraint[]>((ruleset.segments ?? []).map((segment) => [segment.id, segment.constraints]));
  const inline = (strategy: StrategyDefinition): StrategyDefinition => {
    if (!strategy.segments?.length) return strategy;
    const { segments, ...rest } = strategy;
    // a segment the ruleset does not carry can never hold: an impossible constraint keeps the strategy off
    const fromSegments = segments.flatMap((id) => constraintsOf.get(id) ?? [{ contextName: 'promote-missing-segment', operator: 'IN', values: [] }]);
    return { ...rest, constraints: [...fromSegments, ...(strategy.constraints ?? [])] };
  };
  const { segments: _segments, ...rest } = ruleset;
  return { ...rest, features: ruleset.features.map((feature) => (feature.strategies ? { ...feature, strategies: feature.strategies.map(inline) } : feature)) };
}
