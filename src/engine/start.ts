import { notFound, PromoteError } from '../errors.js';
import { listFlags } from '../flags/store-flags.js';
import type { PromoteSpec } from '../spec/index.js';
import { appendEvent, createRollout, getRelease, syncEnvironments, upsertApp, withTransaction, type Queryable, type Rollout } from '../store/index.js';
import { query } from '../store/queryable.js';
import { ROLLOUTS_CHANNEL } from '../store/rollout-engine.js';
import { formatInstant, frozenUntil } from './freeze.js';
import { planRollout, type PlanContext } from './plan.js';
import { initialState } from './state.js';

export interface StartRolloutInput {
  spec: PromoteSpec;
  environment: string;
  version: string;
  actor: string;
  /** deploy although the release did not reach Healthy in the environment before; the reason is recorded */
  skipEnvironmentGate?: string;
  planContext?: PlanContext;
  /** deploy although a freeze window holds the environment; the reason is recorded as `freeze.overridden` */
  overrideFreeze?: string;
  /** the moment freeze windows are judged at; now by default */
  now?: Date;
}

/**
 * Starts a rollout: checks the promotion rule, plans the strategy, records the rollout with its plan
 * and initial state in one transaction, and wakes the controller. A release reaches an environment
 * only through the ones before it, with the same artifact digest and migration checksums: those are
 * the release row's, and a version is immutable, so "the same release reached Healthy there" is the rule.
 */
export async function startRollout(db: Queryable, input: StartRolloutInput): Promise<Rollout> {
  const { spec, environment, version, actor } = input;
  planRollout(spec, environment, input.planContext); // an unknown environment or a bad step is said before anything is written
  const freeze = spec.environments.find((each) => each.name === environment)?.freeze;
  // a rollback returns to a release that served here already: it is the way out of a bad deploy, which a freeze must not block
  const frozen = input.planContext?.rollback ? undefined : frozenUntil(freeze, input.now ?? new Date());
  if (frozen && freeze?.mode !== 'wait' && input.overrideFreeze === undefined) {
    throw new PromoteError(`${environment} is frozen by window ${frozen.window} until ${formatInstant(frozen.endsAt)}: deploys there are refused until then`, {
      status: 423,
      hint: 'deploy after the window ends (see `promote freeze`), or, as an admin, override it with a reason that is recorded: --override-freeze "<reason>" (API: overrideFreeze)',
    });
  }
  return withTransaction(db, async (tx) => {
    await upsertApp(tx, { name: spec.app.name, actor });
    await syncEnvironments(tx, spec.app.name, spec.environments.map((each) => each.name), actor);
    // a setFlag step may name a flag that exists only in the store
    const stored = await listFlags(tx, { app: spec.app.name, environment });
    const planned = planRollout(spec, environment, { ...input.planContext, knownFlags: new Set([...(input.planContext?.knownFlags ?? []), ...stored.map((flag) => flag.name)]) });
    const waits = frozen !== undefined && input.overrideFreeze === undefined;
    const plan = waits ? { ...planned, frozenUntil: { window: frozen.window, until: frozen.endsAt.getTime() } } : planned;
    const release = await getRelease(tx, spec.app.name, version);
    if (!release) {
      throw notFound(`release ${version} of ${spec.app.name} is not recorded`, { exitCode: 2, hint: `record it first: promote release create ${version} --artifact <path>` });
    }
    const position = spec.environments.findIndex((each) => each.name === environment);
    const before = position > 0 ? spec.environments[position - 1]!.name : undefined;
    if (input.planContext?.rollback) {
      const healthyHere = await query(tx, 'checking the rollback target', `select 1 from promote.rollouts where app = $1 and environment = $2 and release_id = $3 and phase = 'Healthy' limit 1`, [spec.app.name, environment, release.id]);
      if (healthyHere.rowCount === 0) throw new PromoteError(`cannot roll ${environment} back to ${version}: it was never Healthy there`, { hint: 'roll back to a release that served this environment before; see `promote history`' });
    } else if (before !== undefined) {
      const passed = await query(tx, 'checking the promotion rule', `select 1 from promote.rollouts where app = $1 and environment = $2 and release_id = $3 and phase = 'Healthy' limit 1`, [spec.app.name, before, release.id]);
      if (passed.rowCount === 0 && input.skipEnvironmentGate === undefined) {
        throw new PromoteError(`release ${version} has not reached Healthy in ${before}, the environment before ${environment}`, {
          hint: `deploy it to ${before} first, or pass --skip-environment-gate "<reason>" (the reason is recorded)`,
        });
      }
    }
    const stable = await query<{ version: string; release_id: string }>(
      tx,
      'finding the version serving now',
      `select r.version, r.id as release_id from promote.rollouts o join promote.releases r on r.id = o.release_id
       where o.app = $1 and o.environment = $2 and o.phase = 'Healthy' order by o.id desc limit 1`,
      [spec.app.name, environment],
    );
    const stableRow = stable.rows[0];
    const rollout = await createRollout(tx, { app: spec.app.name, environment, releaseId: release.id, stableReleaseId: stableRow ? Number(stableRow.release_id) : null, strategy: plan, createdBy: actor });
    const state = initialState(rollout.id, version, stableRow && stableRow.version !== version ? stableRow.version : null);
    await query(tx, 'recording the rollout plan', 'update promote.rollouts set plan = $2, state = $3 where id = $1', [rollout.id, JSON.stringify(plan), JSON.stringify(state)]);
    await appendEvent(tx, {
      type: 'rollout.created',
      actor,
      app: spec.app.name,
      environment,
      rolloutId: rollout.id,
      data: { version, digest: release.digest, stable: state.stable, strategy: plan.strategy, steps: plan.steps.length, ...(waits ? { frozenUntil: { window: frozen.window, until: frozen.endsAt.toISOString() } } : {}), ...(input.planContext?.rollback ? { rollback: true } : {}), ...(input.skipEnvironmentGate !== undefined && before !== undefined ? { skippedEnvironmentGate: { environment: before, reason: input.skipEnvironmentGate } } : {}) },
    });
    if (frozen && input.overrideFreeze !== undefined) {
      await appendEvent(tx, { type: 'freeze.overridden', actor, app: spec.app.name, environment, rolloutId: rollout.id, data: { window: frozen.window, until: frozen.endsAt.toISOString(), reason: input.overrideFreeze, version } });
    }
    await query(tx, 'waking the controller', `select pg_notify('${ROLLOUTS_CHANNEL}', $1)`, [String(rollout.id)]);
    return rollout;
  });
}
