import { notFound, PromoteError } from '../errors.js';
import { formatDuration } from '../spec/duration.js';
import { appendEvent, countValidApprovals, recordApproval, withTransaction, type Approval, type ApprovalDecision, type Queryable } from '../store/index.js';
import { selfApprovalRefusal } from '../store/approvals.js';
import { query } from '../store/queryable.js';
import { ROLLOUTS_CHANNEL } from '../store/rollout-engine.js';
import { describeStep, type RolloutPlan } from './plan.js';
import { TERMINAL_PHASES, type RolloutState } from './state.js';

export interface ApprovalRequest {
  app: string;
  rolloutId: number;
  /**
   * who votes. The API passes the authenticated caller (with authentication on, the token's name);
   * without authentication, and from the CLI, this is the name the caller gives.
   */
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
  /** true for an approval, which counts until `approval.expiresAt` (when the step has `validFor`); false for a rejection */
  counted: boolean;
  /** what the vote does, in words, with when it stops counting */
  message: string;
}

/** A test named by `approval.after` that had passed when the vote was cast: the evidence the sign-off rests on. */
export interface PassedTest {
  test: string;
  /** the test step, counted from 1 */
  step: number;
  passedAt: string;
}

/**
 * Records one person's vote on the approval step a rollout waits at, with its audit event, and wakes
 * the controller, all in one transaction. The rollout row is read FOR SHARE, so the controller cannot
 * move past the step between the check and the vote. Refused: the person who started the rollout
 * (403), a second vote by the same person on the step, and an approval before every test named by
 * the step's `after` has passed in this attempt (409). With `validFor` the vote expires that long after
 * it is recorded; the controller counts only votes still valid at the moment it decides.
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
    if (!row || row.app !== app) throw notFound(`no rollout #${rolloutId} of ${app}`);
    // who comes before when: the starter is refused whatever the rollout's state
    if (row.created_by !== null && approver === row.created_by) throw selfApprovalRefusal(approver, rolloutId, decision);
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
    // a rejection is evidence whatever the tests say; only an approval must rest on passed tests
    const passed = decision === 'approved' && step.approval.after !== undefined ? await passedTests(tx, rolloutId, plan, state, step.approval.after) : undefined;
    const validFor = decision === 'approved' ? step.approval.validFor : undefined;
    const approval = await recordApproval(tx, { rolloutId, attempt: state.attempt, stepIndex: state.step, approver, decision, reason, ...(validFor !== undefined ? { validFor } : {}) });
    await appendEvent(tx, {
      type: 'approval.recorded',
      actor: approver,
      app: row.app,
      environment: row.environment,
      rolloutId,
      data: {
        step: state.step,
        approver,
        decision,
        reason,
        ...(approval.expiresAt !== null ? { expiresAt: approval.expiresAt.toISOString() } : {}),
        ...(passed !== undefined ? { testsPassed: passed } : {}),
      },
    });
    const approvals = await countValidApprovals(tx, rolloutId, state.step, { attempt: state.attempt });
    await query(tx, 'waking the controller', `select pg_notify('${ROLLOUTS_CHANNEL}', $1)`, [String(rolloutId)]);
    const required = step.approval.count;
    const stepName = `step ${state.step + 1}`;
    const tally = `${approvals} of ${required} approval${required === 1 ? '' : 's'}`;
    const expiry = approval.expiresAt !== null && validFor !== undefined ? `; ${approver}'s approval counts until ${approval.expiresAt.toISOString()} (valid for ${formatDuration(validFor)})` : '';
    const message =
      decision === 'rejected'
        ? `${approver}'s rejection is recorded as evidence only: it neither stops the rollout (abort does: promote abort --env ${row.environment}) nor takes an approval away; ${stepName} has ${tally}`
        : approvals >= required
          ? `${stepName} has ${tally}; the rollout continues${expiry}`
          : `${stepName} has ${tally}; waiting for ${required - approvals} more${expiry}`;
    return { approval, step: state.step + 1, required, approvals, counted: decision === 'approved', message };
  });
}

/** A step's action id as decide() makes it (`r<rollout>.a<attempt>.s<step>.<kind>`), to read a test's outcome. */
function actionId(state: Pick<RolloutState, 'id' | 'attempt'>, step: number, kind: string): string {
  return `r${state.id}.a${state.attempt}.s${step}.${kind}`;
}

/**
 * The outcome of every earlier test step named by `after` in this attempt, as evidence; refuses (409)
 * naming the first that has not passed. All earlier steps of a name must have passed, and a test
 * skipped (a full promotion jumps past steps) has not.
 */
async function passedTests(tx: Queryable, rolloutId: number, plan: RolloutPlan, state: RolloutState, after: readonly string[]): Promise<PassedTest[]> {
  const named = after.map((test) => ({ test, steps: plan.steps.flatMap((each, index) => (index < state.step && each.kind === 'test' && each.test.name === test ? [index] : [])) }));
  const ids = named.flatMap(({ steps }) => steps.map((index) => actionId(state, index, 'runTest')));
  const outcomes = new Map(
    (
      await query<{ id: string; status: string; outcome: { detail?: string } | null; finished_at: Date | null }>(
        tx,
        `checking the tests approval step ${state.step + 1} of rollout #${rolloutId} waits for`,
        'select id, status, outcome, finished_at from promote.rollout_actions where rollout_id = $1 and id = any($2)',
        [rolloutId, ids],
      )
    ).rows.map((each) => [each.id, each]),
  );
  const attempt = state.attempt > 1 ? ` in attempt ${state.attempt}` : '';
  const passed: PassedTest[] = [];
  for (const { test, steps } of named) {
    if (steps.length === 0) {
      throw new PromoteError(`approval step ${state.step + 1} of rollout #${rolloutId} waits for test "${test}", but its plan has no test step of that name before it; nobody can approve it (abort the rollout)`, { status: 409 });
    }
    for (const index of steps) {
      const outcome = outcomes.get(actionId(state, index, 'runTest'));
      if (outcome?.status === 'succeeded' && outcome.finished_at !== null) {
        passed.push({ test, step: index + 1, passedAt: new Date(outcome.finished_at).toISOString() });
        continue;
      }
      const now = outcome === undefined ? 'has not run (a full promotion skips it)' : outcome.status === 'failed' ? `failed${outcome.outcome?.detail ? `: ${outcome.outcome.detail}` : ''}` : 'is still running';
      throw new PromoteError(`test "${test}" (step ${index + 1}) of rollout #${rolloutId} ${now}${attempt}; approval step ${state.step + 1} takes approvals only after it passed`, { status: 409 });
    }
  }
  return passed;
}
