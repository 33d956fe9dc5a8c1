import { notFound, PromoteError } from '../errors.js';
import { appendEvent, getActiveRollout, listRollouts, withTransaction, type Queryable, type Rollout } from '../store/index.js';
import { addCommand } from '../store/rollout-engine.js';
import { refuseCommand } from './decide.js';
import type { Command } from './state.js';

export interface CommandRequest {
  app: string;
  environment: string;
  kind: Command['kind'];
  actor: string;
  reason?: string;
  full?: boolean;
}

/**
 * Queues a command for the environment's rollout (the active one; for retry, the latest), after
 * checking that it makes sense in the rollout's phase. The CLI and the API both come through here.
 */
export async function sendCommand(db: Queryable, request: CommandRequest): Promise<Rollout> {
  const { app, environment, kind, actor } = request;
  const rollout = kind === 'retry' ? (await listRollouts(db, { app, environment, limit: 1 }))[0] : await getActiveRollout(db, app, environment);
  if (!rollout) throw notFound(`${app} has no ${kind === 'retry' ? '' : 'active '}rollout in ${environment} to ${kind}`);
  const refusal = refuseCommand(rollout.phase, kind);
  if (refusal) throw new PromoteError(`rollout #${rollout.id}: ${refusal}`);
  const command: Command =
    kind === 'promote' ? { kind, actor, full: request.full === true } : kind === 'abort' ? { kind, actor, ...(request.reason ? { reason: request.reason } : {}) } : { kind, actor };
  // queued and in the trail together: a command the controller never applies (the rollout ended first) is still on record
  await withTransaction(db, async (tx) => {
    const id = await addCommand(tx, rollout.id, command);
    await appendEvent(tx, { type: 'command.queued', actor, app, environment, rolloutId: rollout.id, data: { command: kind, commandId: id, ...(request.reason ? { reason: request.reason } : {}), ...(kind === 'promote' ? { full: request.full === true } : {}) } });
  });
  return rollout;
}
