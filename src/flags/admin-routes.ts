import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type pg from 'pg';
import { ExitCode, PromoteError, redactSecrets } from '../errors.js';
import { checkDuration } from '../spec/duration.js';
import {
  archiveFlag,
  cancelSchedule,
  deleteSegment,
  disableFlag,
  enableFlag,
  flagHistory,
  FlagNotFoundError,
  FlagValidationError,
  getSegment,
  listFlags,
  listSchedules,
  listSegments,
  putFlag,
  putSegment,
  requireFlag,
  scheduleFlagChange,
  segmentHistory,
  setFlagRollout,
  setVariantWeights,
  staleFlags,
  type ChangeOptions,
  type FlagWrite,
  type ScheduleStatus,
} from './store.js';
import type { FlagScope } from './source.js';
import { callerOf } from '../server/caller.js';

export interface FlagAdminOptions {
  pool: pg.Pool;
}

/** Until tokens and roles exist, callers name themselves; the name goes into the history and audit trail. */

const name = { type: 'string', pattern: '^[a-z][a-z0-9-]{0,62}$' } as const;
const flagName = { type: 'string', pattern: '^[A-Za-z0-9._-]{1,100}$' } as const;
const error = {
  type: 'object',
  properties: { error: { type: 'string' }, hint: { type: 'string' }, problems: { type: 'array', items: { type: 'object', properties: { field: { type: 'string' }, message: { type: 'string' } }, required: ['field', 'message'] } } },
  required: ['error'],
} as const;
const errors = { 400: error, 404: error, 409: error } as const;
const anyObject = { type: 'object', additionalProperties: true } as const;
const nullableObject = { type: ['object', 'null'], additionalProperties: true } as const;
const time = { type: 'string', format: 'date-time' } as const;

const flag = {
  type: 'object',
  properties: { app: { type: 'string' }, environment: { type: 'string' }, name: { type: 'string' }, definition: anyObject, version: { type: 'integer' }, archived: { type: 'boolean' }, createdBy: { type: 'string' }, createdAt: time, updatedBy: { type: 'string' }, updatedAt: time },
  required: ['app', 'environment', 'name', 'definition', 'version', 'archived', 'createdAt', 'updatedAt'],
} as const;
const changeProperties = {
  id: { type: 'integer' },
  app: { type: 'string' },
  environment: { type: ['string', 'null'] },
  subject: { type: 'string', enum: ['flag', 'segment'] },
  name: { type: 'string' },
  action: { type: 'string' },
  actor: { type: 'string' },
  reason: { type: ['string', 'null'] },
  before: nullableObject,
  after: nullableObject,
  diff: { type: 'array', items: { type: 'string' } },
  version: { type: ['integer', 'null'] },
  scheduleId: { type: ['integer', 'null'] },
  createdAt: time,
} as const;
const change = { type: 'object', properties: changeProperties, required: ['id', 'action', 'actor', 'diff', 'createdAt'] } as const;
const write = { type: 'object', properties: { flag, change: { ...change, type: ['object', 'null'] } }, required: ['flag', 'change'] } as const;
const segment = {
  type: 'object',
  properties: { id: { type: 'integer' }, app: { type: 'string' }, name: { type: 'string' }, description: { type: ['string', 'null'] }, constraints: { type: 'array', items: anyObject }, version: { type: 'integer' }, createdBy: { type: 'string' }, createdAt: time, updatedBy: { type: 'string' }, updatedAt: time },
  required: ['id', 'name', 'constraints', 'version'],
} as const;
const schedule = {
  type: 'object',
  properties: { id: { type: 'integer' }, app: { type: 'string' }, environment: { type: 'string' }, flag: { type: 'string' }, applyAt: time, change: anyObject, createdBy: { type: 'string' }, reason: { type: ['string', 'null'] }, status: { type: 'string' }, error: { type: ['string', 'null'] }, finishedBy: { type: ['string', 'null'] }, finishedAt: { type: ['string', 'null'], format: 'date-time' }, createdAt: time },
  required: ['id', 'flag', 'applyAt', 'change', 'status'],
} as const;

const reason = { type: 'string', maxLength: 1000, description: 'why, for the history and the audit trail' } as const;
const expectedVersion = { type: 'integer', minimum: 0, description: 'the version you read; the change is refused (409) if the flag has moved on. 0: it must not exist yet' } as const;
const changeBody = (properties: Record<string, unknown> = {}, required: string[] = []) => ({ type: 'object', properties: { reason, expectedVersion, ...properties }, required, additionalProperties: false }) as const;

const scopeParams = { type: 'object', properties: { app: name, environment: name }, required: ['app', 'environment'], additionalProperties: false } as const;
const flagParams = { type: 'object', properties: { app: name, environment: name, name: flagName }, required: ['app', 'environment', 'name'], additionalProperties: false } as const;
const appParams = { type: 'object', properties: { app: name }, required: ['app'], additionalProperties: false } as const;
const segmentParams = { type: 'object', properties: { app: name, name: flagName }, required: ['app', 'name'], additionalProperties: false } as const;

type ChangeBody = { reason?: string; expectedVersion?: number };

function actorOf(request: FastifyRequest): string {
  return callerOf(request).actor;
}

function changeOptions(request: FastifyRequest): ChangeOptions {
  const body = (request.body ?? {}) as ChangeBody;
  return { actor: actorOf(request), ...(body.reason !== undefined ? { reason: body.reason } : {}), ...(body.expectedVersion !== undefined ? { expectedVersion: body.expectedVersion } : {}) };
}

const scopeOf = (request: FastifyRequest): FlagScope => request.params as FlagScope;
const nameOf = (request: FastifyRequest): string => (request.params as { name: string }).name;
const sendWrite = (reply: FastifyReply, written: FlagWrite) => reply.status(written.change?.action === 'created' ? 201 : 200).send(written);

/** 400 with every bad field, 404 for what does not exist, 409 for a lost race or a refused change. */
function sendError(error: Error, reply: FastifyReply): FastifyReply {
  if (error instanceof FlagValidationError) return reply.status(400).send({ error: error.message, problems: error.problems.map(({ field, message }) => ({ field, message })) });
  // FlagNotFoundError carries 404 and FlagConflictError 409; an error from elsewhere keeps the status it gives (403, 423…)
  if (error instanceof PromoteError) {
    const status = error.status ?? (error.exitCode === ExitCode.usage ? 400 : 409);
    return reply.status(status).send({ error: redactSecrets(error.message), ...(error.hint ? { hint: redactSecrets(error.hint) } : {}) });
  }
  const validation = (error as { validation?: unknown }).validation;
  if (validation) return reply.status(400).send({ error: error.message });
  const statusCode = (error as { statusCode?: number }).statusCode;
  if (statusCode && statusCode < 500) return reply.status(statusCode).send({ error: error.message });
  return reply.status(500).send({ error: `unexpected failure: ${redactSecrets(error.message)}` });
}

/**
 * The flag admin API: flags per app and environment, segments per app, history, schedules and stale
 * flags. A Fastify plugin with its own error handler; register it with `app.register(flagAdminRoutes, { pool })`.
 */
export function flagAdminRoutes(app: FastifyInstance, options: FlagAdminOptions): Promise<void> {
  const { pool } = options;
  app.setErrorHandler((caught, _request, reply) => sendError(caught as Error, reply));
  // a change without a reason needs no body at all: `curl -X POST …/enable`
  app.addHook('preValidation', (request, _reply, done) => {
    if (request.body === undefined && (request.method === 'POST' || request.method === 'DELETE')) request.body = {};
    done();
  });
  const flags = '/api/apps/:app/environments/:environment/flags';

  app.get(flags, {
    schema: { summary: "An environment's flags, by name", params: scopeParams, querystring: { type: 'object', properties: { archived: { type: 'boolean', default: false } }, additionalProperties: false }, response: { 200: { type: 'array', items: flag }, ...errors } },
  }, async (request) => listFlags(pool, scopeOf(request), { includeArchived: (request.query as { archived: boolean }).archived }));

  app.get(`${flags}/:name`, { schema: { summary: 'One flag as stored (archived ones too)', params: flagParams, response: { 200: flag, ...errors } } }, async (request) => requireFlag(pool, scopeOf(request), nameOf(request), { allowArchived: true }));

  app.put(`${flags}/:name`, {
    schema: {
      summary: 'Create or replace a flag (validated; 201 when created, change null when nothing changed)',
      params: flagParams,
      body: changeBody({ flag: { ...anyObject, description: 'the flag in the admin format (as in promote.yaml flags:)' } }, ['flag']),
      response: { 200: write, 201: write, ...errors },
    },
  }, async (request, reply) => sendWrite(reply, await putFlag(pool, scopeOf(request), (request.body as { flag: unknown }).flag, { ...changeOptions(request), name: nameOf(request) })));

  app.delete(`${flags}/:name`, { schema: { summary: 'Archive a flag: SDKs no longer see it; its history stays; a put restores it', params: flagParams, body: changeBody(), response: { 200: write, ...errors } } }, async (request, reply) =>
    sendWrite(reply, await archiveFlag(pool, scopeOf(request), nameOf(request), changeOptions(request))));

  app.post(`${flags}/:name/enable`, { schema: { summary: 'Turn a flag on', params: flagParams, body: changeBody(), response: { 200: write, ...errors } } }, async (request, reply) => sendWrite(reply, await enableFlag(pool, scopeOf(request), nameOf(request), changeOptions(request))));
  app.post(`${flags}/:name/disable`, { schema: { summary: 'Turn a flag off', params: flagParams, body: changeBody(), response: { 200: write, ...errors } } }, async (request, reply) => sendWrite(reply, await disableFlag(pool, scopeOf(request), nameOf(request), changeOptions(request))));

  app.post(`${flags}/:name/rollout`, {
    schema: { summary: "Set the percentage of the flag's flexibleRollout (added when missing)", params: flagParams, body: changeBody({ percent: { type: 'integer', minimum: 0, maximum: 100 } }, ['percent']), response: { 200: write, ...errors } },
  }, async (request, reply) => sendWrite(reply, await setFlagRollout(pool, scopeOf(request), nameOf(request), (request.body as { percent: number }).percent, changeOptions(request))));

  app.post(`${flags}/:name/variants`, {
    schema: {
      summary: 'Set variant weights (out of 1000); unnamed variants keep theirs, new names are added',
      params: flagParams,
      body: changeBody({ weights: { type: 'object', minProperties: 1, additionalProperties: { type: 'integer', minimum: 0, maximum: 1000 } } }, ['weights']),
      response: { 200: write, ...errors },
    },
  }, async (request, reply) => sendWrite(reply, await setVariantWeights(pool, scopeOf(request), nameOf(request), (request.body as { weights: Record<string, number> }).weights, changeOptions(request))));

  app.get(`${flags}/:name/history`, {
    schema: { summary: "A flag's changes, newest first: who, when, why, before, after and the changed paths", params: flagParams, querystring: { type: 'object', properties: { limit: { type: 'integer', minimum: 1, maximum: 10_000, default: 100 } }, additionalProperties: false }, response: { 200: { type: 'array', items: change }, ...errors } },
  }, async (request) => flagHistory(pool, scopeOf(request), nameOf(request), { limit: (request.query as { limit: number }).limit }));

  app.post(`${flags}/:name/schedules`, {
    schema: {
      summary: 'Schedule a change of the flag: enable, disable, rollout, variants, put or archive at a time',
      params: flagParams,
      body: { type: 'object', properties: { applyAt: time, change: { ...anyObject, required: ['action'] }, reason }, required: ['applyAt', 'change'], additionalProperties: false },
      response: { 201: schedule, ...errors },
    },
  }, async (request, reply) => {
    const body = request.body as { applyAt: string; change: unknown; reason?: string };
    const created = await scheduleFlagChange(pool, scopeOf(request), { flag: nameOf(request), applyAt: new Date(body.applyAt), change: body.change, actor: actorOf(request), ...(body.reason !== undefined ? { reason: body.reason } : {}) });
    return reply.status(201).send(created);
  });

  app.get('/api/apps/:app/environments/:environment/schedules', {
    schema: {
      summary: "An environment's scheduled flag changes, by time",
      params: scopeParams,
      querystring: { type: 'object', properties: { flag: flagName, status: { type: 'string', enum: ['pending', 'applied', 'cancelled', 'failed'] } }, additionalProperties: false },
      response: { 200: { type: 'array', items: schedule }, ...errors },
    },
  }, async (request) => {
    const query = request.query as { flag?: string; status?: ScheduleStatus };
    return listSchedules(pool, scopeOf(request), { ...(query.flag ? { flag: query.flag } : {}), ...(query.status ? { status: query.status } : {}) });
  });

  app.delete('/api/apps/:app/environments/:environment/schedules/:id', {
    schema: { summary: 'Cancel a pending scheduled change', params: { type: 'object', properties: { app: name, environment: name, id: { type: 'integer', minimum: 1 } }, required: ['app', 'environment', 'id'], additionalProperties: false }, body: { type: 'object', properties: { reason }, additionalProperties: false }, response: { 200: schedule, ...errors } },
  }, async (request) => cancelSchedule(pool, scopeOf(request), (request.params as { id: number }).id, changeOptions(request)));

  app.get('/api/apps/:app/stale-flags', {
    schema: {
      summary: 'Flags unchanged for a while that are fully on or fully off: candidates for removal from the code',
      params: appParams,
      querystring: { type: 'object', properties: { environment: name, unchangedFor: { type: 'string', default: '30d', description: 'a duration: 12h, 30d' } }, additionalProperties: false },
      response: { 200: { type: 'array', items: { type: 'object', properties: { flag, state: { type: 'string', enum: ['on', 'off'] }, unchangedForMs: { type: 'integer' } }, required: ['flag', 'state', 'unchangedForMs'] } }, ...errors },
    },
  }, async (request, reply) => {
    const query = request.query as { environment?: string; unchangedFor: string };
    const duration = checkDuration(query.unchangedFor);
    if (!duration.ok) return reply.status(400).send({ error: `unchangedFor: ${duration.problem}` });
    return staleFlags(pool, { app: (request.params as { app: string }).app, unchangedForMs: duration.ms, ...(query.environment ? { environment: query.environment } : {}) });
  });

  const segments = '/api/apps/:app/segments';
  app.get(segments, { schema: { summary: "The app's segments, by name", params: appParams, response: { 200: { type: 'array', items: segment }, ...errors } } }, async (request) => listSegments(pool, (request.params as { app: string }).app));

  app.get(`${segments}/:name`, { schema: { summary: 'One segment', params: segmentParams, response: { 200: segment, ...errors } } }, async (request) => {
    const { app: appName, name: segmentName } = request.params as { app: string; name: string };
    const found = await getSegment(pool, appName, segmentName);
    if (!found) throw new FlagNotFoundError(`app ${appName} has no segment "${segmentName}"`);
    return found;
  });

  app.put(`${segments}/:name`, {
    schema: {
      summary: 'Create or replace a segment (constraints validated as a strategy’s); every environment of the app gets a new revision',
      params: segmentParams,
      body: changeBody({ segment: anyObject }, ['segment']),
      response: { 200: { type: 'object', properties: { segment, change: { ...change, type: ['object', 'null'] } }, required: ['segment', 'change'] }, 201: { type: 'object', properties: { segment, change }, required: ['segment', 'change'] }, ...errors },
    },
  }, async (request, reply) => {
    const { app: appName, name: segmentName } = request.params as { app: string; name: string };
    const written = await putSegment(pool, appName, (request.body as { segment: unknown }).segment, { ...changeOptions(request), name: segmentName });
    return reply.status(written.change?.action === 'created' ? 201 : 200).send(written);
  });

  app.delete(`${segments}/:name`, { schema: { summary: 'Delete a segment no flag uses (409 naming the flags that still do)', params: segmentParams, body: changeBody(), response: { 200: change, ...errors } } }, async (request) => {
    const { app: appName, name: segmentName } = request.params as { app: string; name: string };
    return deleteSegment(pool, appName, segmentName, changeOptions(request));
  });

  app.get(`${segments}/:name/history`, {
    schema: { summary: "A segment's changes, newest first", params: segmentParams, querystring: { type: 'object', properties: { limit: { type: 'integer', minimum: 1, maximum: 10_000, default: 100 } }, additionalProperties: false }, response: { 200: { type: 'array', items: change }, ...errors } },
  }, async (request) => {
    const { app: appName, name: segmentName } = request.params as { app: string; name: string };
    return segmentHistory(pool, appName, segmentName, { limit: (request.query as { limit: number }).limit });
  });
  return Promise.resolve();
}
