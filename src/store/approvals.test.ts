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

  it('refuses a vote by the person who started the rollout (403) and records nothing', async () => {
    for (const decision of ['approved', 'rejected'] as const) {
      const refused = await recordApproval(pool, { rolloutId, stepIndex: 3, approver: 'alice', decision, reason: 'my own release' }).catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(PromoteError);
      expect((refused as PromoteError).status).toBe(403);
    }
    await expect(recordApproval(pool, { rolloutId, stepIndex: 3, approver: 'alice', decision: 'approved' })).rejects.toThrow(`alice started rollout #${rolloutId}, so alice cannot approve it; ask another approver`);
    await expect(recordApproval(pool, { rolloutId, stepIndex: 3, approver: 'alice', decision: 'rejected' })).rejects.toThrow(`alice started rollout #${rolloutId}, so alice cannot vote on it; to stop it, abort it`);
    expect((await listApprovals(pool, rolloutId)).map((approval) => approval.approver)).not.toContain('alice');
  });

  it('never counts the person who started the rollout (a vote kept from before the refusal), nor an excluded approver', async () => {
    // stores written before votes by the starter were refused may hold one: it stays uncounted
    await pool.query(`insert into promote.approvals (rollout_id, step_index, approver, decision) values ($1, 3, 'alice', 'approved')`, [rolloutId]);
    const now = new Date();
    expect(await countValidApprovals(pool, rolloutId, 3, { now })).toBe(3);
    expect(await countValidApprovals(pool, rolloutId, 3, { now, excludeApprover: 'erin' })).toBe(2);
    // a rollout without a recorded creator excludes only the one named
    await recordApproval(pool, { rolloutId: anonymousRolloutId, stepIndex: 0, approver: 'alice', decision: 'approved' });
    await recordApproval(pool, { rolloutId: anonymousRolloutId, stepIndex: 0, approver: 'bob', decision: 'approved' });
    expect(await countValidApprovals(pool, anonymousRolloutId, 0, { now })).toBe(2);
    expect(await countValidApprovals(pool, anonymousRolloutId, 0, { now, excludeApprover: 'bob' })).toBe(1);
  });

  it('a vote valid for a duration expires that long after the store recorded it, and stops counting then', async () => {
    const vote = await recordApproval(pool, { rolloutId, stepIndex: 13, approver: 'bob', decision: 'approved', reason: 'fine for now', validFor: 4 * HOUR });
    expect(vote.expiresAt!.getTime() - vote.createdAt.getTime()).toBe(4 * HOUR);
    expect(await countValidApprovals(pool, rolloutId, 13, { now: new Date(vote.createdAt.getTime() + 4 * HOUR - 1) })).toBe(1);
    // the store keeps microseconds, a Date milliseconds: one more millisecond is surely past the expiry
    expect(await countValidApprovals(pool, rolloutId, 13, { now: new Date(vote.expiresAt!.getTime() + 1) })).toBe(0);
    await expect(recordApproval(pool, { rolloutId, stepIndex: 13, approver: 'carol', decision: 'approved', validFor: 0 })).rejects.toThrow("how long carol's approval stays valid must be a whole number of milliseconds from 1, got 0");
    await expect(recordApproval(pool, { rolloutId, stepIndex: 13, approver: 'carol', decision: 'approved', validFor: HOUR, expiresAt: new Date(Date.now() + HOUR) })).rejects.toThrow("carol's approval takes an expiry time or a validity, not both");
    await pool.query('delete from promote.approvals where step_index = 13');
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
