import { PromoteError } from '../errors.js';
import { appendEvent, countValidApprovals, recordApproval, withTransaction, type Approval, type ApprovalDecision, type Queryable } from '../store/index.js';
import { query } from '../store/queryable.js';
import { ROLLOUTS_CHANNEL } from '../store/rollout-engine.js';
import { describeStep, type RolloutPlan } from './plan.js';
import { TERMINAL_PHASES, type RolloutState } from './state.js';

export interface ApprovalRequest {
  app: string;
  rolloutId: number;
  /** who votes; until tokens and roles exist (issue 11) the caller names themselves */
  approver: string;
  reason: string;
  decision?: ApprovalDecision;
}

export interface ApprovalReceipt {
  approval: Approval;
  /** the approval step voted on, counted from 1 as the rollout's reasons count steps */
  step: number;
  /** how many different people the step needs */
  required: number;
  /** valid approvals of the step now, this vote included when it counts */
  approvals: number;
  /** false for a rejection, and for the vote of the person who started the rollout */
  counted: boolean;
  /** what the vote does, in words */
  message: string;
}

/**
 * Records one person's vote on the approval step a rollout waits at, with its audit event, and wakes
 * the controller, all in one transaction. The rollout row is read FOR SHARE, so the controller cannot
 * move past the step between the check and the vote. The store's rules hold: one vote per person per
 * step, and the person who started the rollout never counts.
 */
export async function approveRollout(db: Queryable, request: ApprovalRequest): Promise<ApprovalReceipt> {
  const { app, rolloutId, approver, reason } = request;
  const decision = request.decision ?? 'approved';
  const doing = `recording ${approver}'s ${decision === 'approved' ? 'approval' : 'rejection'} of rollout #${rolloutId}`;
  return withTransaction(db, async (tx) => {
    const row = (
      await query<{ app: string; environment: string; plan: RolloutPlan | null; state: RolloutState | null; created_by: string | null }>(
        tx,
        doing,
        'select app, environment, plan, state, created_by from promote.rollouts where id = $1 for share',
        [rolloutId],
      )
    ).rows[0];
    if (!row || row.app !== app) throw new PromoteError(`no rollout #${rolloutId} of ${app}`);
    const { plan, state } = row;
    if (!plan || !state) throw new PromoteError(`rollout #${rolloutId} was recorded without a plan; it cannot be approved`);
    if (TERMINAL_PHASES.has(state.phase) || state.rollingBack) {
      throw new PromoteError(`rollout #${rolloutId} is ${state.rollingBack ? `rolling back (${state.rollingBack.reason})` : state.phase}; votes are taken only while it waits at an approval step`);
    }
    const step = plan.steps[state.step];
    if (step?.kind !== 'approval') {
      const where = step ? `step ${state.step + 1} of ${plan.steps.length} (${describeStep(step)})` : `the end of its ${plan.steps.length} steps`;
      throw new PromoteError(`rollout #${rolloutId} is at ${where}, not at an approval step; votes are taken only while it waits at one`);
    }
    const approval = await recordApproval(tx, { rolloutId, attempt: state.attempt, stepIndex: state.step, approver, decision, reason });
    await appendEvent(tx, {
      type: 'approval.recorded',
      actor: approver,
      app: row.app,
      environment: row.environment,
      rolloutId,
      data: { step: state.step, approver, decision, reason },
    });
    const approvals = await countValidApprovals(tx, rolloutId, state.step, { attempt: state.attempt });
    await query(tx, 'waking the controller', `select pg_notify('${ROLLOUTS_CHANNEL}', $1)`, [String(rolloutId)]);
    const required = step.approval.count;
    const starter = row.created_by !== null && approver === row.created_by;
    const counted = decision === 'approved' && !starter;
    const message =
      decision === 'rejected'
        ? `${approver}'s rejection is recorded as evidence; it does not stop the rollout (abort does)`
        : starter
          ? `${approver} started rollout #${rolloutId}, so their approval does not count; ${approvals} of ${required} valid`
          : approvals >= required
            ? `step ${state.step + 1} has ${approvals} of ${required} approval${required === 1 ? '' : 's'}; the rollout continues`
            : `step ${state.step + 1} has ${approvals} of ${required} approvals; waiting for ${required - approvals} more`;
    return { approval, step: state.step + 1, required, approvals, counted, message };
  });
}
