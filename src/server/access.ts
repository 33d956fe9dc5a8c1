import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type pg from 'pg';
import type { PromoteSpec } from '../spec/index.js';
import { getRollout } from '../store/index.js';
import { callerOf } from './caller.js';

/**
 * Roles and the one permission check of the API. There is no authentication yet (issue 11): the server
 * gives every caller one role (`promote server --role`), and a caller may only lower its own with the
 * `x-promote-role` header (the dashboard's "view as"), never raise it.
 */
export const ROLES = ['viewer', 'operator', 'approver', 'admin'] as const;
export type Role = (typeof ROLES)[number];
export const ACTIONS = ['deploy', 'pause', 'resume', 'abort', 'retry', 'promote', 'rollback', 'approve', 'flag.write'] as const;
export type Action = (typeof ACTIONS)[number];
export const ROLE_HEADER = 'x-promote-role';

/** Rollouts move traffic and flags change behaviour; stopping a rollout (pause, abort) only ever reduces risk. */
const NON_PRODUCTION: readonly Action[] = ['deploy', 'pause', 'resume', 'abort', 'retry', 'promote', 'rollback', 'flag.write'];
const PRODUCTION: readonly Action[] = ['pause', 'abort'];

export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
}

const rank = (role: Role): number => ROLES.indexOf(role);

/** "production" is the last environment in promotion order, or any environment named production. */
export function isProduction(spec: PromoteSpec, environment: string): boolean {
  return environment === 'production' || spec.environments.at(-1)?.name === environment;
}

/** `environment` undefined: an app-wide change (segments), which reaches production too. */
export function can(spec: PromoteSpec, role: Role, action: Action, environment: string | undefined): boolean {
  if (role === 'admin') return true;
  if (role === 'viewer') return false;
  if (action === 'approve') return role === 'approver';
  const production = environment === undefined || isProduction(spec, environment);
  return (production ? PRODUCTION : NON_PRODUCTION).includes(action);
}

export function allowedActions(spec: PromoteSpec, role: Role, environment: string): Action[] {
  return ACTIONS.filter((action) => can(spec, role, action, environment));
}

export class RoleHeaderError extends Error {}

/** The caller's role: the server's, or lower if the caller asks for less. */
export function effectiveRole(serverRole: Role, header: string | string[] | undefined): Role {
  const asked = Array.isArray(header) ? header[0] : header;
  if (asked === undefined || asked.trim() === '') return serverRole;
  const wanted = asked.trim();
  if (!isRole(wanted)) throw new RoleHeaderError(`${ROLE_HEADER}: unknown role "${wanted}"; roles are ${ROLES.join(', ')}`);
  return rank(wanted) < rank(serverRole) ? wanted : serverRole;
}

/** What a state-changing route does and to which environment; undefined environment = every environment. */
type Guard = (request: FastifyRequest, pool: pg.Pool) => Promise<{ action: Action; environment: string | undefined }> | { action: Action; environment: string | undefined };
/** Route config `access: 'open'` marks a write that is not an operator's action (apps reporting metrics, flag evaluation). */
export type RouteAccess = Guard | 'open';

const params = (request: FastifyRequest) => (request.params ?? {}) as Record<string, string | undefined>;
const environmentParam = (action: Action): Guard => (request) => ({ action, environment: params(request).environment });

/**
 * The state-changing routes of the API, keyed by method and URL pattern, so the route files need no
 * change; a route may instead carry `config: { access }`. A write under /api that is in neither place is
 * refused (fail closed), and the access test lists every route to keep this table complete.
 */
const ROUTES: Record<string, RouteAccess> = {
  'POST /api/deploy': (request) => ({ action: 'deploy', environment: (request.body as { environment?: string } | undefined)?.environment }),
  'POST /api/environments/:environment/pause': environmentParam('pause'),
  'POST /api/environments/:environment/resume': environmentParam('resume'),
  'POST /api/environments/:environment/abort': environmentParam('abort'),
  'POST /api/environments/:environment/retry': environmentParam('retry'),
  'POST /api/environments/:environment/promote': environmentParam('promote'),
  'POST /api/environments/:environment/rollback': environmentParam('rollback'),
  'POST /api/rollouts/:id/approvals': async (request, pool) => {
    const rollout = await getRollout(pool, Number(params(request).id));
    // an unknown rollout: the route answers 404 itself; approving needs the role anywhere
    return { action: 'approve', environment: rollout?.environment };
  },
  'PUT /api/apps/:app/environments/:environment/flags/:name': environmentParam('flag.write'),
  'DELETE /api/apps/:app/environments/:environment/flags/:name': environmentParam('flag.write'),
  'POST /api/apps/:app/environments/:environment/flags/:name/enable': environmentParam('flag.write'),
  'POST /api/apps/:app/environments/:environment/flags/:name/disable': environmentParam('flag.write'),
  'POST /api/apps/:app/environments/:environment/flags/:name/rollout': environmentParam('flag.write'),
  'POST /api/apps/:app/environments/:environment/flags/:name/variants': environmentParam('flag.write'),
  'POST /api/apps/:app/environments/:environment/flags/:name/schedules': environmentParam('flag.write'),
  'DELETE /api/apps/:app/environments/:environment/schedules/:id': environmentParam('flag.write'),
  // segments belong to the app: a change reaches every environment, production included
  'PUT /api/apps/:app/segments/:name': () => ({ action: 'flag.write', environment: undefined }),
  'DELETE /api/apps/:app/segments/:name': () => ({ action: 'flag.write', environment: undefined }),
  // apps report what they measure; these are not operator actions
  'POST /api/metrics': 'open',
  'POST /feedback': 'open',
  // the flag SDKs' own API (Unleash client protocol), scoped by their client token; the kill switch only turns off
  'POST /api/client/register': 'open',
  'POST /api/client/metrics': 'open',
  'POST /api/client/features/:name/disable': 'open',
};

const WRITES = new Set(['POST', 'PUT', 'DELETE', 'PATCH']);

export function routeAccess(method: string, url: string, config: unknown): RouteAccess | undefined {
  const configured = (config as { access?: RouteAccess } | undefined)?.access;
  return configured ?? ROUTES[`${method} ${url}`];
}

/** Whether the access check must classify this route: writes of the API (OFREP's posts, outside /api, only evaluate). */
export function needsAccess(method: string, url: string): boolean {
  return WRITES.has(method) && url.startsWith('/api/');
}

export interface AccessOptions {
  spec: PromoteSpec;
  pool: pg.Pool;
  role: Role;
}

function roleOf(request: FastifyRequest, serverRole: Role, reply: FastifyReply): Role | undefined {
  try {
    return effectiveRole(serverRole, request.headers[ROLE_HEADER]);
  } catch (problem) {
    if (!(problem instanceof RoleHeaderError)) throw problem;
    void reply.status(400).send({ error: problem.message });
    return undefined;
  }
}

const unclassified = new WeakMap<FastifyInstance, string[]>();

/** State-changing API routes registered after registerAccess that the check cannot classify (refused with 403); the access test keeps this empty. */
export function unclassifiedRoutes(app: FastifyInstance): string[] {
  return [...(unclassified.get(app) ?? [])];
}

/** Registers GET /api/me and the preHandler every route passes; call before registering routes. */
export function registerAccess(app: FastifyInstance, options: AccessOptions): void {
  const { spec, pool } = options;
  const environments = spec.environments.map((environment) => environment.name);
  const missing: string[] = [];
  unclassified.set(app, missing);
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) {
      if (needsAccess(method, route.url) && !routeAccess(method, route.url, route.config)) missing.push(`${method} ${route.url}`);
    }
  });

  app.addHook('preHandler', async (request, reply) => {
    const url = request.routeOptions.url ?? '';
    const method = request.method;
    const access = routeAccess(method, url, request.routeOptions.config);
    if (access === 'open' || (access === undefined && !needsAccess(method, url))) return;
    const role = roleOf(request, options.role, reply);
    if (role === undefined) return reply;
    if (access === undefined) {
      return reply.status(403).send({ error: `${method} ${url} is not classified by the access check, so it is refused`, hint: 'a Promote bug: add the route to src/server/access.ts' });
    }
    const { action, environment } = await access(request, pool);
    if (can(spec, role, action, environment)) return;
    const where = environment ?? 'every environment';
    return reply.status(403).send({
      error: `role ${role} may not ${action} in ${where}`,
      hint: role === options.role
        ? `the server gives its callers the role ${options.role} (promote server --role); ${rolesThatCan(spec, action, environment)} may`
        : `you view as ${role} (${ROLE_HEADER}); the server's role is ${options.role}`,
    });
  });

  app.get(
    '/api/me',
    {
      schema: {
        summary: 'Who the caller is: role (the server\'s, lowered by x-promote-role) and what it may do per environment',
        response: {
          200: {
            type: 'object',
            properties: {
              actor: { type: 'string' },
              role: { type: 'string', enum: ROLES },
              serverRole: { type: 'string', enum: ROLES },
              roles: { type: 'array', items: { type: 'string', enum: ROLES } },
              can: { type: 'object', additionalProperties: { type: 'array', items: { type: 'string', enum: ACTIONS } } },
            },
            required: ['actor', 'role', 'serverRole', 'roles', 'can'],
          },
          400: { type: 'object', properties: { error: { type: 'string' } }, required: ['error'] },
        },
      },
    },
    (request, reply) => {
      const role = roleOf(request, options.role, reply);
      if (role === undefined) return reply;
      const { actor } = callerOf(request);
      return { actor, role, serverRole: options.role, roles: ROLES.filter((each) => rank(each) <= rank(options.role)), can: Object.fromEntries(environments.map((name) => [name, allowedActions(spec, role, name)])) };
    },
  );
}

function rolesThatCan(spec: PromoteSpec, action: Action, environment: string | undefined): string {
  return ROLES.filter((role) => can(spec, role, action, environment)).join(' or ');
}
