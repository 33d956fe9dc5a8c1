import { notFound, PromoteError } from '../errors.js';
import { canonicalJson } from './canonical-json.js';
import {
  checkId,
  checkLimit,
  checkName,
  databaseErrorOf,
  PG_FOREIGN_KEY_VIOLATION,
  PG_UNIQUE_VIOLATION,
  query,
  rethrow,
  toDate,
  toId,
  toNullableId,
  withTransaction,
  type Queryable,
} from './queryable.js';

/** Every phase a rollout can be in; the order is the usual life of a rollout. */
export const ROLLOUT_PHASES = ['Pending', 'Progressing', 'Paused', 'Healthy', 'Degraded', 'RolledBack', 'Aborted'] as const;
export type RolloutPhase = (typeof ROLLOUT_PHASES)[number];

/** The phases of a rollout in flight; an environment has at most one rollout in one of them. */
export const ACTIVE_ROLLOUT_PHASES = ['Pending', 'Progressing', 'Paused'] as const satisfies readonly RolloutPhase[];

export function isRolloutPhase(value: unknown): value is RolloutPhase {
  return typeof value === 'string' && (ROLLOUT_PHASES as readonly string[]).includes(value);
}

export function isActivePhase(phase: RolloutPhase): boolean {
  return (ACTIVE_ROLLOUT_PHASES as readonly string[]).includes(phase);
}

/** version -> percentage of traffic */
export type Weights = Record<string, number>;

export interface Rollout {
  id: number;
  app: string;
  environment: string;
  releaseId: number;
  /** the release serving before this rollout: where a rollback returns traffic */
  stableReleaseId: number | null;
  /** the plan the engine runs, as JSON; the engine owns its shape */
  strategy: unknown;
  phase: RolloutPhase;
  phaseReason: string | null;
  currentStep: number;
  weights: Weights;
  createdBy: string | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface RolloutInput {
  app: string;
  environment: string;
  releaseId: number;
  stableReleaseId?: number | null;
  strategy: unknown;
  createdBy?: string | null;
}

export interface RolloutStatePatch {
  phase?: RolloutPhase;
  /** null clears it */
  phaseReason?: string | null;
  currentStep?: number;
  weights?: Weights;
}

export interface RolloutStateGuard {
  phase?: RolloutPhase;
  currentStep?: number;
}

interface RolloutRow {
  id: string | number;
  app: string;
  environment: string;
  release_id: string | number;
  stable_release_id: string | number | null;
  strategy: unknown;
  phase: RolloutPhase;
  phase_reason: string | null;
  current_step: number;
  weights: Weights;
  created_by: string | null;
  created_at: Date | string;
  updated_at: Date | string;
}

const COLUMNS = 'id, app, environment, release_id, stable_release_id, strategy, phase, phase_reason, current_step, weights, created_by, created_at, updated_at';
const DEFAULT_LIST_LIMIT = 100;
const ACTIVE_PHASES_SQL = ACTIVE_ROLLOUT_PHASES.map((phase) => `'${phase}'`).join(', ');

function toRollout(row: RolloutRow): Rollout {
  return {
    id: toId(row.id),
    app: row.app,
    environment: row.environment,
    releaseId: toId(row.release_id),
    stableReleaseId: toNullableId(row.stable_release_id),
    strategy: row.strategy,
    phase: row.phase,
    phaseReason: row.phase_reason,
    currentStep: row.current_step,
    weights: row.weights,
    createdBy: row.created_by,
    createdAt: toDate(row.created_at),
    updatedAt: toDate(row.updated_at),
  };
}

/** Weights are either not assigned yet (`{}`) or percentages from 0 to 100 per version that add up to 100. */
export function assertWeights(weights: Weights, what = 'the weights'): void {
  if (weights === null || typeof weights !== 'object' || Array.isArray(weights)) {
    throw new PromoteError(`${what} must be an object of version -> percentage`);
  }
  const entries = Object.entries(weights as Record<string, unknown>);
  if (entries.length === 0) return;
  let sum = 0;
  for (const [version, weight] of entries) {
    if (version.length === 0) throw new PromoteError(`${what} name a version with an empty name`);
    if (typeof weight !== 'number' || !Number.isFinite(weight) || weight < 0 || weight > 100) {
      throw new PromoteError(`${what} give version ${version} ${JSON.stringify(weight) ?? String(weight)}; each weight is a percentage from 0 to 100`);
    }
    sum += weight;
  }
  if (Math.abs(sum - 100) > 1e-9) {
    const listed = entries.map(([version, weight]) => `${version}=${String(weight)}`).join(', ');
    throw new PromoteError(`${what} (${listed}) add up to ${String(Math.round(sum * 1e6) / 1e6)}; they must add up to 100`);
  }
}

function checkStep(step: number, what: string): void {
  if (!Number.isSafeInteger(step) || step < 0) throw new PromoteError(`${what} must be a whole number from 0, got ${String(step)}`);
}

function checkPhase(phase: unknown, what: string): void {
  if (!isRolloutPhase(phase)) throw new PromoteError(`${what} ${JSON.stringify(phase)} is not a rollout phase; expected one of ${ROLLOUT_PHASES.join(', ')}`);
}

/**
 * Records a new rollout (phase Pending, step 0, no weights). An environment has at most one rollout in
 * flight: when one is already Pending, Progressing or Paused the error names it. The release (and the
 * stable release) must belong to the same app.
 */
export async function createRollout(db: Queryable, input: RolloutInput): Promise<Rollout> {
  checkName('app', input.app);
  checkName('environment', input.environment);
  checkId('release', input.releaseId);
  const stableReleaseId = input.stableReleaseId ?? null;
  if (stableReleaseId !== null) checkId('stable release', stableReleaseId);
  if (input.strategy === undefined) throw new PromoteError(`the rollout of app "${input.app}" to ${input.environment} needs a strategy`);
  const strategyJson = canonicalJson(input.strategy);
  const doing = `starting a rollout of release #${input.releaseId} to environment "${input.environment}" of app "${input.app}"`;
  try {
    // in its own transaction (a savepoint inside a caller's): a refused insert leaves the connection usable
    // for the look-up that explains the refusal
    return await withTransaction(db, async (tx) => {
      const ids = stableReleaseId === null ? [input.releaseId] : [input.releaseId, stableReleaseId];
      const releases = await query<{ id: string; app: string; version: string }>(tx, doing, 'select id, app, version from promote.releases where id = any($1::bigint[])', [ids]);
      for (const [id, role] of [[input.releaseId, 'release'], [stableReleaseId, 'stable release']] as const) {
        if (id === null) continue;
        const release = releases.rows.find((row) => toId(row.id) === id);
        if (!release) throw notFound(`${role} #${id} does not exist`);
        if (release.app !== input.app) throw new PromoteError(`${role} #${id} (${release.version}) belongs to app "${release.app}", not "${input.app}"`);
      }
      const result = await tx.query<RolloutRow>(
        `insert into promote.rollouts (app, environment, release_id, stable_release_id, strategy, created_by)
         values ($1, $2, $3, $4, $5::jsonb, $6) returning ${COLUMNS}`,
        [input.app, input.environment, input.releaseId, stableReleaseId, strategyJson, input.createdBy ?? null],
      );
      return toRollout(result.rows[0]!);
    });
  } catch (error) {
    const { code, constraint } = databaseErrorOf(error);
    if (code === PG_UNIQUE_VIOLATION && constraint === 'rollouts_one_active') {
      throw await refuseSecondActive(db, input.app, input.environment, error);
    }
    if (code === PG_FOREIGN_KEY_VIOLATION && constraint === 'rollouts_app_environment_fkey') {
      throw notFound(`environment "${input.environment}" of app "${input.app}" is not recorded in the state store`, {
        cause: error,
        hint: 'list it under environments in promote.yaml (syncEnvironments records them)',
      });
    }
    rethrow(doing, error);
  }
}

async function refuseSecondActive(db: Queryable, app: string, environment: string, cause: unknown): Promise<PromoteError> {
  const active = await getActiveRollout(db, app, environment).catch(() => undefined);
  const which = active ? `rollout #${active.id} (${active.phase})` : 'another rollout';
  return new PromoteError(`environment "${environment}" of app "${app}" already has an active rollout: ${which}; one rollout at a time per environment`, {
    cause,
    hint: active ? `wait for rollout #${active.id} to finish, or abort it` : 'wait for the active rollout to finish, or abort it',
  });
}

export async function getRollout(db: Queryable, id: number): Promise<Rollout | undefined> {
  checkId('rollout', id);
  const result = await query<RolloutRow>(db, `reading rollout #${id}`, `select ${COLUMNS} from promote.rollouts where id = $1`, [id]);
  const row = result.rows[0];
  return row ? toRollout(row) : undefined;
}

/** The rollout in flight (Pending, Progressing or Paused) in an environment, if any. */
export async function getActiveRollout(db: Queryable, app: string, environment: string): Promise<Rollout | undefined> {
  const result = await query<RolloutRow>(
    db,
    `reading the active rollout of environment "${environment}" of app "${app}"`,
    `select ${COLUMNS} from promote.rollouts where app = $1 and environment = $2 and phase in (${ACTIVE_PHASES_SQL})`,
    [app, environment],
  );
  const row = result.rows[0];
  return row ? toRollout(row) : undefined;
}

/** Rollouts, newest first, optionally of one app and/or environment (`limit` defaults to 100). */
export async function listRollouts(db: Queryable, options: { app?: string; environment?: string; limit?: number } = {}): Promise<Rollout[]> {
  const limit = checkLimit(options.limit, DEFAULT_LIST_LIMIT);
  const result = await query<RolloutRow>(
    db,
    'listing rollouts',
    `select ${COLUMNS} from promote.rollouts
     where ($1::text is null or app = $1) and ($2::text is null or environment = $2)
     order by id desc limit $3`,
    [options.app ?? null, options.environment ?? null, limit],
  );
  return result.rows.map(toRollout);
}

/**
 * Changes the state of a rollout. With `expected`, the update happens only if the row still has those
 * values (an optimistic guard: two controllers, or a controller and a user, cannot both move the same
 * step); it then returns `undefined` when the guard failed. A rollout that does not exist is an error.
 */
export async function updateRolloutState(db: Queryable, id: number, patch: RolloutStatePatch, expected?: RolloutStateGuard): Promise<Rollout | undefined> {
  checkId('rollout', id);
  const sets: string[] = ['updated_at = now()'];
  const values: unknown[] = [id];
  const param = (value: unknown): string => {
    values.push(value);
    return `$${values.length}`;
  };
  if (patch.phase !== undefined) {
    checkPhase(patch.phase, 'the new phase');
    sets.push(`phase = ${param(patch.phase)}`);
  }
  if (patch.phaseReason !== undefined) sets.push(`phase_reason = ${param(patch.phaseReason)}`);
  if (patch.currentStep !== undefined) {
    checkStep(patch.currentStep, 'the current step');
    sets.push(`current_step = ${param(patch.currentStep)}`);
  }
  if (patch.weights !== undefined) {
    assertWeights(patch.weights, `the weights of rollout #${id}`);
    sets.push(`weights = ${param(canonicalJson(patch.weights))}::jsonb`);
  }
  const guards: string[] = ['id = $1'];
  if (expected?.phase !== undefined) {
    checkPhase(expected.phase, 'the expected phase');
    guards.push(`phase = ${param(expected.phase)}`);
  }
  if (expected?.currentStep !== undefined) {
    checkStep(expected.currentStep, 'the expected current step');
    guards.push(`current_step = ${param(expected.currentStep)}`);
  }
  const doing = `updating the state of rollout #${id}`;
  let updated: Rollout | undefined;
  try {
    updated = await withTransaction(db, async (tx) => {
      const result = await tx.query<RolloutRow>(`update promote.rollouts set ${sets.join(', ')} where ${guards.join(' and ')} returning ${COLUMNS}`, values);
      const row = result.rows[0];
      return row ? toRollout(row) : undefined;
    });
  } catch (error) {
    const { code, constraint } = databaseErrorOf(error);
    if (code === PG_UNIQUE_VIOLATION && constraint === 'rollouts_one_active') {
      const current = await getRollout(db, id).catch(() => undefined);
      if (current) throw await refuseSecondActive(db, current.app, current.environment, error);
    }
    rethrow(doing, error);
  }
  if (updated) return updated;
  if (!(await getRollout(db, id))) throw notFound(`rollout #${id} does not exist`);
  return undefined;
}
