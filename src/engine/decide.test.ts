import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decide, refuseCommand } from './decide.js';
import type { PlannedStep, RolloutPlan } from './plan.js';
import { simulate } from './simulate.js';
import { initialState, PHASES, TERMINAL_PHASES, type Action } from './state.js';

const test = (name: string): PlannedStep => ({ kind: 'test', test: { name, run: 'true', timeout: 60_000 } });
const analysis = (template = 'error-rate', background = false): PlannedStep => ({ kind: 'analysis', analysis: { templates: [template], background, continuous: false, score: { pass: 100, marginal: 100 } } });

function plan(steps: PlannedStep[], extra: Partial<RolloutPlan> = {}): RolloutPlan {
  return { app: 'shop', environment: 'production', strategy: 'canary', type: 'canary', steps, scaleDownDelay: 0, hooks: { preDeploy: [], postPromote: [], onRollback: [] }, ...extra };
}

const canary = plan([
  { kind: 'migrate', phase: 'expand' },
  test('smoke'),
  { kind: 'setWeight', weight: 10 },
  analysis(),
  { kind: 'setWeight', weight: 50 },
  { kind: 'pause', duration: 60_000 },
  { kind: 'promote' },
  { kind: 'migrate', phase: 'contract' },
]);

const kinds = (actions: Action[]) => actions.map((action) => (action.kind === 'setTraffic' ? `setTraffic ${JSON.stringify(action.weights)}` : action.kind));

describe('decide: a canary from start to Healthy', () => {
  it('runs every step in order and ends Healthy with the release on all traffic', () => {
    const run = simulate(canary, initialState(1, 'v2', 'v1'));
    expect(run.state.phase).toBe('Healthy');
    expect(run.state.reason).toBe('v2 serves all traffic');
    expect(kinds(run.actions)).toEqual([
      'migrate',
      'deploy',
      'runTest',
      'setTraffic {"v2":10,"v1":90}',
      'startAnalysis',
      'setTraffic {"v2":50,"v1":50}',
      'setTraffic {"v2":100,"v1":0}',
      'teardown',
      'migrate',
    ]);
    expect(run.phases).toEqual(['Pending', 'Progressing', 'Paused', 'Progressing', 'Healthy']);
    expect(run.events.filter((event) => event.type === 'step.completed')).toHaveLength(8);
  });

  it('gives every action a distinct, deterministic id, and repeats none when decided again', () => {
    const run = simulate(canary, initialState(7, 'v2', 'v1'));
    const ids = run.actions.map((action) => action.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids[0]).toBe('r7.a1.s0.migrate');
    // a controller that crashed after deciding but before recording anything decides the same again
    const state = initialState(7, 'v2', 'v1');
    const observations = { now: 5, commands: [], outcomes: {}, approvals: {} };
    expect(decide(canary, state, observations)).toEqual(decide(canary, state, observations));
  });

  it('holds the contract migration until the previous version is torn down after scaleDownDelay', () => {
    const run = simulate({ ...canary, scaleDownDelay: 30_000 }, initialState(1, 'v2', 'v1'));
    const order = run.actions.map((action) => action.kind);
    expect(order.indexOf('teardown')).toBeLessThan(order.lastIndexOf('migrate'));
    expect(run.state.phase).toBe('Healthy');
  });
});

describe('decide: failures return traffic to stable by themselves', () => {
  it('rolls back when a test fails, before any traffic moved', () => {
    const run = simulate(canary, initialState(1, 'v2', 'v1'), { outcome: (action) => (action.kind === 'runTest' ? { status: 'failed', detail: '3 of 40 checks failed' } : undefined) });
    expect(run.state.phase).toBe('RolledBack');
    expect(run.state.reason).toBe('test smoke failed: 3 of 40 checks failed; traffic is back on v1');
    expect(kinds(run.actions).slice(-3)).toEqual(['setTraffic {"v1":100,"v2":0}', 'teardown', 'migrate']);
  });

  it("rolls back the release's expand once its instances are gone, and not a migration that never expanded", () => {
    const run = simulate(canary, initialState(1, 'v2', 'v1'), { outcome: (action) => (action.kind === 'runTest' ? { status: 'failed', detail: 'smoke failed' } : undefined) });
    expect(run.actions.slice(-3).map((action) => (action.kind === 'migrate' ? `migrate ${action.phase}` : action.kind))).toEqual(['setTraffic', 'teardown', 'migrate rollback']);
    expect(run.state.phase).toBe('RolledBack');
    const failedExpand = simulate(canary, initialState(1, 'v2', 'v1'), { outcome: (action) => (action.kind === 'migrate' ? { status: 'failed', detail: 'lock budget spent' } : undefined) });
    expect(failedExpand.actions.filter((action) => action.kind === 'migrate')).toHaveLength(1);
    expect(failedExpand.state.phase).toBe('RolledBack');
  });

  it('is Degraded, saying what to run, when rolling back the expand fails', () => {
    const run = simulate(canary, initialState(1, 'v2', 'v1'), {
      outcome: (action) => (action.kind === 'runTest' ? { status: 'failed' } : action.kind === 'migrate' && action.phase === 'rollback' ? { status: 'failed', detail: 'connection refused' } : undefined),
    });
    expect(run.state.phase).toBe('Degraded');
    expect(run.state.reason).toContain("rolling back the release's schema migration failed: connection refused; finish it with `promote migrate rollback`");
  });

  it('rolls back when the analysis fails and stops nothing twice', () => {
    const run = simulate(canary, initialState(1, 'v2', 'v1'), { outcome: (action) => (action.kind === 'startAnalysis' ? { status: 'succeeded', verdict: 'Failed', detail: 'error_rate 0.08 >= 0.01' } : undefined) });
    expect(run.state.phase).toBe('RolledBack');
    expect(run.state.reason).toMatch(/^analysis failed: error_rate 0.08 >= 0.01; traffic is back on v1$/);
    expect(run.actions.filter((action) => action.kind === 'stopAnalysis')).toHaveLength(0);
  });

  it('rolls back when deploying the release fails', () => {
    const run = simulate(canary, initialState(1, 'v2', 'v1'), { outcome: (action) => (action.kind === 'deploy' ? { status: 'failed', detail: 'instance 0 exited with code 1' } : undefined) });
    expect(run.state.phase).toBe('RolledBack');
    expect(run.state.reason).toContain('deploying v2 failed: instance 0 exited with code 1');
  });

  it('is Degraded when traffic cannot be returned', () => {
    const run = simulate(canary, initialState(1, 'v2', 'v1'), {
      outcome: (action) => (action.kind === 'runTest' ? { status: 'failed' } : action.kind === 'setTraffic' && action.stable === 'v1' ? { status: 'failed', detail: 'store unreachable' } : undefined),
    });
    expect(run.state.phase).toBe('Degraded');
    expect(run.state.reason).toContain('returning traffic to v1 failed: store unreachable');
  });

  it('switches back to the previous version when a check fails after the switch, within scaleDownDelay', () => {
    const steps: PlannedStep[] = [{ kind: 'promote' }, { kind: 'verify', verify: { checks: ['orders-reconcile'] } }];
    const run = simulate(plan(steps, { scaleDownDelay: 60_000 }), initialState(1, 'v2', 'v1'), { outcome: (action) => (action.kind === 'verify' ? { status: 'failed', detail: '12 rows differ' } : undefined) });
    expect(run.state.phase).toBe('RolledBack');
    expect(kinds(run.actions)).toContain('setTraffic {"v1":100,"v2":0}');
  });

  it('is Degraded when a check fails after the previous version is gone', () => {
    const steps: PlannedStep[] = [{ kind: 'promote' }, { kind: 'migrate', phase: 'contract' }, { kind: 'verify', verify: { checks: ['orders-reconcile'] } }];
    const run = simulate(plan(steps), initialState(1, 'v2', 'v1'), { outcome: (action) => (action.kind === 'verify' ? { status: 'failed' } : undefined) });
    expect(run.state.phase).toBe('Degraded');
    expect(run.state.reason).toContain('v1 was already torn down');
  });

  it('only stops the instances of an app\'s first release that fails: there is nothing to return to', () => {
    const run = simulate(canary, initialState(1, 'v1', null), { outcome: (action) => (action.kind === 'runTest' ? { status: 'failed' } : undefined) });
    expect(run.state.phase).toBe('RolledBack');
    expect(run.state.reason).toContain('there is no earlier version to return to: v1, the app\'s first release, is stopped');
    expect(kinds(run.actions)).toEqual(['migrate', 'deploy', 'runTest', 'teardown', 'migrate']);
  });

  it('lets an app\'s first release take all traffic at the switch, skipping the weights', () => {
    const run = simulate(canary, initialState(1, 'v1', null));
    expect(run.state.phase).toBe('Healthy');
    expect(kinds(run.actions).filter((kind) => kind.startsWith('setTraffic'))).toEqual(['setTraffic {"v1":100}']);
  });

  it('skips the analysis and the timed pauses of an app\'s first release, but not a pause that waits for a person', () => {
    const steps: PlannedStep[] = [
      { kind: 'setWeight', weight: 20 },
      { kind: 'pause', duration: 3_600_000 },
      { kind: 'analysis', analysis: { templates: ['errors'], background: false, continuous: false, score: { pass: 100, marginal: 75 } } },
      { kind: 'pause' },
      { kind: 'promote' },
    ];
    const first = simulate(plan(steps), initialState(1, 'v1', null));
    expect(first.state.phase).toBe('Paused');
    expect(first.state.step).toBe(3);
    expect(kinds(first.actions)).not.toContain('startAnalysis');
    // a later release waits out the pause and runs its analysis
    const later = simulate(plan(steps), initialState(1, 'v2', 'v1'), { outcome: (action) => (action.kind === 'startAnalysis' ? { status: 'succeeded', verdict: 'Successful' } : undefined) });
    expect(kinds(later.actions)).toContain('startAnalysis');
  });
});

describe('decide: people in the loop', () => {
  it('aborts during a running analysis: stops it, returns traffic, ends Aborted', () => {
    const run = simulate(canary, initialState(1, 'v2', 'v1'), {
      outcome: (action) => (action.kind === 'startAnalysis' ? { status: 'running' } : undefined),
      commands: (tick, state) => (state.phase === 'Progressing' && state.step === 3 && tick > 5 ? [{ kind: 'abort', actor: 'alice', reason: 'latency looks odd' }] : []),
    });
    expect(run.state.phase).toBe('Aborted');
    expect(run.state.reason).toBe('aborted by alice: latency looks odd; traffic is back on v1');
    expect(kinds(run.actions).slice(-4)).toEqual(['stopAnalysis', 'setTraffic {"v1":100,"v2":0}', 'teardown', 'migrate']);
  });

  it('pauses on an inconclusive analysis and continues when resumed', () => {
    let resumed = false;
    const run = simulate(canary, initialState(1, 'v2', 'v1'), {
      outcome: (action) => (action.kind === 'startAnalysis' ? { status: 'succeeded', verdict: 'Inconclusive', detail: '12 samples, 50 needed' } : undefined),
      commands: (_tick, state) => {
        if (state.phase === 'Paused' && state.reason.includes('inconclusive') && !resumed) {
          resumed = true;
          return [{ kind: 'resume', actor: 'bob' }];
        }
        return [];
      },
    });
    expect(resumed).toBe(true);
    expect(run.state.phase).toBe('Healthy');
    expect(run.events).toContainEqual({ type: 'step.completed', data: { step: 3, label: 'analysis error-rate', summary: 'resumed by bob' } });
  });

  it('treats an analysis that could not run as a reason to ask, not to roll back', () => {
    const run = simulate(canary, initialState(1, 'v2', 'v1'), { outcome: (action) => (action.kind === 'startAnalysis' ? { status: 'failed', detail: 'prometheus unreachable' } : undefined), maxTicks: 30, commands: () => [] });
    expect(run.state.phase).toBe('Paused');
    expect(run.state.reason).toContain('could not run: prometheus unreachable');
  });

  it('rolls back during a timed pause when a background analysis fails', () => {
    const steps: PlannedStep[] = [{ kind: 'setWeight', weight: 20 }, analysis('latency', true), { kind: 'pause', duration: 600_000 }, { kind: 'promote' }];
    const run = simulate(plan(steps), initialState(1, 'v2', 'v1'), {
      outcome: (action) => (action.kind === 'startAnalysis' ? { status: 'running' } : undefined),
      // ten seconds into the ten-minute pause, the background analysis sees the regression
      revise: (state, _tick, actions) => {
        const started = actions.find((action) => action.kind === 'startAnalysis');
        return state.phase === 'Paused' && started && state.stepStartedAt !== null ? { [started.id]: { status: 'succeeded', verdict: 'Failed', detail: 'p99 +40%' } } : {};
      },
    });
    expect(run.state.phase).toBe('RolledBack');
    expect(run.state.step).toBe(2);
    expect(run.state.reason).toBe('background analysis failed: p99 +40%; traffic is back on v1');
    expect(kinds(run.actions)).not.toContain('setTraffic {"v2":100,"v1":0}');
  });

  it('asks again for a background analysis that has no outcome, so a controller that took over runs it on', () => {
    const steps: PlannedStep[] = [{ kind: 'setWeight', weight: 20 }, analysis('latency', true), { kind: 'pause', duration: 600_000 }, { kind: 'promote' }];
    const state = { ...initialState(1, 'v2', 'v1'), phase: 'Paused' as const, step: 2, stepStartedAt: 1_000, weight: 20, background: ['r1.a1.s1.startAnalysis'] };
    const decision = decide(plan(steps), state, { now: 2_000, commands: [], outcomes: { 'r1.a1.s0.setTraffic': { status: 'succeeded' } }, approvals: {} });
    expect(decision.actions).toContainEqual({ id: 'r1.a1.s1.startAnalysis', kind: 'startAnalysis', step: 1, templates: ['latency'], background: true });
    // once it has an outcome it is not asked for again
    const later = decide(plan(steps), state, { now: 2_000, commands: [], outcomes: { 'r1.a1.s1.startAnalysis': { status: 'succeeded', verdict: 'Successful' } }, approvals: {} });
    expect(later.actions.filter((action) => action.kind === 'startAnalysis')).toEqual([]);
  });

  it('aborts during a timed pause', () => {
    const run = simulate(canary, initialState(1, 'v2', 'v1'), { commands: (_tick, state) => (state.phase === 'Paused' ? [{ kind: 'abort', actor: 'carol' }] : []) });
    expect(run.state.phase).toBe('Aborted');
    expect(run.state.step).toBe(5);
  });

  it('promote --full stops a pending analysis and jumps to the switch', () => {
    const run = simulate(canary, initialState(1, 'v2', 'v1'), {
      outcome: (action) => (action.kind === 'startAnalysis' ? { status: 'running' } : undefined),
      commands: (tick, state) => (state.step === 3 && tick === 6 ? [{ kind: 'promote', actor: 'dave', full: true }] : []),
    });
    expect(run.state.phase).toBe('Healthy');
    const order = kinds(run.actions);
    expect(order.indexOf('stopAnalysis')).toBeGreaterThan(order.indexOf('startAnalysis'));
    expect(order).not.toContain('setTraffic {"v2":50,"v1":50}');
    expect(run.events.find((event) => event.type === 'rollout.promoted-fully')?.data).toEqual({ by: 'dave', skipped: ['analysis error-rate', 'setWeight 50', 'pause 1m'] });
  });

  it('blue-green without autoPromote waits before the switch until promoted', () => {
    const blueGreen = plan([test('smoke'), { kind: 'pause', reason: 'waiting for `promote promote` to switch traffic to the new version' }, { kind: 'promote' }], { type: 'blueGreen', scaleDownDelay: 30_000 });
    const waiting = simulate(blueGreen, initialState(1, 'green', 'blue'), { commands: () => [], maxTicks: 20 });
    expect(waiting.state.phase).toBe('Paused');
    expect(waiting.state.reason).toContain('waiting for `promote promote`');
    expect(kinds(waiting.actions)).toEqual(['deploy', 'runTest']);
    const promoted = simulate(blueGreen, initialState(1, 'green', 'blue'), { commands: (_tick, state) => (state.phase === 'Paused' ? [{ kind: 'promote', actor: 'erin', full: false }] : []) });
    expect(promoted.state.phase).toBe('Healthy');
    expect(kinds(promoted.actions)).toEqual(['deploy', 'runTest', 'setTraffic {"green":100,"blue":0}', 'teardown']);
  });

  it('waits for N approvals, then proceeds; an expired approval aborts', () => {
    const steps: PlannedStep[] = [{ kind: 'approval', approval: { count: 2, expires: 3_600_000 } }, { kind: 'promote' }];
    const approved = simulate(plan(steps), initialState(1, 'v2', 'v1'), { approvals: (tick) => ({ 0: tick < 3 ? 1 : 2 }) });
    expect(approved.state.phase).toBe('Healthy');
    expect(approved.phases).toContain('Paused');
    const expired = simulate(plan(steps), initialState(1, 'v2', 'v1'), { approvals: () => ({ 0: 1 }), maxTicks: 10_000 });
    expect(expired.state.phase).toBe('Aborted');
    expect(expired.state.reason).toContain('approval at step 1 expired with 1 of 2');
  });

  it('pause and resume by a person hold the rollout where it is', () => {
    const run = simulate(canary, initialState(1, 'v2', 'v1'), {
      commands: (tick) => (tick === 2 ? [{ kind: 'pause', actor: 'frank' }] : tick === 8 ? [{ kind: 'resume', actor: 'frank' }] : []),
    });
    expect(run.state.phase).toBe('Healthy');
    expect(run.events.some((event) => event.type === 'rollout.phase' && event.data.reason === 'paused by frank')).toBe(true);
  });

  it('retry after a rollback starts over with fresh action ids', () => {
    let failures = 1;
    const run = simulate(canary, initialState(1, 'v2', 'v1'), {
      outcome: (action) => (action.kind === 'runTest' && failures-- > 0 ? { status: 'failed' } : undefined),
      commands: (_tick, state) => (state.phase === 'RolledBack' ? [{ kind: 'retry', actor: 'gina' }] : []),
    });
    expect(run.state.phase).toBe('Healthy');
    expect(run.state.attempt).toBe(2);
    expect(run.actions.filter((action) => action.kind === 'runTest').map((action) => action.id)).toEqual(['r1.a1.s1.runTest', 'r1.a2.s1.runTest']);
  });
});

describe('refuseCommand', () => {
  it('accepts exactly the commands that make sense in each phase and names the valid ones otherwise', () => {
    const table = Object.fromEntries(PHASES.map((phase) => [phase, (['pause', 'resume', 'abort', 'promote', 'retry'] as const).filter((command) => refuseCommand(phase, command) === undefined)]));
    expect(table).toEqual({
      Pending: ['pause', 'abort'],
      Progressing: ['pause', 'abort', 'promote'],
      Paused: ['resume', 'abort', 'promote'],
      Healthy: [],
      Degraded: ['retry'],
      RolledBack: ['retry'],
      Aborted: ['retry'],
    });
    expect(refuseCommand('Aborted', 'promote')).toBe('cannot promote a rollout that is Aborted; valid now: retry');
    expect(refuseCommand('Healthy', 'abort')).toBe('cannot abort a rollout that is Healthy; nothing can be done to it now');
  });
});

describe('decide: properties over arbitrary plans and outcomes', () => {
  const stepArbitrary: fc.Arbitrary<PlannedStep> = fc.oneof(
    fc.constantFrom<'expand' | 'contract'>('expand', 'contract').map((phase): PlannedStep => ({ kind: 'migrate', phase })),
    fc.constant(test('t')),
    fc.integer({ min: 0, max: 10_000 }).map((hundredths): PlannedStep => ({ kind: 'setWeight', weight: hundredths / 100 })),
    fc.integer({ min: 1, max: 600 }).map((seconds): PlannedStep => ({ kind: 'pause', duration: seconds * 1000 })),
    fc.boolean().map((background) => analysis('a', background)),
    fc.constant<PlannedStep>({ kind: 'verify', verify: { checks: ['c'] } }),
  );
  // as promote.yaml's own check requires, contract migrations only come after the switch
  const beforeSwitch = stepArbitrary.filter((step) => !(step.kind === 'migrate' && step.phase === 'contract'));
  const planArbitrary = fc
    .tuple(fc.array(beforeSwitch, { maxLength: 6 }), fc.array(stepArbitrary.filter((step) => step.kind !== 'setWeight'), { maxLength: 3 }), fc.integer({ min: 0, max: 120 }))
    .map(([before, after, delay]) => plan([...before, { kind: 'promote' }, ...after], { scaleDownDelay: delay * 1000 }));
  const outcomeArbitrary = fc.func(fc.constantFrom('ok', 'ok', 'ok', 'ok', 'fail', 'inconclusive'));

  it('always ends in a terminal phase (or a pause a person must lift), with traffic adding up to 100 and no contract before the old version is gone', () => {
    fc.assert(
      fc.property(planArbitrary, outcomeArbitrary, fc.boolean(), (rolloutPlan, pickOutcome, firstRelease) => {
        const run = simulate(rolloutPlan, initialState(3, 'v2', firstRelease ? null : 'v1'), {
          outcome: (action) => {
            const verdict = pickOutcome(action.id);
            if (action.kind === 'teardown' || action.kind === 'stopAnalysis' || (action.kind === 'setTraffic' && action.stable === 'v1')) return { status: 'succeeded' };
            if (verdict === 'fail') return { status: 'failed', ...(action.kind === 'startAnalysis' ? { verdict: 'Failed' } : {}) };
            if (action.kind === 'startAnalysis') return verdict === 'inconclusive' ? { status: 'succeeded', verdict: 'Inconclusive' } : { status: 'succeeded', verdict: 'Successful' };
            return { status: 'succeeded' };
          },
        });
        const settled = TERMINAL_PHASES.has(run.state.phase) || (run.state.phase === 'Paused' && run.state.reason.includes('resume to continue'));
        expect(settled).toBe(true);
        for (const action of run.actions) {
          if (action.kind === 'setTraffic') expect(Object.values(action.weights).reduce((a, b) => a + b, 0)).toBeCloseTo(100, 6);
        }
        const ids = run.actions.map((action) => action.id);
        expect(new Set(ids).size).toBe(ids.length);
        const retiredAt = run.actions.findIndex((action) => action.kind === 'teardown' && action.version === 'v1');
        run.actions.forEach((action, index) => {
          if (action.kind === 'migrate' && action.phase === 'contract' && !firstRelease) {
            expect(retiredAt).toBeGreaterThanOrEqual(0);
            expect(retiredAt).toBeLessThan(index);
          }
        });
        if (run.state.phase === 'Healthy') expect(run.state.weight === 100 || firstRelease).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});

describe('decide: hooks', () => {
  const hook = (name: string) => ({ name, run: `echo ${name}`, timeout: 60_000, idempotent: false });
  const withHooks = (steps: PlannedStep[]) =>
    plan(steps, { hooks: { preDeploy: [hook('backup'), hook('announce')], postPromote: [hook('warm-cache')], onRollback: [hook('page-oncall')] } });

  it('runs pre-deploy hooks first, in order, and post-promote hooks right after the switch', () => {
    const run = simulate(withHooks([{ kind: 'migrate', phase: 'expand' }, { kind: 'setWeight', weight: 50 }, { kind: 'promote' }, { kind: 'migrate', phase: 'contract' }]), initialState(1, 'v2', 'v1'));
    expect(run.state.phase).toBe('Healthy');
    expect(run.actions.map((action) => (action.kind === 'runHook' ? `hook ${action.hook.name}` : action.kind))).toEqual([
      'hook backup',
      'hook announce',
      'migrate',
      'deploy',
      'setTraffic',
      'setTraffic',
      'hook warm-cache',
      'teardown',
      'migrate',
    ]);
  });

  it('ends before anything starts when a pre-deploy hook fails', () => {
    const run = simulate(withHooks([{ kind: 'promote' }]), initialState(1, 'v2', 'v1'), { outcome: (action) => (action.kind === 'runHook' && action.hook.name === 'announce' ? { status: 'failed', detail: 'chat is down' } : undefined) });
    expect(run.state.phase).toBe('RolledBack');
    expect(run.state.reason).toContain('preDeploy hook announce failed: chat is down');
    expect(run.actions.some((action) => action.kind === 'deploy')).toBe(false);
    expect(run.actions.at(-1)).toMatchObject({ kind: 'runHook', point: 'onRollback' });
  });

  it('switches back when a post-promote hook fails, and a failing on-rollback hook changes nothing', () => {
    const run = simulate(withHooks([{ kind: 'promote' }]), { ...initialState(1, 'v2', 'v1') }, {
      outcome: (action) => (action.kind === 'runHook' && action.point !== 'preDeploy' ? { status: 'failed', detail: `${action.hook.name} broke` } : undefined),
    });
    expect(run.state.phase).toBe('RolledBack');
    expect(run.state.reason).toMatch(/^postPromote hook warm-cache failed: warm-cache broke; traffic is back on v1$/);
    expect(run.actions.map((action) => action.kind)).toContain('setTraffic');
  });
});

describe('decide: flags of a rolled-back release are turned off', () => {
  const flagged = plan([
    { kind: 'setFlag', flag: { flag: 'new-checkout', enabled: true } },
    { kind: 'setFlag', flag: { flag: 'old-banner', enabled: false } },
    { kind: 'setWeight', weight: 10 },
    { kind: 'setFlag', flag: { flag: 'fast-search', rollout: 25 } },
    analysis(),
    { kind: 'setFlag', flag: { flag: 'never-reached', enabled: true } },
    { kind: 'promote' },
  ]);
  const failAnalysis = (action: Action) => (action.kind === 'startAnalysis' ? { status: 'failed' as const, verdict: 'Failed' as const, detail: 'error rate 4%' } : undefined);

  it('turns off the flags the release turned on, in the same decision that returns traffic, and says so', () => {
    const ticks = new Map<string, number>();
    const run = simulate(flagged, initialState(1, 'v2', 'v1'), { outcome: (action, tick) => (ticks.set(action.id, tick), failAnalysis(action)) });
    expect(run.state.phase).toBe('RolledBack');
    const offs = run.actions.filter((action) => action.kind === 'setFlag' && action.enabled === false && action.id.includes('.rollback.'));
    expect(offs.map((action) => action.kind === 'setFlag' && action.flag)).toEqual(['new-checkout', 'fast-search']);
    const trafficBack = run.actions.find((action) => action.id.endsWith('.rollback.setTraffic'))!;
    for (const off of offs) expect(ticks.get(off.id)).toBe(ticks.get(trafficBack.id));
    expect(run.state.reason).toBe('analysis failed: error rate 4%; traffic is back on v1; flags new-checkout, fast-search off');
  });

  it('turns off a flag whose step was still running when an abort came', () => {
    const run = simulate(flagged, initialState(1, 'v2', 'v1'), {
      outcome: (action) => (action.kind === 'setFlag' && action.flag === 'new-checkout' && !action.id.includes('rollback') ? { status: 'running' } : undefined),
      commands: (tick) => (tick === 2 ? [{ kind: 'abort', actor: 'ana' }] : []),
    });
    expect(run.state.phase).toBe('Aborted');
    expect(run.actions.filter((action) => action.id.includes('.rollback.flag.')).map((action) => action.kind === 'setFlag' && action.flag)).toEqual(['new-checkout']);
  });

  it('finishes the rollback when turning a flag off fails, and names the flag and the reason', () => {
    const run = simulate(flagged, initialState(1, 'v2', 'v1'), {
      outcome: (action) => (action.id.endsWith('.rollback.flag.s3') ? { status: 'failed', detail: 'flag store unreachable' } : failAnalysis(action)),
    });
    expect(run.state.phase).toBe('RolledBack');
    expect(run.state.reason).toBe('analysis failed: error rate 4%; traffic is back on v1; flag new-checkout off (turning off flag fast-search failed: flag store unreachable)');
  });

  it('touches no flag when the rollout rolls back before any setFlag step ran', () => {
    const run = simulate(plan([test('smoke'), { kind: 'setFlag', flag: { flag: 'new-checkout', enabled: true } }, { kind: 'promote' }]), initialState(1, 'v2', 'v1'), {
      outcome: (action) => (action.kind === 'runTest' ? { status: 'failed', detail: 'smoke failed' } : undefined),
    });
    expect(run.state.phase).toBe('RolledBack');
    expect(run.actions.some((action) => action.kind === 'setFlag')).toBe(false);
  });
});
