import type pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { createStorePool } from '../../test/helpers/database.js';
import { PromoteError } from '../errors.js';
import { upsertApp } from './apps.js';
import { countValidApprovals, listApprovals, recordApproval } from './approvals.js';
import { syncEnvironments } from './environments.js';
import { createRelease } from './releases.js';
import { createRollout, updateRolloutState } from './rollouts.js';

const HOUR = 3_600_000;

describe('approvals', () => {
  let pool: pg.Pool;
  let rolloutId: number;
  let anonymousRolloutId: number;
  beforeAll(async () => {
    ({ pool } = await createStorePool());
    await upsertApp(pool, { name: 'shop' });
    await syncEnvironments(pool, 'shop', ['staging', 'production']);
    const { release } = await createRelease(pool, { app: 'shop', version: '1.0.0', digest: `sha256:${'d'.repeat(64)}`, migrationChecksums: {} });
    rolloutId = (await createRollout(pool, { app: 'shop', environment: 'production', releaseId: release.id, strategy: {}, createdBy: 'alice' })).id;
    anonymousRolloutId = (await createRollout(pool, { app: 'shop', environment: 'staging', releaseId: release.id, strategy: {} })).id;
  });

  it('records a vote and lists it', async () => {
    const approval = await recordApproval(pool, { rolloutId, stepIndex: 3, approver: 'bob', decision: 'approved', reason: 'dashboards look fine' });
    expect(approval).toMatchObject({ rolloutId, stepIndex: 3, approver: 'bob', decision: 'approved', reason: 'dashboards look fine', expiresAt: null });
    expect(approval.createdAt).toBeInstanceOf(Date);
    expect(await listApprovals(pool, rolloutId, 3)).toEqual([approval]);
    expect(await listApprovals(pool, rolloutId, 4)).toEqual([]);
  });

  it('refuses a second vote by the same person on the same step, and the first vote stands', async () => {
    const second = recordApproval(pool, { rolloutId, stepIndex: 3, approver: 'bob', decision: 'rejected' });
    await expect(second).rejects.toThrow(PromoteError);
    await expect(second).rejects.toThrow(new RegExp(`^bob has already voted on step 3 of rollout #${rolloutId} \\(approved at .*\\); each person votes once per step$`));
    expect((await listApprovals(pool, rolloutId, 3)).map((approval) => approval.decision)).toEqual(['approved']);
    // the same person on another step is another vote
    await recordApproval(pool, { rolloutId, stepIndex: 5, approver: 'bob', decision: 'approved' });
  });

  it('counts distinct approvers who approved and have not expired', async () => {
    const now = new Date();
    await recordApproval(pool, { rolloutId, stepIndex: 3, approver: 'carol', decision: 'approved', expiresAt: new Date(now.getTime() + HOUR) });
    await recordApproval(pool, { rolloutId, stepIndex: 3, approver: 'dave', decision: 'rejected', reason: 'error rate' });
    await recordApproval(pool, { rolloutId, stepIndex: 3, approver: 'erin', decision: 'approved', expiresAt: new Date(now.getTime() + 2 * HOUR) });
    // bob (no expiry), carol, erin approved; dave rejected
    expect(await countValidApprovals(pool, rolloutId, 3, { now })).toBe(3);
    // after carol's approval expires, only bob and erin count
    expect(await countValidApprovals(pool, rolloutId, 3, { now: new Date(now.getTime() + HOUR + 1) })).toBe(2);
    // expiry is exclusive: at the exact moment it no longer counts
    expect(await countValidApprovals(pool, rolloutId, 3, { now: new Date(now.getTime() + HOUR) })).toBe(2);
    expect(await countValidApprovals(pool, rolloutId, 3, { now: new Date(now.getTime() + 3 * HOUR) })).toBe(1);
    // another step, another count
    expect(await countValidApprovals(pool, rolloutId, 5, { now })).toBe(1);
    expect(await countValidApprovals(pool, rolloutId, 7, { now })).toBe(0);
  });

  it('never counts the person who started the rollout, nor an excluded approver', async () => {
    await recordApproval(pool, { rolloutId, stepIndex: 3, approver: 'alice', decision: 'approved' });
    const now = new Date();
    expect(await countValidApprovals(pool, rolloutId, 3, { now })).toBe(3); // alice is the rollout's creator
    expect(await countValidApprovals(pool, rolloutId, 3, { now, excludeApprover: 'erin' })).toBe(2);
    expect((await listApprovals(pool, rolloutId, 3)).map((approval) => approval.approver)).toContain('alice');
    // a rollout without a recorded creator excludes only the one named
    await recordApproval(pool, { rolloutId: anonymousRolloutId, stepIndex: 0, approver: 'alice', decision: 'approved' });
    await recordApproval(pool, { rolloutId: anonymousRolloutId, stepIndex: 0, approver: 'bob', decision: 'approved' });
    expect(await countValidApprovals(pool, anonymousRolloutId, 0, { now })).toBe(2);
    expect(await countValidApprovals(pool, anonymousRolloutId, 0, { now, excludeApprover: 'bob' })).toBe(1);
  });

  it('refuses an expiry already past, an unknown rollout and bad input', async () => {
    await expect(recordApproval(pool, { rolloutId, stepIndex: 3, approver: 'frank', decision: 'approved', expiresAt: new Date(Date.now() - HOUR) })).rejects.toThrow(
      /^frank's approval of step 3 of rollout #\d+ would expire at .*, which is already past$/,
    );
    await expect(recordApproval(pool, { rolloutId: 999_999, stepIndex: 0, approver: 'frank', decision: 'approved' })).rejects.toThrow('rollout #999999 does not exist');
    await expect(recordApproval(pool, { rolloutId, stepIndex: -1, approver: 'frank', decision: 'approved' })).rejects.toThrow('the step index must be a whole number from 0');
    await expect(recordApproval(pool, { rolloutId, stepIndex: 3, approver: ' ', decision: 'approved' })).rejects.toThrow("needs the approver's name");
    await expect(recordApproval(pool, { rolloutId, stepIndex: 3, approver: 'frank', decision: 'maybe' as never })).rejects.toThrow('"approved" or "rejected", got "maybe"');
    expect((await listApprovals(pool, rolloutId)).map((approval) => approval.approver)).not.toContain('frank');
  });

  it('inside a caller transaction, a refused duplicate leaves the transaction usable', async () => {
    const client = await pool.connect();
    try {
      await client.query('begin');
      await recordApproval(client, { rolloutId, stepIndex: 9, approver: 'gina', decision: 'approved' });
      await expect(recordApproval(client, { rolloutId, stepIndex: 9, approver: 'gina', decision: 'approved' })).rejects.toThrow('gina has already voted');
      await updateRolloutState(client, rolloutId, { currentStep: 9 });
      await client.query('commit');
    } finally {
      client.release();
    }
    expect(await countValidApprovals(pool, rolloutId, 9)).toBe(1);
  });

  it('votes belong to one attempt: after a retry the earlier votes do not count and the same people vote again', async () => {
    await recordApproval(pool, { rolloutId, attempt: 2, stepIndex: 11, approver: 'hank', decision: 'approved' });
    expect(await countValidApprovals(pool, rolloutId, 11, { attempt: 2 })).toBe(1);
    expect(await countValidApprovals(pool, rolloutId, 11, { attempt: 3 })).toBe(0);
    const again = await recordApproval(pool, { rolloutId, attempt: 3, stepIndex: 11, approver: 'hank', decision: 'approved' });
    expect(again).toMatchObject({ attempt: 3, stepIndex: 11, approver: 'hank' });
    expect(await countValidApprovals(pool, rolloutId, 11, { attempt: 3 })).toBe(1);
    await expect(recordApproval(pool, { rolloutId, attempt: 3, stepIndex: 11, approver: 'hank', decision: 'rejected' })).rejects.toThrow(/hank has already voted on step 11 of rollout #\d+ \(attempt 3\) \(approved at .*\); each person votes once per step/);
    await expect(recordApproval(pool, { rolloutId, attempt: 0, stepIndex: 11, approver: 'ivy', decision: 'approved' })).rejects.toThrow('the attempt must be a whole number from 1, got 0');
    await pool.query('delete from promote.approvals where step_index = 11');
  });

  it('lists every vote of a rollout, oldest first', async () => {
    const all = await listApprovals(pool, rolloutId);
    expect(all.map((approval) => `${approval.stepIndex}:${approval.approver}`)).toEqual(['3:bob', '5:bob', '3:carol', '3:dave', '3:erin', '3:alice', '9:gina']);
  });
});
