/**
 * Every API call that asks to change state is an event in the audit trail (issue 11): one `api.call`
 * event per POST/PUT/PATCH/DELETE under /api that a route answered, whatever the status (a 401 or 403
 * refusal and a 400 are evidence too). The event says who (callerOf), how they proved it, from where,
 * which route with which path parameters, the status, and the body's `reason` when it gave one. A call
 * refused with 401 is recorded as `unauthenticated`, the name it claimed beside it as `claimedActor`.
 *
 * Never recorded: the rest of the body (a sign-in's token, a flag's definition: the state change's own
 * event carries what changed) and any header (Authorization, cookies). Strings pass through
 * redactSecrets, so a database URL with a password in a path parameter is masked.
 *
 * Not recorded either: a 401 to a call that presented no credentials at all, and a 429 (an address
 * turned away after repeated failures). Anyone can send those without end; recording each would let
 * an anonymous flood grow the trail and queue behind its lock. A call with a wrong token is recorded,
 * and an address gets at most 10 of those a minute before its 429s.
 *
 * Not recorded: what apps and their SDKs report (POST /api/metrics, /api/client/*, POST /feedback):
 * data, not operator actions, sent by every instance many times a minute. A path no route matches is
 * not recorded either: it changed nothing and has no route pattern to name.
 *
 * The event is appended in onSend, before the answer leaves: once a caller sees its answer, the call
 * is in the trail. The status is decided by then, so a failed append cannot change the answer; it is
 * logged with the event that was lost.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type pg from 'pg';
import { redactSecrets } from '../errors.js';
import { createLogger, type Logger } from '../log.js';
import { appendEvent, type EventInput } from '../store/index.js';
import { callerOf } from './caller.js';

export interface CallAuditOptions {
  pool: pg.Pool;
  /** the app the server serves: the event's app when the route names none */
  app?: string;
  /** where a failed append is reported; default a logger on stderr */
  log?: Pick<Logger, 'error'>;
}

const WRITES = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
/** Reported data, not operator actions (see the header). */
const NOT_RECORDED = [/^\/api\/metrics$/, /^\/api\/client(\/|$)/];
const MAX_TEXT = 1000;
/** The actor of a call refused with 401: whoever it was, they did not prove it. */
export const UNAUTHENTICATED = 'unauthenticated';

/** Whether a call of this method on this route pattern is recorded as an `api.call` event. */
export function recordsCall(method: string, route: string | undefined): route is string {
  if (!WRITES.has(method) || route === undefined || !route.startsWith('/api/')) return false;
  return !NOT_RECORDED.some((pattern) => pattern.test(route));
}

/** NUL and lone surrogates: PostgreSQL cannot store the first, and the second would not read back as hashed. */
// eslint-disable-next-line no-control-regex -- matching NUL is the point
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

function text(value: string): string {
  const masked = redactSecrets(value);
  // cut first: a cut can split a surrogate pair, which the replacement then mends
  return (masked.length > MAX_TEXT ? `${masked.slice(0, MAX_TEXT)}…` : masked).replace(UNSTORABLE, '\uFFFD');
}

/** What the trail says about one answered call: no body but its reason, no header. */
export function callEvent(request: FastifyRequest, status: number, serverApp: string | undefined): EventInput {
  const route = request.routeOptions.url ?? '';
  const caller = callerOf(request);
  const params: Record<string, string> = {};
  for (const [name, value] of Object.entries((request.params ?? {}) as Record<string, unknown>)) {
    // a params schema may have coerced a value (an id to a number): recorded as the text it came as
    if (typeof value === 'string' || typeof value === 'number') params[name] = text(String(value));
  }
  const body = request.body as { reason?: unknown } | undefined;
  const reason = body !== null && typeof body === 'object' && typeof body.reason === 'string' && body.reason.trim() !== '' ? text(body.reason.trim()) : undefined;
  // refused for want of credentials: the name it gave (x-promote-actor) is a claim nobody checked
  const unauthenticated = status === 401 && caller.via === 'none';
  return {
    type: 'api.call',
    actor: unauthenticated ? UNAUTHENTICATED : text(caller.actor),
    app: params.app ?? serverApp ?? null,
    environment: params.environment ?? null,
    data: {
      method: request.method,
      route,
      params,
      status,
      via: caller.via,
      ...(caller.tokenId === undefined ? {} : { tokenId: caller.tokenId }),
      remoteAddress: request.ip,
      ...(unauthenticated ? { claimedActor: text(caller.actor) } : {}),
      ...(reason === undefined ? {} : { reason }),
    },
  };
}

/** Registers the hook; call before the routes, so every route (plugins' too) passes through it. */
/** Refusals anyone could send without end (see the header): nothing presented, or already turned away. */
function anonymousNoise(request: FastifyRequest, status: number): boolean {
  if (status === 429) return true;
  return status === 401 && request.headers.authorization === undefined && !/(^|;\s*)promote_session=/.test(String(request.headers.cookie ?? ''));
}

export function registerCallAudit(app: FastifyInstance, options: CallAuditOptions): void {
  let log = options.log;
  app.addHook('onSend', async (request, reply, payload) => {
    if (!recordsCall(request.method, request.routeOptions.url) || anonymousNoise(request, reply.statusCode)) return payload;
    let event: EventInput | undefined;
    try {
      event = callEvent(request, reply.statusCode, options.app);
      await appendEvent(options.pool, event);
    } catch (error) {
      // the answer stands (the state change, if any, is committed or refused already); say what the trail lacks
      log ??= createLogger();
      log.error(
        { err: error, lost: event ?? { type: 'api.call', method: request.method, route: request.routeOptions.url, status: reply.statusCode } },
        `recording API call ${request.method} ${request.routeOptions.url ?? ''} (status ${reply.statusCode}) in the audit trail failed; the call was answered but is missing from the trail`,
      );
    }
    return payload;
  });
}
