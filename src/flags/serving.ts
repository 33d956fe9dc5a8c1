import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type pg from 'pg';
import { registerUnleashClientApi } from './client-api.js';
import { scopeFromAuthorization } from './client-token.js';
import { registerOfrep } from './ofrep.js';
import { createPostgresFlagSource } from './pg-source.js';
import { createRulesetCache, type RulesetCache } from './ruleset-cache.js';
import type { FlagRulesetSource, FlagScope } from './source.js';
import { registerFlagStream, type FlagStreamOptions } from './stream.js';

/** What each flag-serving plugin is given. */
export interface FlagServingContext {
  cache: RulesetCache;
  /** the app a `*` token means: the server's own (promote.yaml's app.name) */
  serverApp: string;
  pool: pg.Pool;
  /** checks a client token's secret for its scope: undefined when good, else why not. Unset: the secret only names the scope */
  checkSecret?: ClientSecretCheck;
}

export type ClientSecretCheck = (secret: string, scope: FlagScope, request: FastifyRequest) => Promise<string | undefined>;

export interface FlagServingOptions {
  pool: pg.Pool;
  serverApp: string;
  /** default: the Postgres store over `pool` */
  source?: FlagRulesetSource;
  /** default: a cache over `source`; tests pass their own to watch its listeners */
  cache?: RulesetCache;
  stream?: FlagStreamOptions;
  checkSecret?: ClientSecretCheck;
}

/**
 * Everything SDKs read flags through: the Unleash client API, OFREP and Promote's change stream, over
 * one ruleset cache. Registered by `buildServer` with one line; tests register it on their own Fastify.
 */
export async function flagServing(app: FastifyInstance, options: FlagServingOptions): Promise<void> {
  const source = options.source ?? createPostgresFlagSource(options.pool);
  const cache = options.cache ?? createRulesetCache(source);
  const context: FlagServingContext = { cache, serverApp: options.serverApp, pool: options.pool, ...(options.checkSecret ? { checkSecret: options.checkSecret } : {}) };
  app.addHook('onClose', async () => {
    await cache.close();
    await (source as { close?: () => Promise<void> }).close?.();
  });
  // each protocol in its own encapsulated context: its token hook, parsers and error shape stay its own
  await app.register((scoped, _options, done) => {
    registerUnleashClientApi(scoped, context);
    done();
  });
  await app.register((scoped, _options, done) => {
    registerOfrep(scoped, context);
    done();
  });
  await app.register((scoped, _options, done) => {
    registerFlagStream(scoped, context, options.stream);
    done();
  });
}

const scopes = new WeakMap<FastifyRequest, FlagScope>();

/**
 * Reads the caller's scope from its client token before any route of the (encapsulated) plugin runs;
 * `refuse` shapes the 401 for the protocol (Unleash: `{error}`, OFREP: `{errorCode, errorDetails}`).
 */
export function requireClientToken(
  app: FastifyInstance,
  context: Pick<FlagServingContext, 'serverApp' | 'checkSecret'>,
  refuse: (reply: FastifyReply, message: string) => FastifyReply = (reply, message) => reply.status(401).send({ error: message }),
): void {
  app.addHook('onRequest', async (request, reply) => {
    const parsed = scopeFromAuthorization(request.headers.authorization, context.serverApp);
    if (!parsed.ok) return refuse(reply, parsed.message);
    const refused = await context.checkSecret?.(parsed.secret, parsed.scope, request);
    if (refused !== undefined) return refuse(reply, refused);
    scopes.set(request, parsed.scope);
    return undefined;
  });
}

export function scopeOf(request: FastifyRequest): FlagScope {
  const scope = scopes.get(request);
  if (!scope) throw new Error('a flag route ran without requireClientToken');
  return scope;
}

/** Whether an If-None-Match header names `etag` (weak comparison, as for GET; `*` matches anything). */
export function matchesEtag(ifNoneMatch: string | string[] | undefined, etag: string): boolean {
  if (ifNoneMatch === undefined) return false;
  const bare = (tag: string) => tag.trim().replace(/^W\//, '');
  const wanted = bare(etag);
  return (Array.isArray(ifNoneMatch) ? ifNoneMatch.join(',') : ifNoneMatch).split(',').some((tag) => tag.trim() === '*' || bare(tag) === wanted);
}
