import { UsageError } from '../errors.js';

/**
 * Roles, and the bindings a token carries: a role in an app and an environment, either of which may
 * be '*'. A caller's role where it acts is the highest binding that matches; a token bound to nothing
 * there has no role there at all.
 */
export const ROLES = ['viewer', 'operator', 'approver', 'admin'] as const;
export type Role = (typeof ROLES)[number];
export const ANY = '*';

export interface RoleBinding {
  role: Role;
  /** an app name or '*' */
  app: string;
  /** an environment name or '*' */
  environment: string;
}

export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
}

export const roleRank = (role: Role): number => ROLES.indexOf(role);

export function lowerRole(a: Role, b: Role): Role {
  return roleRank(a) <= roleRank(b) ? a : b;
}

const NAME = /^(\*|[a-z0-9][a-z0-9._-]{0,62})$/i;

/** `admin`, `operator:orders`, `operator:orders/staging`, `viewer:*\/production`. */
export function parseBinding(text: string, where = '--role'): RoleBinding {
  const match = /^([a-z]+)(?::([^/\s]+)(?:\/(\S+))?)?$/.exec(text.trim());
  const expected = `expected <role>[:<app>[/<environment>]], for example admin, operator:orders or operator:orders/staging (roles: ${ROLES.join(', ')}; * for any app or environment)`;
  if (!match) throw new UsageError(`${where} ${JSON.stringify(text)}: ${expected}`);
  const [, role, app = ANY, environment = ANY] = match;
  if (!isRole(role)) throw new UsageError(`${where} ${JSON.stringify(text)}: unknown role "${role}"; ${expected}`);
  for (const [label, value] of [['app', app], ['environment', environment]] as const) {
    if (!NAME.test(value)) throw new UsageError(`${where} ${JSON.stringify(text)}: "${value}" is not an ${label} name; ${expected}`);
  }
  return { role, app, environment };
}

export function formatBinding(binding: RoleBinding): string {
  if (binding.app === ANY && binding.environment === ANY) return binding.role;
  return `${binding.role}:${binding.app}${binding.environment === ANY ? '' : `/${binding.environment}`}`;
}

const matches = (pattern: string, value: string): boolean => pattern === ANY || pattern === value;

/** The highest role the bindings give in this app and environment, or undefined: none there. */
export function roleFor(bindings: readonly RoleBinding[], app: string, environment: string): Role | undefined {
  let best: Role | undefined;
  for (const binding of bindings) {
    if (!matches(binding.app, app) || !matches(binding.environment, environment)) continue;
    if (best === undefined || roleRank(binding.role) > roleRank(best)) best = binding.role;
  }
  return best;
}

/** Whether the bindings give any role at all in the app (in some environment). */
export function hasAnyRoleIn(bindings: readonly RoleBinding[], app: string): boolean {
  return bindings.some((binding) => matches(binding.app, app));
}

/**
 * Whether someone holding `holder` may grant (or revoke) `wanted`: an admin binding whose scope
 * contains the wanted scope. So an admin of orders/staging can hand out roles in orders/staging only,
 * and nobody can create a token worth more than their own.
 */
export function mayGrant(holder: readonly RoleBinding[], wanted: RoleBinding): boolean {
  return holder.some(
    (binding) =>
      binding.role === 'admin' &&
      (binding.app === ANY || binding.app === wanted.app) &&
      (binding.environment === ANY || binding.environment === wanted.environment),
  );
}
