import swagger from '@fastify/swagger';
import Fastify, { type FastifyInstance } from 'fastify';
import type pg from 'pg';
import { ExitCode, PromoteError, redactSecrets } from '../errors.js';
import { flagAdminRoutes } from '../flags/admin-routes.js';
import { flagServing } from '../flags/serving.js';
import type { PromoteSpec } from '../spec/index.js';
import { registerReleaseRoutes } from './releases.js';
import { registerReportedRoutes } from './reported.js';
import { registerRolloutRoutes } from './rollouts.js';

export interface ServerOptions {
  pool: pg.Pool;
  spec: PromoteSpec;
  /** request body limit in bytes; default 64 KiB (the API takes small JSON documents only) */
  bodyLimit?: number;
}

/**
 * The HTTP API: the same operations as the CLI, each route with JSON schemas for its input and
 * output, and the OpenAPI document generated from them at /openapi.json.
 */
export async function buildServer(options: ServerOptions): Promise<FastifyInstance> {
  const app = Fastify({ logger: false, bodyLimit: options.bodyLimit ?? 64 * 1024, ajv: { customOptions: { removeAdditional: false, allErrors: true } } });
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'Promote API', version: '1', description: 'Rollouts of releases through environments, with their audit trail.' },
    },
  });
  app.setErrorHandler((error, _request, reply) => {
    if (error instanceof PromoteError) {
      const status = error.exitCode === ExitCode.usage ? 400 : /has no|is not recorded|no rollout/.test(error.message) ? 404 : 409;
      return reply.status(status).send({ error: redactSecrets(error.message), ...(error.hint ? { hint: redactSecrets(error.hint) } : {}) });
    }
    const validation = (error as { validation?: unknown }).validation;
    if (validation) return reply.status(400).send({ error: (error as Error).message });
    const statusCode = (error as { statusCode?: number }).statusCode;
    if (statusCode && statusCode < 500) return reply.status(statusCode).send({ error: (error as Error).message });
    return reply.status(500).send({ error: `unexpected failure: ${redactSecrets((error as Error).message)}` });
  });
  app.get('/healthz', { schema: { response: { 200: { type: 'object', properties: { ok: { type: 'boolean' } }, required: ['ok'] } } } }, () => ({ ok: true }));
  registerRolloutRoutes(app, options);
  registerReleaseRoutes(app, options);
  registerReportedRoutes(app, options);
  await app.register(flagAdminRoutes, { pool: options.pool });
  await app.register(flagServing, { pool: options.pool, serverApp: options.spec.app.name });
  app.get('/openapi.json', { schema: { hide: true } }, () => app.swagger());
  await app.ready();
  return app;
}
