import swagger from '@fastify/swagger';
import Fastify, { type FastifyInstance } from 'fastify';
import type pg from 'pg';
import { ExitCode, PromoteError, redactSecrets } from '../errors.js';
import { flagAdminRoutes } from '../flags/admin-routes.js';
import { flagServing } from '../flags/serving.js';
import type { PromoteSpec } from '../spec/index.js';
import { registerAccess, type Role } from './access.js';
import { clientSecretCheck, registerAuth, type AuthMode } from './auth.js';
import { FailureLimiter } from './auth-failures.js';
import { registerCallAudit } from './audit-calls.js';
import { registerDashboardRoutes } from './dashboard.js';
import { registerFreezeRoutes } from './freeze.js';
import { registerMigrationRoutes } from './migrations.js';
import { registerReleaseRoutes } from './releases.js';
import { registerReportRoutes } from './report.js';
import { registerReportedRoutes } from './reported.js';
import { registerRolloutRoutes } from './rollouts.js';
import { registerStatic } from './static.js';
import { registerStream } from './stream.js';
import { registerTokenRoutes } from './tokens.js';
import { registerTrafficSeries } from './traffic-series.js';

export interface ServerOptions {
  pool: pg.Pool;
  spec: PromoteSpec;
  /** request body limit in bytes; default 64 KiB (the API takes small JSON documents only) */
  bodyLimit?: number;
  /** `tokens`: every route but the public ones needs an API token; `none` (default): nobody is asked, every caller has `role` */
  auth?: AuthMode;
  /** without authentication, the role of every caller; a caller may lower its own with x-promote-role. Default admin */
  role?: Role;
  /** counts failed sign-ins per address (a default one per server) */
  authFailures?: FailureLimiter;
  /** the built dashboard served at `/`; default dist/web next to the module, false: serve the API only */
  web?: string | false;
  /** the folder of promote.yaml: the migrations route compares applied checksums with the release's files there */
  configDir?: string;
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
      // an error about something unknown says so with its status (notFound: 404); the rest are refusals of what the caller asked now
      const status = error.status ?? (error.exitCode === ExitCode.usage ? 400 : 409);
      return reply.status(status).send({ error: redactSecrets(error.message), ...(error.hint ? { hint: redactSecrets(error.hint) } : {}) });
    }
    const validation = (error as { validation?: unknown }).validation;
    if (validation) return reply.status(400).send({ error: (error as Error).message });
    const statusCode = (error as { statusCode?: number }).statusCode;
    if (statusCode && statusCode < 500) return reply.status(statusCode).send({ error: (error as Error).message });
    return reply.status(500).send({ error: `unexpected failure: ${redactSecrets((error as Error).message)}` });
  });
  // before every route: who calls (onRequest), then what its roles allow (preValidation)
  const authFailures = options.authFailures ?? new FailureLimiter();
  registerAuth(app, { mode: options.auth ?? 'none', spec: options.spec, pool: options.pool, role: options.role ?? 'admin', limiter: authFailures });
  registerAccess(app, { spec: options.spec, pool: options.pool });
  registerTokenRoutes(app, { pool: options.pool });
  registerCallAudit(app, { pool: options.pool, app: options.spec.app.name });
  app.get('/healthz', { schema: { response: { 200: { type: 'object', properties: { ok: { type: 'boolean' } }, required: ['ok'] } } } }, () => ({ ok: true }));
  registerRolloutRoutes(app, options);
  registerReleaseRoutes(app, options);
  registerStream(app, { pool: options.pool, app: options.spec.app.name });
  registerDashboardRoutes(app, options);
  registerTrafficSeries(app, options);
  registerFreezeRoutes(app, options);
  registerMigrationRoutes(app, options);
  registerReportedRoutes(app, options);
  registerReportRoutes(app, options);
  await app.register(flagAdminRoutes, { pool: options.pool });
  await app.register(flagServing, { pool: options.pool, serverApp: options.spec.app.name, ...(options.auth === 'tokens' ? { checkSecret: clientSecretCheck(options.pool, authFailures) } : {}) });
  app.get('/openapi.json', { schema: { hide: true } }, () => app.swagger());
  if (options.web !== false) registerStatic(app, options.web ? { root: options.web } : {});
  await app.ready();
  return app;
}
