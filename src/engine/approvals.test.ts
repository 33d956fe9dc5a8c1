/**
 * The sign-off rules of an approval step, against a real store: the person who started a rollout
 * cannot vote on it, N distinct people are needed, votes with `validFor` stop counting (and the
 * controller waits again for a fresh one), and `after` takes approvals only once the named tests
 * passed, recording which and when. The first part decides with decide() on what the store observes
 * at a chosen `now`; the second runs the real controller with an executor whose test the test ends.
 */
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStorePool } from '../../test/helpers/database.js';
import { PromoteError } from '../errors.js';
import { parseSpec, type PromoteSpec } from '../spec/index.js';
import { createRelease, getRollout, listApprovals, listEvents, upsertApp } from '../store/index.js';
import { loadEngineRecord } from '../store/rollout-engine.js';
import { approveRollout } from './approvals.js';
import { sendCommand } from './commands.js';
import { Controller } from './controller.js';
import { decide } from './decide.js';
import type { RolloutPlan } from './plan.js';
import { startRollout } from './start.js';
import type { Outcome, RolloutState } from './state.js';

const HOUR = 3_600_000;

const SPEC = `version: 1
app: { name: shop }
environments:
  - { name: one, database: postgres://localhost/shop, target: { type: external, url: "http://127.0.0.1:1/{{version}}" }, strategy: signoff }
  - { name: two, database: postgres://localhost/shop, target: { type: external, url: "http://127.0.0.1:1/{{version}}" }, strategy: signoff }
  - { name: three, database: postgres://localhost/shop, target: { type: external, url: "http://127.0.0.1:1/{{version}}" }, strategy: signoff }
  - { name: four, database: postgres://localhost/shop, target: { type: external, url: "http://127.0.0.1:1/{{version}}" }, strategy: tested }
strategies:
  signoff:
    type: canary
    steps:
      - approval: { count: 2, validFor: 1h }
      - promote: {}
  tested:
    type: canary
    steps:
      - test: { name: smoke, run: "true" }
      - promote: {}
      - approval: { after: [smoke] }
`;

async function setUp(): Promise<{ pool: pg.Pool; url: string; spec: PromoteSpec }> {
  const { pool, url } = await createStorePool();
  const parsed = parseSpec(SPEC, { file: 'promote.yaml' });
  if (!parsed.ok) throw new Error(parsed.problems.map((problem) => problem.message).join('\n'));
  await upsertApp(pool, { name: 'shop' });
  await createRelease(pool, { app: 'shop', version: 'v1', digest: `sha256:${'1'.repeat(64)}`, migrationChecksums: {} });
  return { pool, url, spec: parsed.spec };
}

/** alice starts every rollout; the environment gate is skipped since every environment is a first deploy */
const start = (pool: pg.Pool, spec: PromoteSpec, environment: string) => startRollout(pool, { spec, environment, version: 'v1', actor: 'alice', skipEnvironmentGate: 'approval rules test' });

const vote = (pool: pg.Pool, rolloutId: number, approver: string, reason = 'looked at the dashboards', decision: 'approved' | 'rejected' = 'approved') =>
  approveRollout(pool, { app: 'shop', rolloutId, approver, reason, decision });

/** what the controller would decide about the rollout, seeing the store as it is at `now` */
async function decideAt(pool: pg.Pool, rolloutId: number, now: Date) {
  const record = (await loadEngineRecord(pool, rolloutId, now))!;
  return { approvals: record.approvals, decision: decide(record.plan as RolloutPlan, record.state as RolloutState, { now: now.getTime(), commands: [], outcomes: {}, approvals: record.approvals }) };
}

async function votesRecorded(pool: pg.Pool, rolloutId: number): Promise<{ approvals: number; events: number }> {
  const events = (await listEvents(pool, { rolloutId })).filter((event) => event.type === 'approval.recorded');
  return { approvals: (await listApprovals(pool, rolloutId)).length, events: events.length };
}

describe('approval rules, decided on what the store observes', () => {
  let pool: pg.Pool;
  let spec: PromoteSpec;
  beforeAll(async () => {
    ({ pool, spec } = await setUp());
  });

  it('refuses a vote by the person who started the rollout (403), approval or rejection, and records nothing', async () => {
    const { id } = await start(pool, spec, 'one');
    for (const decision of ['approved', 'rejected'] as const) {
      const refused = await vote(pool, id, 'alice', 'my own release', decision).catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(PromoteError);
      expect((refused as PromoteError).status).toBe(403);
      expect((refused as PromoteError).message).toBe(
        decision === 'approved' ? `alice started rollout #${id}, so alice cannot approve it; ask another approver` : `alice started rollout #${id}, so alice cannot vote on it; to stop it, abort it`,
      );
    }
    expect(await votesRecorded(pool, id)).toEqual({ approvals: 0, events: 0 });
    // someone else's vote on the same step is taken
    expect((await vote(pool, id, 'bob')).approvals).toBe(1);
  });

  it('needs N distinct people: a second vote by the same person is refused, a second person completes the step', async () => {
    const { id } = await start(pool, spec, 'two');
    const first = await vote(pool, id, 'bob', 'error rate flat');
    expect(first).toMatchObject({ step: 1, required: 2, approvals: 1, counted: true, approval: { approver: 'bob', reason: 'error rate flat' } });
    expect(first.message).toBe(`step 1 has 1 of 2 approvals; waiting for 1 more; bob's approval counts until ${first.approval.expiresAt!.toISOString()} (valid for 1h)`);
    await expect(vote(pool, id, 'bob', 'really sure')).rejects.toThrow(new RegExp(`^bob has already voted on step 0 of rollout #${id} \\(approved at .*\\); each person votes once per step$`));
    expect((await decideAt(pool, id, new Date())).decision.state).toMatchObject({ step: 0, phase: 'Paused', reason: 'waiting for 1 more approval at step 1' });
    // a rejection is evidence: it neither counts nor takes an approval away, and says so
    const rejected = await vote(pool, id, 'dave', 'error budget spent', 'rejected');
    expect(rejected).toMatchObject({ counted: false, approvals: 1, approval: { decision: 'rejected', expiresAt: null } });
    expect(rejected.message).toBe("dave's rejection is recorded as evidence only: it neither stops the rollout (abort does: promote abort --env two) nor takes an approval away; step 1 has 1 of 2 approvals");
    const second = await vote(pool, id, 'carol', 'checkout conversions unchanged');
    expect(second).toMatchObject({ approvals: 2, counted: true });
    expect(second.message).toMatch(/^step 1 has 2 of 2 approvals; the rollout continues; carol's approval counts until .* \(valid for 1h\)$/);
    const now = await decideAt(pool, id, new Date());
    expect(now.approvals).toEqual({ 0: 2 });
    expect(now.decision.state).toMatchObject({ step: 1, phase: 'Progressing' });
    // each vote records who and why, and until when it counts
    const events = (await listEvents(pool, { rolloutId: id })).filter((event) => event.type === 'approval.recorded');
    expect(events.map((event) => [event.actor, event.data.decision, event.data.reason, typeof event.data.expiresAt])).toEqual([
      ['bob', 'approved', 'error rate flat', 'string'],
      ['dave', 'rejected', 'error budget spent', 'undefined'],
      ['carol', 'approved', 'checkout conversions unchanged', 'string'],
    ]);
  });

  it('a vote stops counting when it expires: a step that had 2 of 2 waits again', async () => {
    const { id } = await start(pool, spec, 'three');
    const bob = await vote(pool, id, 'bob');
    const carol = await vote(pool, id, 'carol');
    expect(carol.approvals).toBe(2);
    expect(bob.approval.expiresAt!.getTime() - bob.approval.createdAt.getTime()).toBe(HOUR);
    // decided while both count: the step completes
    const before = new Date(bob.approval.createdAt.getTime() + HOUR / 2);
    expect((await decideAt(pool, id, before)).decision.state).toMatchObject({ step: 1 });
    // the controller did not act until both had expired: the step waits for two fresh approvals
    const later = new Date(Math.max(bob.approval.expiresAt!.getTime(), carol.approval.expiresAt!.getTime()) + 1);
    const expired = await decideAt(pool, id, later);
    expect(expired.approvals).toEqual({});
    expect(expired.decision.state).toMatchObject({ step: 0, phase: 'Paused', reason: 'waiting for 2 more approvals at step 1' });
    // the votes stay as evidence, each with its expiry
    expect((await listApprovals(pool, id)).map((approval) => approval.expiresAt?.getTime())).toEqual([bob.approval.expiresAt!.getTime(), carol.approval.expiresAt!.getTime()]);
  });
});

describe('approval rules, with the controller running', () => {
  let pool: pg.Pool;
  let spec: PromoteSpec;
  let controller: Controller;
  const tests: Array<{ id: string; finish: (outcome: Outcome) => void }> = [];
  beforeAll(async () => {
    let url: string;
    ({ pool, url, spec } = await setUp());
    controller = new Controller({
      pool,
      databaseUrl: url,
      pollMs: 100,
      executor: {
        // every action succeeds at once, except a test, which runs until the test below ends it
        perform: (action) => (action.kind === 'runTest' ? new Promise<Outcome>((finish) => tests.push({ id: action.id, finish })) : Promise.resolve({ status: 'succeeded' })),
      },
    });
    // started by the first test, once its votes are in
  });
  afterAll(async () => {
    for (const test of tests) test.finish({ status: 'failed', detail: 'the test file ended' });
    await controller?.stop();
  });

  const waitFor = async (what: string, id: number, check: (rollout: { phase: string; phaseReason: string | null; currentStep: number }) => boolean) => {
    for (let waited = 0; waited < 20_000; waited += 50) {
      const rollout = (await getRollout(pool, id))!;
      if (check(rollout)) return rollout;
      await new Promise((done) => setTimeout(done, 50));
    }
    throw new Error(`rollout #${id} never reached ${what}: ${JSON.stringify(await getRollout(pool, id))}`);
  };

  it('a step that had 2 of 2 when voted but lost one to expiry before the controller acted waits for another', async () => {
    const { id } = await start(pool, spec, 'one');
    await vote(pool, id, 'bob');
    expect((await vote(pool, id, 'carol')).message).toMatch(/^step 1 has 2 of 2 approvals; the rollout continues/);
    // as if bob had voted two hours ago: his vote, valid for 1h, has expired by the time the controller looks
    await pool.query(`update promote.approvals set created_at = created_at - interval '2 hours', expires_at = expires_at - interval '2 hours' where rollout_id = $1 and approver = 'bob'`, [id]);
    await controller.start();
    controller.wake(id);
    expect(await waitFor('the approval step', id, (rollout) => rollout.phase === 'Paused')).toMatchObject({ currentStep: 0, phaseReason: 'waiting for 1 more approval at step 1' });
    await vote(pool, id, 'dave');
    expect(await waitFor('Healthy', id, (rollout) => rollout.phase === 'Healthy')).toMatchObject({ phase: 'Healthy' });
    const completed = (await listEvents(pool, { rolloutId: id })).find((event) => event.type === 'step.completed' && event.data.step === 0);
    expect(completed?.data.summary).toBe('approved by 2');
  }, 40_000);

  it('takes approvals only after the named test passed, and records which passed and when', async () => {
    const { id } = await start(pool, spec, 'four');
    controller.wake(id);
    for (let waited = 0; waited < 20_000 && tests.length === 0; waited += 50) await new Promise((done) => setTimeout(done, 50));
    const smoke = tests.shift()!;
    expect(smoke.id).toBe(`r${id}.a1.s0.runTest`);
    await expect(vote(pool, id, 'bob')).rejects.toThrow(`rollout #${id} is at step 1 of 3 (test smoke), not at an approval step; votes are taken only while it waits at one`);
    // a full promotion jumps past the running test to the switch; the approval step after it comes next
    await sendCommand(pool, { app: 'shop', environment: 'four', kind: 'promote', full: true, actor: 'erin' });
    controller.wake(id);
    expect(await waitFor('the approval step', id, (rollout) => rollout.phase === 'Paused')).toMatchObject({ currentStep: 2, phaseReason: 'waiting for 1 more approval at step 3' });
    const early = await vote(pool, id, 'bob').catch((error: unknown) => error);
    expect(early).toBeInstanceOf(PromoteError);
    expect(early).toMatchObject({ status: 409, message: `test "smoke" (step 1) of rollout #${id} is still running; approval step 3 takes approvals only after it passed` });
    // a rejection needs no passed test: it is evidence
    expect(await vote(pool, id, 'dave', 'not before smoke passes', 'rejected')).toMatchObject({ counted: false, approvals: 0 });
    expect(await votesRecorded(pool, id)).toEqual({ approvals: 1, events: 1 });

    smoke.finish({ status: 'succeeded', detail: 'smoke: v1 answers' });
    let finishedAt: Date | undefined;
    for (let waited = 0; waited < 20_000 && finishedAt === undefined; waited += 50) {
      finishedAt = (await pool.query<{ finished_at: Date | null }>(`select finished_at from promote.rollout_actions where rollout_id = $1 and id = $2 and status = 'succeeded'`, [id, smoke.id])).rows[0]?.finished_at ?? undefined;
      if (finishedAt === undefined) await new Promise((done) => setTimeout(done, 50));
    }
    const receipt = await vote(pool, id, 'bob', 'smoke passed, dashboards fine');
    expect(receipt).toMatchObject({ approvals: 1, counted: true, message: 'step 3 has 1 of 1 approval; the rollout continues' });
    const recorded = (await listEvents(pool, { rolloutId: id })).filter((event) => event.type === 'approval.recorded').at(-1);
    expect(recorded).toMatchObject({ actor: 'bob', data: { step: 2, approver: 'bob', decision: 'approved', reason: 'smoke passed, dashboards fine', testsPassed: [{ test: 'smoke', step: 1, passedAt: finishedAt!.toISOString() }] } });
    expect(await waitFor('Healthy', id, (rollout) => rollout.phase === 'Healthy')).toMatchObject({ phase: 'Healthy' });
  }, 40_000);
});
