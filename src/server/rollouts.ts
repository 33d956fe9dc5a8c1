import type { FastifyInstance } from 'fastify';
import { approveRollout } from '../engine/approvals.js';
import { sendCommand } from '../engine/commands.js';
import { startRollout } from '../engine/start.js';
import { listMeasurements } from '../store/analysis.js';
import { APPROVAL_DECISIONS, getRollout, listApprovals, listEvents, listRollouts, type ApprovalDecision } from '../store/index.js';
import type { ServerOptions } from './app.js';
import { ACTOR_HEADER, callerOf } from './caller.js';

const rollout = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    app: { type: 'string' },
    environment: { type: 'string' },
    releaseId: { type: 'integer' },
    stableReleaseId: { type: ['integer', 'null'] },
    phase: { type: 'string', enum: ['Pending', 'Progressing', 'Paused', 'Healthy', 'Degraded', 'RolledBack', 'Aborted'] },
    phaseReason: { type: ['string', 'null'] },
    currentStep: { type: 'integer' },
    weights: { type: 'object', additionalProperties: { type: 'number' } },
    createdBy: { type: ['string', 'null'] },
    createdAt: { type: 'string', format: 'date-time' },
    updatedAt: { type: 'string', format: 'date-time' },
  },
  required: ['id', 'app', 'environment', 'phase', 'currentStep', 'weights', 'createdAt'],
} as const;

const event = {
  type: 'object',
  properties: {
    seq: { type: 'integer' },
    type: { type: 'string' },
    actor: { type: 'string' },
    rolloutId: { type: ['integer', 'null'] },
    data: { type: 'object', additionalProperties: true },
    createdAt: { type: 'string', format: 'date-time' },
    hash: { type: 'string' },
  },
  required: ['seq', 'type', 'actor', 'data', 'createdAt', 'hash'],
} as const;

const measurement = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    actionId: { type: 'string' },
    template: { type: 'string' },
    seq: { type: 'integer' },
    takenAt: { type: 'string', format: 'date-time' },
    verdict: { type: 'string', enum: ['Successful', 'Failed', 'Inconclusive', 'NoData', 'Error'] },
    reason: { type: 'string' },
    dryRun: { type: 'boolean' },
    critical: { type: 'boolean' },
    candidate: { type: ['object', 'null'], additionalProperties: true },
    baseline: { type: ['object', 'null'], additionalProperties: true },
    statistics: { type: 'object', additionalProperties: true },
  },
  required: ['id', 'actionId', 'template', 'seq', 'takenAt', 'verdict', 'reason', 'statistics'],
} as const;

const approval = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    rolloutId: { type: 'integer' },
    attempt: { type: 'integer', description: 'the attempt of the rollout the vote was cast in: 1, then one more per retry' },
    stepIndex: { type: 'integer', description: 'the step voted on, counted from 0' },
    approver: { type: 'string' },
    decision: { type: 'string', enum: APPROVAL_DECISIONS },
    reason: { type: ['string', 'null'] },
    createdAt: { type: 'string', format: 'date-time' },
    expiresAt: { type: ['string', 'null'], format: 'date-time' },
  },
  required: ['id', 'rolloutId', 'attempt', 'stepIndex', 'approver', 'decision', 'createdAt'],
} as const;

const approvalReceipt = {
  type: 'object',
  properties: {
    approval,
    step: { type: 'integer', description: 'the approval step voted on, counted from 1' },
    required: { type: 'integer', description: 'how many different people the step needs' },
    approvals: { type: 'integer', description: 'valid approvals of the step now' },
    counted: { type: 'boolean', description: 'true for an approval (it counts until approval.expiresAt), false for a rejection' },
    message: { type: 'string' },
  },
  required: ['approval', 'step', 'required', 'approvals', 'counted', 'message'],
} as const;

const error = { type: 'object', properties: { error: { type: 'string' }, hint: { type: 'string' } }, required: ['error'] } as const;
const environmentName = { type: 'string', pattern: '^[a-z][a-z0-9-]{0,62}$' } as const;
const idParams = { type: 'object', properties: { id: { type: 'integer', minimum: 1 } }, required: ['id'], additionalProperties: false } as const;

// until tokens and roles exist (a later issue), the API serves loopback only and names its callers "api"

export function registerRolloutRoutes(app: FastifyInstance, options: ServerOptions): void {
  const appName = options.spec.app.name;

  app.get(
    '/api/rollouts',
    {
      schema: {
        summary: 'Rollouts, newest first',
        querystring: { type: 'object', properties: { environment: environmentName, limit: { type: 'integer', minimum: 1, maximum: 1000, default: 50 } }, additionalProperties: false },
        response: { 200: { type: 'array', items: rollout } },
      },
    },
    async (request) => {
      const query = request.query as { environment?: string; limit: number };
      return listRollouts(options.pool, { app: appName, limit: query.limit, ...(query.environment ? { environment: query.environment } : {}) });
    },
  );

  app.get(
    '/api/rollouts/:id/measurements',
    { schema: { summary: 'The analysis measurements of a rollout, oldest first: inputs, statistics and verdicts', params: idParams, response: { 200: { type: 'array', items: measurement }, 404: error } } },
    async (request, reply) => {
      const id = (request.params as { id: number }).id;
      const found = await getRollout(options.pool, id);
      if (!found || found.app !== appName) return reply.status(404).send({ error: `no rollout #${id}` });
      return listMeasurements(options.pool, id);
    },
  );

  app.get('/api/rollouts/:id', { schema: { summary: 'One rollout', params: idParams, response: { 200: rollout, 404: error } } }, async (request, reply) => {
    const found = await getRollout(options.pool, (request.params as { id: number }).id);
    if (!found || found.app !== appName) return reply.status(404).send({ error: `no rollout #${(request.params as { id: number }).id}` });
    return found;
  });

  app.get(
    '/api/rollouts/:id/events',
    { schema: { summary: 'The audit trail of a rollout', params: idParams, querystring: { type: 'object', properties: { after: { type: 'integer', minimum: 0 } }, additionalProperties: false }, response: { 200: { type: 'array', items: event } } } },
    async (request) => listEvents(options.pool, { rolloutId: (request.params as { id: number }).id, ...((request.query as { after?: number }).after !== undefined ? { afterSeq: (request.query as { after: number }).after } : {}) }),
  );

  app.get(
    '/api/rollouts/:id/approvals',
    { schema: { summary: 'The votes on the approval steps of a rollout, oldest first', params: idParams, response: { 200: { type: 'array', items: approval }, 404: error } } },
    async (request, reply) => {
      const id = (request.params as { id: number }).id;
      const found = await getRollout(options.pool, id);
      if (!found || found.app !== appName) return reply.status(404).send({ error: `no rollout #${id}` });
      return listApprovals(options.pool, id);
    },
  );

  app.post(
    '/api/rollouts/:id/approvals',
    {
      schema: {
        summary: "Vote on the approval step the rollout waits at; each person votes once per step; the person who started the rollout is refused (403), and with authentication the voter is the token's name",
        params: idParams,
        body: {
          type: 'object',
          properties: {
            approver: { type: 'string', minLength: 1, maxLength: 200, pattern: '\\S', description: 'who votes, when the server runs without authentication; with it the voter is the token\'s name and this field, if given, must match' },
            reason: { type: 'string', minLength: 1, maxLength: 1000, pattern: '\\S', description: 'why, for the audit trail' },
            decision: { type: 'string', enum: APPROVAL_DECISIONS, default: 'approved', description: 'a rejection is recorded as evidence; it does not stop the rollout (abort does)' },
          },
          required: ['reason'],
          additionalProperties: false,
        },
        response: { 201: approvalReceipt, 400: error, 403: error, 404: error, 409: error },
      },
    },
    async (request, reply) => {
      const body = request.body as { approver?: string; reason: string; decision: ApprovalDecision };
      const caller = callerOf(request);
      const named = body.approver?.trim();
      if (caller.via !== 'none' && named !== undefined && named !== caller.actor) {
        return reply.status(403).send({ error: `you are ${caller.actor} (by your ${caller.via}); you cannot vote as ${named}` });
      }
      // without authentication a vote names its voter, in the body or the actor header: "api" would make every voter one person
      const approver = caller.via !== 'none' ? caller.actor : (named ?? (request.headers[ACTOR_HEADER] !== undefined ? caller.actor : undefined));
      if (approver === undefined) return reply.status(400).send({ error: `body must name the approver (or send ${ACTOR_HEADER}): this server runs without authentication, so it cannot tell voters apart` });
      const receipt = await approveRollout(options.pool, { app: appName, rolloutId: (request.params as { id: number }).id, approver, reason: body.reason, decision: body.decision });
      return reply.status(201).send(receipt);
    },
  );

  app.post(
    '/api/deploy',
    {
      schema: {
        summary: 'Start a rollout of a recorded release to an environment',
        body: {
          type: 'object',
          properties: {
            version: { type: 'string', minLength: 1, maxLength: 128 },
            environment: environmentName,
            skipEnvironmentGate: { type: 'string', minLength: 1, description: 'why the promotion rule is skipped (recorded)' },
            overrideFreeze: { type: 'string', minLength: 1, maxLength: 1000, description: 'deploy although a freeze window holds the environment (admin); the reason is recorded as freeze.overridden' },
          },
          required: ['version', 'environment'],
          additionalProperties: false,
        },
        response: { 201: rollout, 400: error, 404: error, 409: error, 423: error },
      },
    },
    async (request, reply) => {
      const body = request.body as { version: string; environment: string; skipEnvironmentGate?: string; overrideFreeze?: string };
      const started = await startRollout(options.pool, {
        spec: options.spec,
        environment: body.environment,
        version: body.version,
        actor: callerOf(request).actor,
        ...(body.skipEnvironmentGate ? { skipEnvironmentGate: body.skipEnvironmentGate } : {}),
        ...(body.overrideFreeze !== undefined ? { overrideFreeze: body.overrideFreeze } : {}),
      });
      return reply.status(201).send(started);
    },
  );

  for (const kind of ['pause', 'resume', 'abort', 'promote', 'retry'] as const) {
    app.post(
      `/api/environments/:environment/${kind}`,
      {
        schema: {
          summary: `${kind} the environment's rollout`,
          params: { type: 'object', properties: { environment: environmentName }, required: ['environment'], additionalProperties: false },
          body: { type: 'object', properties: { reason: { type: 'string', maxLength: 1000 }, ...(kind === 'promote' ? { full: { type: 'boolean' } } : {}) }, additionalProperties: false },
          response: { 202: rollout, 404: error, 409: error },
        },
      },
      async (request, reply) => {
        const body = (request.body ?? {}) as { reason?: string; full?: boolean };
        const target = await sendCommand(options.pool, { app: appName, environment: (request.params as { environment: string }).environment, kind, actor: callerOf(request).actor, ...(body.reason ? { reason: body.reason } : {}), ...(body.full ? { full: true } : {}) });
        return reply.status(202).send(target);
      },
    );
  }
}
