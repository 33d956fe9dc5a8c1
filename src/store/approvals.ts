import { notFound, PromoteError } from '../errors.js';
import {
  checkId,
  databaseErrorOf,
  PG_CHECK_VIOLATION,
  PG_FOREIGN_KEY_VIOLATION,
  PG_UNIQUE_VIOLATION,
  query,
  rethrow,
  toDate,
  toId,
  withTransaction,
  type Queryable,
} from './queryable.js';

export const APPROVAL_DECISIONS = ['approved', 'rejected'] as const;
export type ApprovalDecision = (typeof APPROVAL_DECISIONS)[number];

export interface Approval {
  id: number;
  rolloutId: number;
  /** the rollout's attempt (1, then one more per retry) the vote was cast in */
  attempt: number;
  stepIndex: number;
  approver: string;
  decision: ApprovalDecision;
  reason: string | null;
  createdAt: Date;
  /** after this moment the vote no longer counts */
  expiresAt: Date | null;
}

export interface ApprovalInput {
  rolloutId: number;
  /** default 1 */
  attempt?: number;
  stepIndex: number;
  approver: string;
  decision: ApprovalDecision;
  reason?: string | null;
  /** after this moment the vote no longer counts; or give `validFor` */
  expiresAt?: Date | null;
  /** the vote stops counting this many milliseconds after it is recorded (the store's clock: created_at + validFor) */
  validFor?: number | null;
}

interface ApprovalRow {
  id: string | number;
  rollout_id: string | number;
  attempt: number;
  step_index: number;
  approver: string;
  decision: ApprovalDecision;
  reason: string | null;
  created_at: Date | string;
  expires_at: Date | string | null;
}

const COLUMNS = 'id, rollout_id, attempt, step_index, approver, decision, reason, created_at, expires_at';

function toApproval(row: ApprovalRow): Approval {
  return {
    id: toId(row.id),
    rolloutId: toId(row.rollout_id),
    attempt: row.attempt,
    stepIndex: row.step_index,
    approver: row.approver,
    decision: row.decision,
    reason: row.reason,
    createdAt: toDate(row.created_at),
    expiresAt: row.expires_at === null ? null : toDate(row.expires_at),
  };
}

function checkAttempt(attempt: number): void {
  if (!Number.isSafeInteger(attempt) || attempt < 1) throw new PromoteError(`the attempt must be a whole number from 1, got ${String(attempt)}`);
}

function checkStepIndex(stepIndex: number): void {
  if (!Number.isSafeInteger(stepIndex) || stepIndex < 0) throw new PromoteError(`the step index must be a whole number from 0, got ${String(stepIndex)}`);
}

/**
 * The refusal of a vote by the person who started the rollout: a sign-off is a second pair of eyes,
 * so the starter's vote is not recorded at all (not even as a rejection: to stop a rollout, abort it).
 */
export function selfApprovalRefusal(approver: string, rolloutId: number, decision: ApprovalDecision): PromoteError {
  const what = decision === 'approved' ? `approve it; ask another approver` : `vote on it; to stop it, abort it`;
  return new PromoteError(`${approver} started rollout #${rolloutId}, so ${approver} cannot ${what}`, { status: 403 });
}

/**
 * Records one person's vote on an approval step. One vote per person per step: a second one is refused
 * (the first stands; votes are evidence, not settings). The person who started the rollout is refused
 * (403) and nothing is recorded: the insert itself checks the rollout's creator, so no caller can skip it.
 */
export async function recordApproval(db: Queryable, input: ApprovalInput): Promise<Approval> {
  checkId('rollout', input.rolloutId);
  checkStepIndex(input.stepIndex);
  const attempt = input.attempt ?? 1;
  checkAttempt(attempt);
  if (typeof input.approver !== 'string' || input.approver.trim().length === 0) throw new PromoteError(`an approval of rollout #${input.rolloutId} needs the approver's name`);
  if (!(APPROVAL_DECISIONS as readonly string[]).includes(input.decision)) {
    throw new PromoteError(`an approval decision is "approved" or "rejected", got ${JSON.stringify(input.decision)}`);
  }
  const expiresAt = input.expiresAt ?? null;
  if (expiresAt !== null && (!(expiresAt instanceof Date) || Number.isNaN(expiresAt.getTime()))) {
    throw new PromoteError(`the expiry of ${input.approver}'s approval must be a valid date`);
  }
  const validFor = input.validFor ?? null;
  if (validFor !== null && (!Number.isSafeInteger(validFor) || validFor < 1)) {
    throw new PromoteError(`how long ${input.approver}'s approval stays valid must be a whole number of milliseconds from 1, got ${String(validFor)}`);
  }
  if (validFor !== null && expiresAt !== null) throw new PromoteError(`${input.approver}'s approval takes an expiry time or a validity, not both`);
  const where = `step ${input.stepIndex} of rollout #${input.rolloutId}${attempt > 1 ? ` (attempt ${attempt})` : ''}`;
  try {
    // a savepoint inside a caller's transaction: after a refusal the connection can still explain it
    return await withTransaction(db, async (tx) => {
      // no row when the voter started the rollout; an unknown rollout still reaches the foreign key
      const result = await tx.query<ApprovalRow>(
        `insert into promote.approvals (rollout_id, attempt, step_index, approver, decision, reason, expires_at)
         select $1, $2, $3, $4, $5, $6, coalesce($7::timestamptz, now() + make_interval(secs => $8::double precision / 1000))
          where not exists (select 1 from promote.rollouts where id = $1 and created_by = $4)
         returning ${COLUMNS}`,
        [input.rolloutId, attempt, input.stepIndex, input.approver, input.decision, input.reason ?? null, expiresAt, validFor],
      );
      const row = result.rows[0];
      if (!row) throw selfApprovalRefusal(input.approver, input.rolloutId, input.decision);
      return toApproval(row);
    });
  } catch (error) {
    if (error instanceof PromoteError) throw error;
    const { code } = databaseErrorOf(error);
    if (code === PG_UNIQUE_VIOLATION) {
      const earlier = (await listApprovals(db, input.rolloutId, input.stepIndex).catch(() => [])).find((approval) => approval.approver === input.approver && approval.attempt === attempt);
      const what = earlier ? ` (${earlier.decision} at ${earlier.createdAt.toISOString()})` : '';
      throw new PromoteError(`${input.approver} has already voted on ${where}${what}; each person votes once per step`, { cause: error });
    }
    if (code === PG_FOREIGN_KEY_VIOLATION) throw notFound(`cannot record an approval of ${where}: rollout #${input.rolloutId} does not exist`, { cause: error });
    if (code === PG_CHECK_VIOLATION && expiresAt !== null) {
      throw new PromoteError(`${input.approver}'s approval of ${where} would expire at ${expiresAt.toISOString()}, which is already past`, { cause: error });
    }
    rethrow(`recording ${input.approver}'s vote on ${where}`, error);
  }
}

/** The votes on a rollout (on one step when `stepIndex` is given), oldest first. */
export async function listApprovals(db: Queryable, rolloutId: number, stepIndex?: number): Promise<Approval[]> {
  checkId('rollout', rolloutId);
  if (stepIndex !== undefined) checkStepIndex(stepIndex);
  const result = await query<ApprovalRow>(
    db,
    `listing the approvals of rollout #${rolloutId}`,
    `select ${COLUMNS} from promote.approvals where rollout_id = $1 and ($2::integer is null or step_index = $2) order by created_at, id`,
    [rolloutId, stepIndex ?? null],
  );
  return result.rows.map(toApproval);
}

/**
 * How many distinct people have approved a step of an attempt (default 1) and still count at `now`:
 * decision approved, not expired. The person who started the rollout (its `createdBy`) never counts
 * (recordApproval refuses their vote; stores from before that kept such votes as not counted), nor does
 * `excludeApprover` when given (for example the author of the release).
 */
export async function countValidApprovals(db: Queryable, rolloutId: number, stepIndex: number, options: { now?: Date; excludeApprover?: string; attempt?: number } = {}): Promise<number> {
  const { now = new Date(), excludeApprover, attempt = 1 } = options;
  checkId('rollout', rolloutId);
  checkStepIndex(stepIndex);
  checkAttempt(attempt);
  if (Number.isNaN(now.getTime())) throw new PromoteError('counting approvals needs a valid current time');
  const result = await query<{ count: string }>(
    db,
    `counting the approvals of step ${stepIndex} of rollout #${rolloutId}`,
    `select count(distinct a.approver) as count
       from promote.approvals a
       join promote.rollouts r on r.id = a.rollout_id
      where a.rollout_id = $1 and a.step_index = $2 and a.decision = 'approved' and a.attempt = $5
        and (a.expires_at is null or a.expires_at > $3)
        and a.approver is distinct from r.created_by
        and ($4::text is null or a.approver <> $4)`,
    [rolloutId, stepIndex, now, excludeApprover ?? null, attempt],
  );
  return Number(result.rows[0]?.count ?? 0);
}
