/**
 * Freeze windows where they act: starting a rollout (refuse: 423 and nothing recorded; override: the
 * reason recorded with the rollout, atomically; wait: the rollout holds, then a real controller on a
 * real store carries it out once the window ends) and the pure decision that holds it.
 */
import { describe, expect, it } from 'vitest';
import { createStorePool } from '../../test/helpers/database.js';
import { PromoteError } from '../errors.js';
import { parseSpec, type PromoteSpec } from '../spec/index.js';
import { createRelease, listEvents, upsertApp, verifyEventChain } from '../store/index.js';
import { Controller } from './controller.js';
import { decide } from './decide.js';
import { frozenReason } from './freeze.js';
import { planRollout } from './plan.js';
import { startRollback } from './rollback.js';
import { startRollout } from './start.js';
import { initialState, type Action } from './state.js';

const specWith = (mode: 'refuse' | 'wait', from: Date, until: Date): PromoteSpec => {
  const parsed = parseSpec(
    `version: 1
app: { name: shop }
environments:
  - name: production
    database: postgres://localhost/shop
    target: { type: external, url: "http://127.0.0.1:1/{{version}}" }
    strategy: canary
    freeze:
      mode: ${mode}
      timezone: Europe/Berlin
      windows:
        - name: release-party
          from: ${from.toISOString()}
          until: ${until.toISOString()}
strategies:
  canary:
    type: canary
    steps:
      - setWeight: 50
      - promote: {}
`,
    { file: 'promote.yaml' },
  );
  if (!parsed.ok) throw new Error(parsed.problems.map((problem) => problem.message).join('\n'));
  return parsed.spec;
};

const seconds = (n: number) => new Date(Date.now() + n * 1000);

async function storeWithRelease(versions = ['v1']) {
  const { pool, url } = await createStorePool();
  await upsertApp(pool, { name: 'shop' });
  for (const [index, version] of versions.entries()) await createRelease(pool, { app: 'shop', version, digest: `sha256:${String(index + 1).repeat(64)}`, migrationChecksums: {} });
  return { pool, url };
}

describe('the decision holding a frozen rollout', () => {
  it('pauses with the window and its end, acts on nothing, wakes at the end, then goes on', () => {
    const spec = specWith('wait', seconds(-60), seconds(60));
    const until = Date.parse('2026-11-30T07:00:00Z');
    const plan = { ...planRollout(spec, 'production'), frozenUntil: { window: 'weekend', until } };
    const held = decide(plan, initialState(7, 'v2', 'v1'), { now: until - 1, commands: [], outcomes: {}, approvals: {} });
    expect(held.state).toMatchObject({ phase: 'Paused', reason: 'frozen by weekend until 2026-11-30T07:00Z', step: 0 });
    expect(held.actions).toEqual([]);
    expect(held.wakeAt).toBe(until);
    // a resume while frozen does not get past the freeze
    const resumed = decide(plan, held.state, { now: until - 1, commands: [{ kind: 'resume', actor: 'bob' }], outcomes: {}, approvals: {} });
    expect(resumed.state).toMatchObject({ phase: 'Paused', reason: frozenReason('weekend', until) });
    expect(resumed.actions).toEqual([]);
    const after = decide(plan, held.state, { now: until, commands: [], outcomes: {}, approvals: {} });
    expect(after.state).toMatchObject({ phase: 'Progressing', reason: 'freeze weekend over', step: 0 });
    expect(after.actions.map((action: Action) => action.kind)).toEqual(['deploy']);
  });
});

describe('starting a rollout into a frozen environment', () => {
  it('refuse: a 423 naming the window, its end and the override; nothing is recorded', async () => {
    const { pool } = await storeWithRelease();
    const until = seconds(3600);
    const spec = specWith('refuse', seconds(-60), until);
    const error = await startRollout(pool, { spec, environment: 'production', version: 'v1', actor: 'alice' }).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(PromoteError);
    expect((error as PromoteError).status).toBe(423);
    expect((error as PromoteError).message).toBe(`production is frozen by window release-party until ${until.toISOString().slice(0, 16)}Z: deploys there are refused until then`);
    expect((error as PromoteError).hint).toContain('--override-freeze "<reason>"');
    expect((await pool.query('select count(*)::int as n from promote.rollouts')).rows[0]).toEqual({ n: 0 });
    // the same spec outside the window starts normally
    const later = await startRollout(pool, { spec, environment: 'production', version: 'v1', actor: 'alice', now: seconds(7200) });
    expect(later.phase).toBe('Pending');
  });

  it('override: the rollout starts unheld and freeze.overridden carries actor, window and reason, in its transaction', async () => {
    const { pool } = await storeWithRelease();
    const spec = specWith('refuse', seconds(-60), seconds(3600));
    // a start that fails after the override was judged leaves no event behind
    await expect(startRollout(pool, { spec, environment: 'production', version: 'v9', actor: 'alice', overrideFreeze: 'hotfix' })).rejects.toThrow('release v9 of shop is not recorded');
    expect((await listEvents(pool, { app: 'shop' })).filter((event) => event.type === 'freeze.overridden')).toEqual([]);

    const rollout = await startRollout(pool, { spec, environment: 'production', version: 'v1', actor: 'alice', overrideFreeze: 'hotfix for INC-42' });
    const events = await listEvents(pool, { rolloutId: rollout.id });
    const overridden = events.find((event) => event.type === 'freeze.overridden');
    expect(overridden).toMatchObject({ actor: 'alice', environment: 'production', data: { window: 'release-party', reason: 'hotfix for INC-42', version: 'v1' } });
    const plan = (await pool.query<{ plan: { frozenUntil?: unknown } }>('select plan from promote.rollouts where id = $1', [rollout.id])).rows[0]!.plan;
    expect(plan.frozenUntil).toBeUndefined();
    expect(await verifyEventChain(pool)).toMatchObject({ ok: true });
  });

  it('a rollback is not held by a freeze: it is the way out of a bad release', async () => {
    const { pool } = await storeWithRelease(['v1', 'v2']);
    const spec = specWith('refuse', seconds(-60), seconds(3600));
    for (const version of ['v1', 'v2']) {
      const rollout = await startRollout(pool, { spec, environment: 'production', version, actor: 'alice', now: seconds(-3600) });
      await pool.query(`update promote.rollouts set phase = 'Healthy' where id = $1`, [rollout.id]);
    }
    const back = await startRollback(pool, { spec, environment: 'production', actor: 'alice', to: 'v1' });
    expect(back.phase).toBe('Pending');
  });

  it('wait: the rollout is created and holds, then the controller carries it out once the window ends', async () => {
    const { pool, url } = await storeWithRelease();
    const until = seconds(4);
    const spec = specWith('wait', seconds(-60), until);
    const performed: Array<{ kind: string; at: number }> = [];
    const controller = new Controller({
      pool,
      databaseUrl: url,
      pollMs: 200,
      executor: {
        perform: (action) => {
          performed.push({ kind: action.kind, at: Date.now() });
          return Promise.resolve({ status: 'succeeded' });
        },
      },
    });
    await controller.start();
    try {
      const rollout = await startRollout(pool, { spec, environment: 'production', version: 'v1', actor: 'alice' });
      const created = (await listEvents(pool, { rolloutId: rollout.id })).find((event) => event.type === 'rollout.created');
      expect(created?.data).toMatchObject({ frozenUntil: { window: 'release-party', until: until.toISOString() } });
      const phaseOf = async () => (await pool.query<{ phase: string; phase_reason: string }>('select phase, phase_reason from promote.rollouts where id = $1', [rollout.id])).rows[0]!;
      let seen = await phaseOf();
      for (let waited = 0; waited < 3_000 && seen.phase !== 'Paused'; waited += 50) {
        await new Promise((done) => setTimeout(done, 50));
        seen = await phaseOf();
      }
      // the window has not ended before the hold was seen only on a very slow machine; then the test proves less, not wrong
      if (Date.now() < until.getTime()) {
        expect(seen).toEqual({ phase: 'Paused', phase_reason: `frozen by release-party until ${until.toISOString().slice(0, 16)}Z` });
        expect(performed).toEqual([]);
      }
      for (let waited = 0; waited < 20_000 && seen.phase !== 'Healthy'; waited += 100) {
        await new Promise((done) => setTimeout(done, 100));
        seen = await phaseOf();
      }
      await controller.idle();
      expect(seen.phase).toBe('Healthy');
      expect(performed.length).toBeGreaterThan(0);
      expect(Math.min(...performed.map((each) => each.at))).toBeGreaterThanOrEqual(until.getTime());
      const phases = (await listEvents(pool, { rolloutId: rollout.id })).filter((event) => event.type === 'rollout.phase').map((event) => `${String(event.data.to)}: ${String(event.data.reason)}`);
      expect(phases.slice(0, 3)).toEqual(['Progressing: rolling out v1', expect.stringMatching(/^Paused: frozen by release-party until /), 'Progressing: freeze release-party over']);
      expect(await verifyEventChain(pool)).toMatchObject({ ok: true });
    } finally {
      await controller.stop();
    }
  }, 40_000);
});
