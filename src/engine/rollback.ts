import { PromoteError } from '../errors.js';
import type { PromoteSpec } from '../spec/index.js';
import type { Queryable, Rollout } from '../store/index.js';
import { planRollout } from './plan.js';
import { startRollout } from './start.js';

/**
 * A rollback: a rollout to a release that was Healthy in the environment before, planned as one command
 * (no analysis, migrations, weights or approvals; see PlanContext.rollback). The CLI's `promote rollback`
 * and the API's POST /api/environments/:env/rollback both start it here.
 */
export async function startRollback(db: Queryable, input: { spec: PromoteSpec; environment: string; to?: string; actor: string }): Promise<Rollout> {
  // an unknown environment is said as such (404), not as one with no earlier release to return to (409)
  planRollout(input.spec, input.environment, { rollback: true });
  const version = input.to ?? (await previousHealthyVersion(db, input.spec.app.name, input.environment));
  return startRollout(db, { spec: input.spec, environment: input.environment, version, actor: input.actor, planContext: { rollback: true } });
}

/** The release Healthy in the environment before the current one. */
export async function previousHealthyVersion(db: Queryable, app: string, environment: string): Promise<string> {
  const result = await db.query<{ version: string }>(
    `select r.version from promote.rollouts o join promote.releases r on r.id = o.release_id
     where o.app = $1 and o.environment = $2 and o.phase = 'Healthy' order by o.id desc`,
    [app, environment],
  );
  const versions = [...new Set(result.rows.map((row) => row.version))];
  if (versions.length < 2) throw new PromoteError(`${environment} has no earlier Healthy release to return to`, { hint: 'name the release to return to: promote rollback --to <version>, or "to" in the API call' });
  return versions[1]!;
}
