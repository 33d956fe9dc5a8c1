import type { FastifyRequest } from 'fastify';
import type { RoleBinding } from '../auth/bindings.js';

/** The header a caller without authentication may use to name itself in the audit trail. */
export const ACTOR_HEADER = 'x-promote-actor';
const UNNAMED = 'api';

export interface Caller {
  /** who, as recorded in events and approvals: the token's name, or without authentication the x-promote-actor header ("api" when absent) */
  actor: string;
  /** how the caller proved who it is: a bearer token, the dashboard's session cookie, or nothing (authentication off) */
  via: 'token' | 'session' | 'none';
  /** the API token used, when there was one */
  tokenId?: number;
  /** the roles the caller holds: the token's, or without authentication the server's role everywhere; unset outside a server with the access check */
  bindings?: readonly RoleBinding[];
}

const callers = new WeakMap<FastifyRequest, Caller>();

/** Set once per request by the authentication hook. */
export function setCaller(request: FastifyRequest, caller: Caller): void {
  callers.set(request, caller);
}

/**
 * Who made this request. With authentication the name comes from the token and no header can change
 * it; without, the caller names itself (and the audit trail says it was not authenticated).
 */
export function callerOf(request: FastifyRequest): Caller {
  const known = callers.get(request);
  if (known) return known;
  const header = request.headers[ACTOR_HEADER];
  const named = (Array.isArray(header) ? header[0] : header)?.trim();
  return { actor: named ? named.slice(0, 200) : UNNAMED, via: 'none' };
}
