import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type pg from 'pg';
import type { PromoteSpec } from '../spec/index.js';
import { getRollout } from '../store/index.js';
import { callerOf, type Caller } from './caller.js';
import { ANY, formatBinding, isRole, lowerRole, ROLES, roleFor, roleRank, type Role, type RoleBinding } from '../auth/bindings.js';

export { isRole, ROLES, type Role } from '../auth/bindings.js';

/**
 * The one permission check of the API. Who the caller is comes from the authentication hook
 * (src/server/auth.ts): a token's bindings, or without authentication the server's role
 * (`promote server --role`) everywhere. A caller may lower its own role with the `x-promote-role` header
 * (the dashboard's "view as"), never raise it.
 */
export const ACTIONS = ['deploy', 'pause', 'resume', 'abort', 'retry', 'promote', 'rollback', 'approve', 'flag.write', 'freeze.override', 'token.manage'] as const;
export type Action = (typeof ACTIONS)[number];
export const ROLE_HEADER = 'x-promote-role';

/** Rollouts move traffic and flags change behaviour; stopping a rollout (pause, abort) only ever reduces risk. */
const NON_PRODUCTION: readonly Action[] = ['deploy', 'pause', 'resume', 'abort', 'retry', 'promote', 'rollback', 'flag.write'];
const PRODUCTION: readonly Action[] = ['pause', 'abort'];

/** "production" is the last environment in promotion order, or any environment named production. */
export function isProduction(spec: PromoteSpec, environment: string): boolean {
  return environment === 'production' || spec.environments.at(-1)?.name === environment;
}

/** `environment` undefined: an app-wide change (segments), which reaches production too. */
export function can(spec: PromoteSpec, role: Role, action: Action, environment: string | undefined): boolean {
  if (role === 'admin') return true;
  if (role === 'viewer') return false;
  if (action === 'approve') return role === 'approver';
  // freeze.override and token.manage are in neither list: admin's alone
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
  return lowerRole(wanted, serverRole);
}

/** What a state-changing route does, in which environment (undefined: every one) and app (undefined: the server's). */
interface Guarded {
  action: Action;
  environment: string | undefined;
  app?: string;
  /** the highest role held anywhere counts; the route narrows it itself (tokens: only within the admin's own scope) */
  anywhere?: true;
}
type Guard = (request: FastifyRequest, pool: pg.Pool) => Promise<Guarded> | Guarded;
/** Route config `access: 'open'` marks a write that is not an operator's action (apps reporting metrics, flag evaluation). */
export type RouteAccess = Guard | 'open';

const params = (request: FastifyRequest) => (request.params ?? {}) as Record<string, string | undefined>;
const environmentParam = (action: Action): Guard => (request) => ({ action, environment: params(request).environment, ...appParam(request) });
const appParam = (request: FastifyRequest): { app?: string } => {
  const { app } = params(request);
  return app === undefined ? {} : { app };
};
const manageTokens: Guard = () => ({ action: 'token.manage', environment: undefined, anywhere: true });

/**
 * The state-changing routes of the API, keyed by method and URL pattern, so the route files need no
 * change; a route may instead carry `config: { access }`. A write under /api that is in neither place is
 * refused (fail closed), and the access test lists every route to keep this table complete.
 */
const ROUTES: Record<string, RouteAccess> = {
  'POST /api/deploy': (request) => {
    // the body is not validated yet: a non-string environment gets the strictest reading, the schema refuses it next
    const body = request.body as { environment?: unknown; overrideFreeze?: unknown } | undefined;
    const environment = typeof body?.environment === 'string' ? body.environment : undefined;
    return { action: body?.overrideFreeze === undefined ? 'deploy' : 'freeze.override', environment };
  },
  'POST /api/environments/:environment/pause': environmentParam('pause'),
  'POST /api/environments/:environment/resume': environmentParam('resume'),
  'POST /api/environments/:environment/abort': environmentParam('abort'),
  'POST /api/environments/:environment/retry': environmentParam('retry'),
  'POST /api/environments/:environment/promote': environmentParam('promote'),
  'POST /api/environments/:environment/rollback': environmentParam('rollback'),
  'POST /api/rollouts/:id/approvals': async (request, pool) => {
    // params are not validated yet: a malformed id approves nothing, the schema refuses it next
    const id = Number(params(request).id);
    const rollout = Number.isSafeInteger(id) && id > 0 ? await getRollout(pool, id) : undefined;
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
  'PUT /api/apps/:app/segments/:name': (request) => ({ action: 'flag.write', environment: undefined, ...appParam(request) }),
  'DELETE /api/apps/:app/segments/:name': (request) => ({ action: 'flag.write', environment: undefined, ...appParam(request) }),
  'GET /api/tokens': manageTokens,
  'POST /api/tokens': manageTokens,
  'DELETE /api/tokens/:id': manageTokens,
  // signing in and out: the authentication hook checks the token itself
  'POST /api/session': 'open',
  'DELETE /api/session': 'open',
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
}

/** The caller's bindings; a request the authentication hook let through without identifying (public routes) has none. */
const bindingsOf = (caller: Caller): readonly RoleBinding[] => caller.bindings ?? [];

function headerOf(request: FastifyRequest): string | string[] | undefined {
  return request.headers[ROLE_HEADER];
}

/** The role where the caller acts (lowered by x-promote-role), or undefined: none there. Throws RoleHeaderError. */
export function roleWhere(spec: PromoteSpec, request: FastifyRequest, app: string, environment: string | undefined): Role | undefined {
  const bound = roleFor(bindingsOf(callerOf(request)), app, actingIn(spec, environment));
  return bound === undefined ? undefined : effectiveRole(bound, headerOf(request));
}

function refuseBadHeader(problem: unknown, reply: FastifyReply): FastifyReply {
  if (!(problem instanceof RoleHeaderError)) throw problem;
  return reply.status(400).send({ error: problem.message });
}

const unclassified = new WeakMap<FastifyInstance, string[]>();

/** State-changing API routes registered after registerAccess that the check cannot classify (refused with 403); the access test keeps this empty. */
export function unclassifiedRoutes(app: FastifyInstance): string[] {
  return [...(unclassified.get(app) ?? [])];
}

/** Routes anyone identified may call whatever their roles: who am I, sign out. */
const UNSCOPED = new Set(['GET /api/me', 'POST /api/session', 'DELETE /api/session']);

/** Registers GET /api/me and the check every route passes (before validation); call after registerAuth and before registering routes. */
export function registerAccess(app: FastifyInstance, options: AccessOptions): void {
  const { spec, pool } = options;
  const missing: string[] = [];
  unclassified.set(app, missing);
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) {
      if (needsAccess(method, route.url) && !routeAccess(method, route.url, route.config)) missing.push(`${method} ${route.url}`);
    }
  });

  // before validation: a caller without the role learns nothing from a body's schema errors
  app.addHook('preValidation', async (request, reply) => {
    const url = request.routeOptions.url ?? '';
    const method = request.method;
    const caller = callerOf(request);
    // public routes (health, the dashboard's files, flag SDKs) carry no identity: nothing to scope
    if (caller.bindings === undefined || UNSCOPED.has(`${method} ${url}`)) return;
    const access = routeAccess(method, url, request.routeOptions.config);
    if (access !== undefined && access !== 'open') return checkAction(request, reply, access);
    if (access === undefined && needsAccess(method, url)) {
      return reply.status(403).send({ error: `${method} ${url} is not classified by the access check, so it is refused`, hint: 'a Promote bug: add the route to src/server/access.ts' });
    }
    // a read, or an app's own report: any role in the app (and in the environment, when the URL names one) will do
    const { app: appName = spec.app.name, environment } = params(request);
    const bindings = bindingsOf(caller);
    const scoped = environment === undefined ? bindings.some((binding) => binding.app === ANY || binding.app === appName) : roleFor(bindings, appName, environment) !== undefined;
    if (scoped) return;
    return reply.status(403).send({ error: `${caller.actor} has no role in ${appName}${environment === undefined ? '' : `/${environment}`}`, hint: `the token's roles: ${describeBindings(bindings)}` });
  });

  async function checkAction(request: FastifyRequest, reply: FastifyReply, guard: Guard): Promise<FastifyReply | undefined> {
    const { action, environment, app: appName = spec.app.name, anywhere } = await guard(request, pool);
    const caller = callerOf(request);
    const bound = anywhere ? highestRole(bindingsOf(caller).map((binding) => binding.role)) : roleFor(bindingsOf(caller), appName, actingIn(spec, environment));
    let role: Role | undefined;
    try {
      role = bound === undefined ? undefined : effectiveRole(bound, headerOf(request));
    } catch (problem) {
      return refuseBadHeader(problem, reply);
    }
    if (role !== undefined && can(spec, role, action, environment)) return undefined;
    const where = `${appName === spec.app.name ? '' : `${appName}/`}${environment ?? 'every environment'}`;
    const roles = describeBindings(bindingsOf(caller));
    return reply.status(403).send({
      error: role === undefined ? `${caller.actor} has no role in ${appName}${environment === undefined ? '' : `/${environment}`}, so may not ${action}` : `role ${role} may not ${action} in ${where}`,
      hint:
        role !== bound
          ? `you view as ${role} (${ROLE_HEADER}); your roles: ${roles}`
          : caller.via === 'none'
            ? `the server gives its callers the role ${roles} (promote server --role); ${rolesThatCan(spec, action, environment)} may`
            : `${caller.actor}'s roles: ${roles}; ${rolesThatCan(spec, action, environment)} may`,
    });
  }

  app.get(
    '/api/me',
    {
      schema: {
        summary: "Who the caller is, its roles (lowered by x-promote-role) and what it may do per environment of this server's app",
        response: {
          200: meSchema,
          400: { type: 'object', properties: { error: { type: 'string' } }, required: ['error'] },
          403: { type: 'object', properties: { error: { type: 'string' }, hint: { type: 'string' } }, required: ['error'] },
        },
      },
    },
    (request, reply) => {
      try {
        const me = describeCaller(spec, request);
        if (me === undefined) {
          const caller = callerOf(request);
          return reply.status(403).send({ error: `${caller.actor} has no role in ${spec.app.name}`, hint: `the token's roles: ${describeBindings(bindingsOf(caller))}` });
        }
        return me;
      } catch (problem) {
        return refuseBadHeader(problem, reply);
      }
    },
  );
}

export const meSchema = {
  type: 'object',
  properties: {
    actor: { type: 'string' },
    via: { type: 'string', enum: ['token', 'session', 'none'] },
    role: { type: 'string', enum: ROLES, description: 'the highest role the caller acts with in this app (after x-promote-role)' },
    serverRole: { type: 'string', enum: ROLES, description: 'the highest role the caller holds in this app (before x-promote-role)' },
    roles: { type: 'array', items: { type: 'string', enum: ROLES }, description: 'the roles the caller may view as' },
    grants: { type: 'array', items: { type: 'string' }, description: 'the bindings held, as role[:app[/environment]]' },
    can: { type: 'object', additionalProperties: { type: 'array', items: { type: 'string', enum: ACTIONS } } },
  },
  required: ['actor', 'via', 'role', 'serverRole', 'roles', 'grants', 'can'],
} as const;

export interface Me {
  actor: string;
  via: Caller['via'];
  role: Role;
  serverRole: Role;
  roles: Role[];
  grants: string[];
  can: Record<string, Action[]>;
}

/** What /api/me answers for the request's caller; undefined when it holds no role in the app. Throws RoleHeaderError. */
export function describeCaller(spec: PromoteSpec, request: FastifyRequest): Me | undefined {
  const caller = callerOf(request);
  const bindings = bindingsOf(caller);
  const app = spec.app.name;
  const held = spec.environments.map((environment) => roleFor(bindings, app, environment.name)).filter((role): role is Role => role !== undefined);
  if (held.length === 0) return undefined;
  const highest = highestRole(held)!;
  const can = Object.fromEntries(
    spec.environments.map((environment) => {
      const role = roleWhere(spec, request, app, environment.name);
      return [environment.name, role === undefined ? [] : allowedActions(spec, role, environment.name)];
    }),
  );
  return {
    actor: caller.actor,
    via: caller.via,
    role: effectiveRole(highest, headerOf(request)),
    serverRole: highest,
    roles: ROLES.filter((role) => roleRank(role) <= roleRank(highest)),
    grants: bindings.map(formatBinding),
    can,
  };
}

function highestRole(roles: readonly Role[]): Role | undefined {
  return roles.reduce<Role | undefined>((best, role) => (best === undefined || roleRank(role) > roleRank(best) ? role : best), undefined);
}

/** Where a change acts for the role check: its environment, or for an app-wide change production, which it reaches. */
function actingIn(spec: PromoteSpec, environment: string | undefined): string {
  return environment ?? spec.environments.at(-1)?.name ?? ANY;
}

const describeBindings = (bindings: readonly RoleBinding[]): string => (bindings.length === 0 ? 'none' : bindings.map(formatBinding).join(', '));

function rolesThatCan(spec: PromoteSpec, action: Action, environment: string | undefined): string {
  return ROLES.filter((role) => can(spec, role, action, environment)).join(' or ');
}
