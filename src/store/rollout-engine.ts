import { appendEvent, type EventInput } from './events.js';
import { query, rethrow, toId, withTransaction, type Queryable, type TransactionClient } from './queryable.js';

/**
 * Persistence for the rollout controller. The engine's types stay in src/engine; here they are JSON,
 * so the store does not depend on the engine.
 */
export const ROLLOUTS_CHANNEL = 'promote_rollouts';

export interface EngineRecord {
  id: number;
  app: string;
  environment: string;
  plan: unknown;
  state: unknown;
  createdBy: string | null;
  /** commands not yet taken into a decision, oldest first */
  commands: Array<{ id: number; command: Record<string, unknown> }>;
  /** finished or running actions by id; actions only started are absent, so the engine asks for them again */
  outcomes: Record<string, Record<string, unknown>>;
  /** actions recorded as started whose outcome never arrived: the controller died while they ran */
  unfinished: Array<{ id: string; action: Record<string, unknown> }>;
  /** valid approvals per step: distinct approvers, not expired, not the person who started the rollout */
  approvals: Record<number, number>;
}

export async function loadEngineRecord(db: Queryable, rolloutId: number, now = new Date()): Promise<EngineRecord | undefined> {
  const doing = `loading rollout ${rolloutId} for the controller`;
  try {
    const row = await query<{ id: string; app: string; environment: string; plan: unknown; state: unknown; created_by: string | null }>(db, doing, 'select id, app, environment, plan, state, created_by from promote.rollouts where id = $1', [rolloutId]);
    const rollout = row.rows[0];
    if (!rollout) return undefined;
    const [commands, actions, approvals] = await Promise.all([
      query<{ id: string; command: Record<string, unknown> }>(db, doing, 'select id, command from promote.rollout_commands where rollout_id = $1 and applied_at is null order by id', [rolloutId]),
      query<{ id: string; action: Record<string, unknown>; status: string; outcome: Record<string, unknown> | null }>(db, doing, 'select id, action, status, outcome from promote.rollout_actions where rollout_id = $1', [rolloutId]),
      query<{ step_index: number; count: string }>(
        db,
        doing,
        `select step_index, count(distinct approver) as count from promote.approvals
         where rollout_id = $1 and decision = 'approved' and (expires_at is null or expires_at > $2) and approver is distinct from $3 and attempt = $4
         group by step_index`,
        [rolloutId, now, rollout.created_by, attemptOf(rollout.state)],
      ),
    ]);
    return {
      id: toId(rollout.id),
      app: rollout.app,
      environment: rollout.environment,
      plan: rollout.plan,
      state: rollout.state,
      createdBy: rollout.created_by,
      commands: commands.rows.map((each) => ({ id: toId(each.id), command: each.command })),
      outcomes: Object.fromEntries(actions.rows.filter((each) => each.status !== 'started').map((each) => [each.id, each.outcome ?? { status: each.status }])),
      unfinished: actions.rows.filter((each) => each.status === 'started').map((each) => ({ id: each.id, action: each.action })),
      approvals: Object.fromEntries(approvals.rows.map((each) => [each.step_index, Number(each.count)])),
    };
  } catch (error) {
    rethrow(doing, error);
  }
}

export interface DecisionRecord {
  state: { phase: string; reason: string; step: number; weight: number } & Record<string, unknown>;
  release: string;
  stable: string | null;
  wakeAt?: number;
  appliedCommands: number[];
  events: Array<{ type: string; data: Record<string, unknown> }>;
  actions: Array<{ id: string } & Record<string, unknown>>;
  actor: string;
}

/**
 * Saves one decision atomically: the new state, the commands it consumed, its events, and its actions
 * as started. Either all of it is recorded or none, so a controller killed mid-way decides again and
 * records every event exactly once.
 */
export async function saveDecision(db: Queryable, record: EngineRecord, decision: DecisionRecord): Promise<void> {
  const doing = `recording a decision for rollout ${record.id}`;
  try {
    await withTransaction(db, async (tx) => {
      const { state } = decision;
      // a summary for listings; the routers follow promote.traffic
      const weights = decision.stable === null ? (state.weight > 0 ? { [decision.release]: 100 } : {}) : { [decision.release]: state.weight, [decision.stable]: Math.round((100 - state.weight) * 100) / 100 };
      await query(tx, doing, 'update promote.rollouts set state = $2, phase = $3, phase_reason = $4, current_step = $5, weights = $6, wake_at = $7, updated_at = now() where id = $1', [
        record.id,
        JSON.stringify(state),
        state.phase,
        state.reason,
        state.step,
        JSON.stringify(weights),
        decision.wakeAt === undefined ? null : new Date(decision.wakeAt),
      ]);
      if (decision.appliedCommands.length > 0) await query(tx, doing, 'update promote.rollout_commands set applied_at = now() where id = any($1)', [decision.appliedCommands]);
      for (const event of decision.events) await appendEvent(tx, rolloutEvent(record, event.type, decision.actor, event.data));
      for (const action of decision.actions) {
        const inserted = await query(tx, doing, 'insert into promote.rollout_actions (rollout_id, id, action, status) values ($1, $2, $3, $4) on conflict (rollout_id, id) do nothing', [record.id, action.id, JSON.stringify(action), 'started']);
        if (inserted.rowCount === 1) await appendEvent(tx, rolloutEvent(record, 'action.started', decision.actor, { action }));
      }
    });
  } catch (error) {
    rethrow(doing, error);
  }
}

/** Records what became of an action, with its event, in one transaction; a second report of the same outcome is ignored. */
export async function recordOutcome(db: Queryable, record: Pick<EngineRecord, 'id' | 'app' | 'environment'>, actionId: string, outcome: { status: string } & Record<string, unknown>, actor: string): Promise<void> {
  const doing = `recording the outcome of ${actionId}`;
  try {
    await withTransaction(db, async (tx: TransactionClient) => {
      const updated = await query(
        tx,
        doing,
        `update promote.rollout_actions set status = $3, outcome = $4, finished_at = case when $3 = 'running' then null else now() end
         where rollout_id = $1 and id = $2 and (status <> $3 or outcome is distinct from $4::jsonb)`,
        [record.id, actionId, outcome.status, JSON.stringify(outcome)],
      );
      if (updated.rowCount === 1) await appendEvent(tx, rolloutEvent(record, `action.${outcome.status}`, actor, { action: actionId, outcome }));
      await query(tx, doing, `select pg_notify('${ROLLOUTS_CHANNEL}', $1)`, [String(record.id)]);
    });
  } catch (error) {
    rethrow(doing, error);
  }
}

export async function addCommand(db: Queryable, rolloutId: number, command: Record<string, unknown>): Promise<number> {
  const doing = `queueing ${String(command.kind)} for rollout ${rolloutId}`;
  try {
    const result = await query<{ id: string }>(db, doing, 'insert into promote.rollout_commands (rollout_id, command) values ($1, $2) returning id', [rolloutId, JSON.stringify(command)]);
    return toId(result.rows[0]!.id);
  } catch (error) {
    rethrow(doing, error);
  }
}

/** Rollouts the controller has work on: in flight, or with a command waiting. */
export async function activeRolloutIds(db: Queryable): Promise<number[]> {
  const doing = 'listing rollouts in flight';
  try {
    const result = await query<{ id: string }>(
      db,
      doing,
      `select id from promote.rollouts where state is not null and (phase in ('Pending', 'Progressing', 'Paused')
         or exists (select 1 from promote.rollout_commands c where c.rollout_id = rollouts.id and c.applied_at is null))
       order by id`,
    );
    return result.rows.map((row) => toId(row.id));
  } catch (error) {
    rethrow(doing, error);
  }
}

function rolloutEvent(record: Pick<EngineRecord, 'id' | 'app' | 'environment'>, type: string, actor: string, data: Record<string, unknown>): EventInput {
  return { type, actor, app: record.app, environment: record.environment, rolloutId: record.id, data };
}

/** The attempt the rollout is in (1 until a retry): only its votes count. */
function attemptOf(state: unknown): number {
  const attempt = (state as { attempt?: unknown } | null)?.attempt;
  return typeof attempt === 'number' && Number.isSafeInteger(attempt) && attempt >= 1 ? attempt : 1;
}
