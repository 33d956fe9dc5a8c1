import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import { freezeState } from '../engine/freeze.js';
import { describeStep, type PlannedStep, type RolloutPlan } from '../engine/plan.js';
import { startRollback } from '../engine/rollback.js';
import { parseCondition } from '../spec/condition.js';
import type { PromoteSpec } from '../spec/index.js';
import { appendEvent, getRollout, getTraffic, listEvents, type Rollout } from '../store/index.js';
import { isProduction } from './access.js';
import { callerOf } from './caller.js';
import { freezeSchemas } from './freeze.js';
import { rolloutView } from './stream.js';

/**
 * What the dashboard reads beyond the plain API: the overview of the environments, and a rollout with
 * everything needed to answer "where is it and why did it stop": its steps with their times, the flags
 * it touched, and the limits its analyses judge by (to draw on the charts).
 */
export interface DashboardOptions {
  pool: pg.Pool;
  spec: PromoteSpec;
}

const ACTIVE = ['Pending', 'Progressing', 'Paused'];
const FINISHED = ['Healthy', 'Degraded', 'RolledBack', 'Aborted'];
const environmentName = { type: 'string', pattern: '^[a-z][a-z0-9-]{0,62}$' } as const;
const anyObject = { type: 'object', additionalProperties: true } as const;
const nullableObject = { type: ['object', 'null'], additionalProperties: true } as const;

async function versionsOf(pool: pg.Pool, ids: number[]): Promise<Map<number, string>> {
  if (ids.length === 0) return new Map();
  const result = await pool.query<{ id: string; version: string }>('select id, version from promote.releases where id = any($1::bigint[])', [ids]);
  return new Map(result.rows.map((row) => [Number(row.id), row.version]));
}

/** The newest rollout per environment among those in `phases`. */
async function latestPer(pool: pg.Pool, app: string, phases: string[]): Promise<Map<string, Rollout>> {
  const result = await pool.query<{ id: string }>(
    'select distinct on (environment) id from promote.rollouts where app = $1 and phase = any($2::text[]) order by environment, id desc',
    [app, phases],
  );
  const rollouts = await Promise.all(result.rows.map((row) => getRollout(pool, Number(row.id))));
  return new Map(rollouts.filter((rollout): rollout is Rollout => rollout !== undefined).map((rollout) => [rollout.environment, rollout]));
}

export async function readOverview(pool: pg.Pool, spec: PromoteSpec) {
  const app = spec.app.name;
  const [healthy, active, finished] = await Promise.all([latestPer(pool, app, ['Healthy']), latestPer(pool, app, ACTIVE), latestPer(pool, app, FINISHED)]);
  const releaseIds = [...healthy.values(), ...active.values(), ...finished.values()].flatMap((rollout) => [rollout.releaseId, rollout.stableReleaseId ?? 0]);
  const versions = await versionsOf(pool, [...new Set(releaseIds)].filter((id) => id > 0));
  const withVersion = (rollout: Rollout | undefined) => (rollout ? { ...rolloutView(rollout), version: versions.get(rollout.releaseId) ?? null, stableVersion: rollout.stableReleaseId ? (versions.get(rollout.stableReleaseId) ?? null) : null } : null);
  const at = new Date();
  const environments = await Promise.all(
    spec.environments.map(async (environment) => {
      // the same answer as GET /api/environments/:environment/freeze; null without freeze windows
      const freeze = environment.freeze ? freezeState(environment, at) : undefined;
      const traffic = await getTraffic(pool, app, environment.name);
      const trafficVersions = (traffic?.config.versions ?? []) as Array<{ name: string; weight: number }>;
      const running = healthy.get(environment.name);
      return {
        name: environment.name,
        production: isProduction(spec, environment.name),
        strategy: environment.strategy,
        router: Boolean(environment.router),
        running: running ? { version: versions.get(running.releaseId) ?? null, rolloutId: running.id, since: running.updatedAt } : null,
        active: withVersion(active.get(environment.name)),
        lastFinished: withVersion(finished.get(environment.name)),
        weights: traffic ? Object.fromEntries(trafficVersions.map((version) => [version.name, version.weight])) : null,
        freeze: freeze ? { frozen: freeze.frozen, next: freeze.next } : null,
      };
    }),
  );
  return { app, environments };
}

type StepState = 'done' | 'current' | 'failed' | 'pending' | 'skipped';

/** The analysis templates the plan's analysis steps use, with the bound to draw when the judge is a simple comparison. */
export function thresholdsOf(spec: PromoteSpec, steps: PlannedStep[]) {
  const names = [...new Set(steps.flatMap((step) => (step.kind === 'analysis' ? step.analysis.templates : [])))];
  return names.map((name) => {
    const template = spec.analysis?.templates?.[name];
    const provider = template?.provider as { type?: string; metric?: string } | undefined;
    const judge = template?.judge as { type?: string; condition?: string; test?: string; direction?: string } | undefined;
    const metric = provider?.type === 'builtin' ? provider.metric ?? null : null;
    // which of the dashboard's charts the template's numbers belong on
    const chart = metric === 'error_rate' ? 'errorRate' : metric === 'latency_p99' || metric === 'latency' ? 'p99' : metric === 'latency_p50' ? 'p50' : metric === 'request_rate' ? 'requestRate' : null;
    let bound: number | null = null;
    let operator: string | null = null;
    if (judge?.type === 'threshold' && judge.condition) {
      try {
        const parsed = parseCondition(judge.condition);
        if (parsed.kind === 'compare') {
          bound = parsed.number;
          operator = parsed.operator;
        }
      } catch {
        // validated with the spec; a condition that no longer parses is shown as text only
      }
    }
    return {
      template: name,
      provider: provider?.type ?? null,
      metric,
      chart,
      judge: judge?.type ?? null,
      condition: judge?.type === 'threshold' ? (judge.condition ?? null) : `${judge?.test ?? 'compare'} (${judge?.direction ?? 'increase'} is bad) against the stable version`,
      bound,
      operator,
    };
  });
}

export async function readRolloutDetail(pool: pg.Pool, spec: PromoteSpec, rollout: Rollout) {
  const plan = (rollout.strategy ?? null) as RolloutPlan | null;
  const steps = plan?.steps ?? [];
  const events = await listEvents(pool, { rolloutId: rollout.id, limit: 10_000 });
  let created = events.find((event) => event.type === 'rollout.created')?.createdAt ?? rollout.createdAt;
  const completed = new Map<number, Date>();
  for (const event of events) {
    if (event.type === 'step.completed' && typeof event.data.step === 'number') completed.set(event.data.step, event.createdAt);
    // a retry (a finished rollout set Progressing again) starts over from the first step: earlier steps' times are the last attempt's
    if (event.type === 'rollout.phase' && FINISHED.includes(String(event.data.from)) && event.data.to === 'Progressing') {
      completed.clear();
      created = event.createdAt;
    }
  }
  const terminal = FINISHED.includes(rollout.phase);
  const failed = rollout.phase === 'Degraded' || rollout.phase === 'RolledBack' || rollout.phase === 'Aborted';
  const stepViews = steps.map((step, index) => {
    let state: StepState;
    if (rollout.phase === 'Healthy' || index < rollout.currentStep || completed.has(index)) state = 'done';
    else if (index === rollout.currentStep) state = failed ? 'failed' : terminal ? 'skipped' : 'current';
    else state = failed ? 'skipped' : 'pending';
    const startedAt = index === 0 ? created : (completed.get(index - 1) ?? null);
    return { index, kind: step.kind, label: describeStep(step), state, startedAt: state === 'pending' || state === 'skipped' ? null : startedAt, finishedAt: completed.get(index) ?? null, detail: step };
  });
  const versions = await versionsOf(pool, [rollout.releaseId, rollout.stableReleaseId ?? 0].filter((id) => id > 0));
  const until = terminal ? rollout.updatedAt : new Date();
  const changes = await pool.query<{ name: string; action: string; actor: string; reason: string | null; diff: string[]; version: number | null; created_at: Date }>(
    `select name, action, actor, reason, diff, version, created_at from promote.flag_changes
     where app = $1 and (environment = $2 or environment is null) and created_at between $3 and $4 order by id`,
    [rollout.app, rollout.environment, rollout.createdAt, until],
  );
  return {
    rollout: rolloutView(rollout),
    version: versions.get(rollout.releaseId) ?? null,
    stableVersion: rollout.stableReleaseId ? (versions.get(rollout.stableReleaseId) ?? null) : null,
    production: isProduction(spec, rollout.environment),
    strategy: plan ? { name: plan.strategy, type: plan.type } : null,
    steps: stepViews,
    flags: {
      steps: steps.flatMap((step, index) => (step.kind === 'setFlag' ? [{ step: index, flag: step.flag.flag, change: step.flag }] : [])),
      changes: changes.rows.map((row) => ({ flag: row.name, action: row.action, actor: row.actor, reason: row.reason, diff: row.diff, version: row.version, createdAt: row.created_at })),
    },
    thresholds: thresholdsOf(spec, steps),
  };
}

const rolloutSchema = { type: 'object', additionalProperties: true } as const;
const error = { type: 'object', properties: { error: { type: 'string' }, hint: { type: 'string' } }, required: ['error'] } as const;

export function registerDashboardRoutes(app: FastifyInstance, options: DashboardOptions): void {
  const { pool, spec } = options;

  app.get(
    '/api/overview',
    {
      schema: {
        summary: "The app's environments in promotion order: the release running in each, its active rollout and its last finished one",
        response: {
          200: {
            type: 'object',
            properties: {
              app: { type: 'string' },
              environments: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: {
                    name: { type: 'string' },
                    production: { type: 'boolean' },
                    strategy: { type: 'string' },
                    router: { type: 'boolean' },
                    running: { type: ['object', 'null'], properties: { version: { type: ['string', 'null'] }, rolloutId: { type: 'integer' }, since: { type: 'string', format: 'date-time' } } },
                    active: nullableObject,
                    lastFinished: nullableObject,
                    weights: { type: ['object', 'null'], additionalProperties: { type: 'number' } },
                    freeze: { type: ['object', 'null'], properties: { frozen: freezeSchemas.frozen, next: freezeSchemas.next }, required: ['frozen', 'next'] },
                  },
                  required: ['name', 'production', 'running', 'active', 'lastFinished', 'weights'],
                },
              },
            },
            required: ['app', 'environments'],
          },
        },
      },
    },
    async () => readOverview(pool, spec),
  );

  app.get(
    '/api/rollouts/:id/detail',
    {
      schema: {
        summary: 'A rollout for the dashboard: its steps with state and times, the flags it touched and the limits its analyses judge by',
        params: { type: 'object', properties: { id: { type: 'integer', minimum: 1 } }, required: ['id'], additionalProperties: false },
        response: {
          200: {
            type: 'object',
            properties: {
              rollout: rolloutSchema,
              version: { type: ['string', 'null'] },
              stableVersion: { type: ['string', 'null'] },
              production: { type: 'boolean' },
              strategy: nullableObject,
              steps: { type: 'array', items: anyObject },
              flags: anyObject,
              thresholds: { type: 'array', items: anyObject },
            },
            required: ['rollout', 'version', 'steps', 'flags', 'thresholds'],
          },
          404: error,
        },
      },
    },
    async (request, reply) => {
      const id = (request.params as { id: number }).id;
      const found = await getRollout(pool, id);
      if (!found || found.app !== spec.app.name) return reply.status(404).send({ error: `no rollout #${id} of ${spec.app.name}` });
      return readRolloutDetail(pool, spec, found);
    },
  );

  app.post(
    '/api/environments/:environment/rollback',
    {
      schema: {
        summary: 'Return the environment to a release that served it before (default: the one Healthy there before the current): one command, no analysis, no migrations',
        params: { type: 'object', properties: { environment: environmentName }, required: ['environment'], additionalProperties: false },
        body: { type: 'object', properties: { to: { type: 'string', minLength: 1, maxLength: 128 }, reason: { type: 'string', maxLength: 1000 } }, additionalProperties: false },
        response: { 201: rolloutSchema, 400: error, 404: error, 409: error },
      },
    },
    async (request, reply) => {
      const body = (request.body ?? {}) as { to?: string; reason?: string };
      const environment = (request.params as { environment: string }).environment;
      const { actor } = callerOf(request);
      const started = await startRollback(pool, { spec, environment, actor, ...(body.to ? { to: body.to } : {}) });
      // the rollout records who and what; the why is the caller's, kept beside it in the audit trail
      if (body.reason?.trim()) await appendEvent(pool, { type: 'rollback.requested', actor, app: spec.app.name, environment, rolloutId: started.id, data: { reason: body.reason.trim(), ...(body.to ? { to: body.to } : {}) } });
      return reply.status(201).send(rolloutView(started));
    },
  );
}
