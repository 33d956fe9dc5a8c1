import { formatDuration } from '../spec/duration.js';
import { frozenReason } from './freeze.js';
import { describeStep, type HookPoint, type PlannedStep, type RolloutPlan } from './plan.js';
import { TERMINAL_PHASES, type Action, type Command, type Decision, type EngineEvent, type Observations, type Outcome, type Phase, type RolloutState } from './state.js';

/**
 * The rollout engine's only decision-maker, a pure function (as Argo Rollouts computes a rollout's
 * phase from its state): given the durable state and what has been observed since, it returns the
 * next state, the actions to perform and the events to record. Action ids are deterministic, so the
 * controller can repeat a decision after a crash and never perform an action twice.
 */
export function decide(plan: RolloutPlan, state: RolloutState, observations: Observations): Decision {
  const context = new Context(plan, { ...state, background: [...state.background] }, observations);
  for (const command of observations.commands) context.apply(command);
  context.run();
  return context.result();
}

/** Whether `command` makes sense in `phase`; the reason it does not, for the API to refuse it. */
export function refuseCommand(phase: Phase, command: Command['kind']): string | undefined {
  const allowed: Record<Command['kind'], readonly Phase[]> = {
    pause: ['Pending', 'Progressing'],
    resume: ['Paused'],
    abort: ['Pending', 'Progressing', 'Paused'],
    promote: ['Progressing', 'Paused'],
    retry: ['Aborted', 'RolledBack', 'Degraded'],
  };
  if (allowed[command].includes(phase)) return undefined;
  const valid = (Object.keys(allowed) as Array<Command['kind']>).filter((kind) => allowed[kind].includes(phase));
  return `cannot ${command} a rollout that is ${phase}; ${valid.length > 0 ? `valid now: ${valid.join(', ')}` : 'nothing can be done to it now'}`;
}

class Context {
  private readonly actions: Action[] = [];
  private readonly events: EngineEvent[] = [];
  private wakeAt: number | undefined;

  constructor(
    private readonly plan: RolloutPlan,
    private state: RolloutState,
    private readonly observed: Observations,
  ) {}

  result(): Decision {
    return { state: this.state, actions: this.actions, events: this.events, ...(this.wakeAt !== undefined ? { wakeAt: this.wakeAt } : {}) };
  }

  // ---- commands -------------------------------------------------------------------------------

  apply(command: Command): void {
    const { state } = this;
    if (refuseCommand(state.phase, command.kind) !== undefined || state.rollingBack) return;
    switch (command.kind) {
      case 'pause':
        this.state = { ...state, pausedBy: command.actor };
        this.setPhase('Paused', `paused by ${command.actor}`);
        return;
      case 'resume': {
        const current = this.plan.steps[state.step];
        this.state = { ...state, pausedBy: null };
        // paused by a step rather than a person: a pause, or an inconclusive analysis, which the person
        // resuming has now judged; an approval still needs its approvals
        const stepPaused = state.pausedBy === null && current !== undefined;
        const inconclusive = current?.kind === 'analysis' && this.outcome(this.id(state.step, 'startAnalysis'))?.status !== 'running' && this.outcome(this.id(state.step, 'startAnalysis')) !== undefined;
        const frozen = this.plan.frozenUntil !== undefined && this.observed.now < this.plan.frozenUntil.until;
        if (stepPaused && !frozen && (current.kind === 'pause' || inconclusive)) this.completeStep(`resumed by ${command.actor}`);
        this.setPhase('Progressing', `resumed by ${command.actor}`);
        return;
      }
      case 'abort':
        this.rollBack('Aborted', command.reason ? `aborted by ${command.actor}: ${command.reason}` : `aborted by ${command.actor}`);
        return;
      case 'promote': {
        if (command.full) {
          const switchAt = this.plan.steps.findIndex((step, index) => index >= state.step && step.kind === 'promote');
          if (switchAt >= 0) {
            this.stopBackgroundAnalyses();
            const current = this.plan.steps[state.step];
            if (current?.kind === 'analysis') this.stopAnalysis(this.id(state.step, 'startAnalysis'));
            this.events.push({ type: 'rollout.promoted-fully', data: { by: command.actor, skipped: this.plan.steps.slice(state.step, switchAt).map(describeStep) } });
            this.state = { ...this.state, step: switchAt, stepStartedAt: this.observed.now, pausedBy: null };
          }
        } else if (this.plan.steps[state.step]?.kind === 'pause') {
          this.completeStep(`promoted by ${command.actor}`);
        }
        this.state = { ...this.state, pausedBy: null };
        this.setPhase('Progressing', `promoted by ${command.actor}`);
        return;
      }
      case 'retry':
        this.state = { ...state, attempt: state.attempt + 1, step: 0, stepStartedAt: null, weight: 0, promotedAt: null, previousRetired: false, background: [], pausedBy: null, rollingBack: null };
        this.setPhase('Progressing', `retried by ${command.actor} (attempt ${state.attempt + 1})`);
        return;
    }
  }

  // ---- the step machine -------------------------------------------------------------------------

  run(): void {
    if (this.state.rollingBack) return this.continueRollBack();
    if (this.state.phase === 'Pending') this.setPhase('Progressing', `rolling out ${this.state.release}`);
    if (TERMINAL_PHASES.has(this.state.phase)) return;
    this.keepBackgroundRunning();
    if (this.backgroundFailed()) return this.continueRollBack();
    if (this.state.pausedBy !== null) return;
    if (this.holdForFreeze()) return;
    const before = this.hooks('preDeploy');
    if (before === 'failed') return this.continueRollBack();
    if (before === 'waiting') return;
    // several steps can complete in one decision when their outcomes are already known
    for (let guard = 0; guard <= this.plan.steps.length; guard++) {
      if (this.state.step >= this.plan.steps.length) return this.finish();
      if (this.state.stepStartedAt === null) this.state = { ...this.state, stepStartedAt: this.observed.now };
      const progress = this.runStep(this.plan.steps[this.state.step]!);
      if (progress === 'failed') return this.continueRollBack();
      if (progress === 'waiting') return;
    }
  }

  /** A rollout started in a freeze window of mode wait holds, before anything runs, until the window ends. */
  private holdForFreeze(): boolean {
    const freeze = this.plan.frozenUntil;
    if (freeze === undefined) return false;
    const reason = frozenReason(freeze.window, freeze.until);
    if (this.observed.now < freeze.until) {
      this.wake(freeze.until);
      this.setPhase('Paused', reason);
      return true;
    }
    if (this.state.phase === 'Paused' && this.state.reason === reason) this.setPhase('Progressing', `freeze ${freeze.window} over`);
    return false;
  }

  private runStep(step: PlannedStep): 'done' | 'waiting' | 'failed' {
    const index = this.state.step;
    if (needsRelease(step) && !this.releaseDeployed()) return 'waiting';
    if (this.state.stable === null && (step.kind === 'analysis' || (step.kind === 'pause' && step.duration !== undefined))) {
      // as Argo Rollouts does on an initial deploy: no traffic reaches a first release before its
      // switch and there is no stable version to compare it with, so waiting would measure nothing
      this.completeStep(`no stable version yet: ${step.kind === 'pause' ? 'timed pause' : 'analysis'} skipped`);
      return 'done';
    }
    switch (step.kind) {
      case 'migrate':
        if (step.phase === 'contract' && !this.previousGone()) return 'waiting';
        return this.await(this.id(index, 'migrate'), () => ({ kind: 'migrate', phase: step.phase, ...(step.migrations ? { migrations: step.migrations } : {}) }), `migration ${step.phase}`);
      case 'test':
        return this.await(this.id(index, 'runTest'), () => ({ kind: 'runTest', step: index, test: step.test }), `test ${step.test.name}`);
      case 'setWeight':
        return this.shiftTraffic(step.weight);
      case 'pause':
        return this.pause(step);
      case 'analysis':
        return this.analysis(step);
      case 'setFlag':
        return this.await(this.id(index, 'setFlag'), () => ({ kind: 'setFlag', ...step.flag }), `flag ${step.flag.flag}`);
      case 'approval':
        return this.approval(step);
      case 'verify':
        return this.await(this.id(index, 'verify'), () => ({ kind: 'verify', checks: step.verify.checks }), `integrity checks ${step.verify.checks.join(', ')}`);
      case 'promote':
        return this.switchFully();
    }
  }

  /** Issues an action once and reports its outcome; a finished action completes the step. */
  private await(id: string, make: () => DistributiveOmit<Action, 'id'>, what: string): 'done' | 'waiting' | 'failed' {
    const outcome = this.outcome(id);
    if (outcome === undefined) {
      this.perform(id, make());
      return 'waiting';
    }
    if (outcome.status === 'running') return 'waiting';
    if (outcome.status === 'failed') {
      this.rollBack('RolledBack', `${what} failed${outcome.detail ? `: ${outcome.detail}` : ''}`);
      return 'failed';
    }
    this.completeStep(`${what} passed`);
    return 'done';
  }

  private shiftTraffic(weight: number): 'done' | 'waiting' | 'failed' {
    const { stable, release } = this.state;
    if (stable === null) {
      // an app's first release has nothing to share traffic with: it takes all of it at the switch
      this.completeStep(`no stable version yet: weight ${weight} skipped`);
      return 'done';
    }
    const id = this.id(this.state.step, 'setTraffic');
    const outcome = this.outcome(id);
    if (outcome === undefined) {
      this.perform(id, { kind: 'setTraffic', weights: { [release]: weight, [stable]: round(100 - weight) }, stable, canary: release });
      return 'waiting';
    }
    if (outcome.status === 'running') return 'waiting';
    if (outcome.status === 'failed') {
      this.rollBack('RolledBack', `moving ${weight}% of traffic to ${release} failed${outcome.detail ? `: ${outcome.detail}` : ''}`);
      return 'failed';
    }
    this.state = { ...this.state, weight };
    this.completeStep(`${weight}% of traffic on ${release}`);
    return 'done';
  }

  private pause(step: Extract<PlannedStep, { kind: 'pause' }>): 'done' | 'waiting' {
    if (step.duration === undefined) {
      this.setPhase('Paused', step.reason ?? `paused at step ${this.state.step + 1} until resumed`);
      return 'waiting';
    }
    const until = (this.state.stepStartedAt ?? this.observed.now) + step.duration;
    if (this.observed.now >= until) {
      this.completeStep(`paused ${formatDuration(step.duration)}`);
      this.setPhase('Progressing', `pause of ${formatDuration(step.duration)} over`);
      return 'done';
    }
    this.wake(until);
    this.setPhase('Paused', `paused until ${new Date(until).toISOString()}`);
    return 'waiting';
  }

  private analysis(step: Extract<PlannedStep, { kind: 'analysis' }>): 'done' | 'waiting' | 'failed' {
    const id = this.id(this.state.step, 'startAnalysis');
    const outcome = this.outcome(id);
    const templates = step.analysis.templates;
    if (outcome === undefined) {
      this.perform(id, { kind: 'startAnalysis', step: this.state.step, templates, background: step.analysis.background });
      if (!step.analysis.background) return 'waiting';
    }
    if (step.analysis.background) {
      if (!this.state.background.includes(id)) this.state = { ...this.state, background: [...this.state.background, id] };
      this.completeStep(`analysis ${templates.join(', ')} runs in the background`);
      return 'done';
    }
    if (outcome === undefined || outcome.status === 'running') return 'waiting';
    if (outcome.verdict === 'Successful') {
      this.completeStep(`analysis ${templates.join(', ')} passed`);
      return 'done';
    }
    if (outcome.verdict === 'Failed') {
      // the detail names the templates that failed and why; without it, name the step's templates
      this.rollBack('RolledBack', outcome.detail ? `analysis failed: ${outcome.detail}` : `analysis ${templates.join(', ')} failed`);
      return 'failed';
    }
    // no verdict (inconclusive, or the analysis could not run) is not a failure: a person decides
    // whether to resume or abort; nothing rolls back by itself because a metrics backend was away
    this.setPhase('Paused', `analysis ${templates.join(', ')} ${outcome.verdict === 'Inconclusive' ? 'inconclusive' : 'could not run'}${outcome.detail ? `: ${outcome.detail}` : ''}; resume to continue or abort`);
    return 'waiting';
  }

  private approval(step: Extract<PlannedStep, { kind: 'approval' }>): 'done' | 'waiting' | 'failed' {
    const index = this.state.step;
    const id = this.id(index, 'requestApproval');
    if (this.outcome(id) === undefined) this.perform(id, { kind: 'requestApproval', step: index, count: step.approval.count });
    const have = this.observed.approvals[index] ?? 0;
    if (have >= step.approval.count) {
      this.completeStep(`approved by ${have}`);
      this.setPhase('Progressing', `approved at step ${index + 1}`);
      return 'done';
    }
    if (step.approval.expires !== undefined) {
      const deadline = (this.state.stepStartedAt ?? this.observed.now) + step.approval.expires;
      if (this.observed.now >= deadline) {
        this.rollBack('Aborted', `approval at step ${index + 1} expired with ${have} of ${step.approval.count}`);
        return 'failed';
      }
      this.wake(deadline);
    }
    this.setPhase('Paused', `waiting for ${step.approval.count - have} more approval${step.approval.count - have === 1 ? '' : 's'} at step ${index + 1}`);
    return 'waiting';
  }

  private switchFully(): 'done' | 'waiting' | 'failed' {
    const { release, stable } = this.state;
    const id = this.id(this.state.step, 'setTraffic');
    const outcome = this.outcome(id);
    if (outcome === undefined) {
      this.perform(id, { kind: 'setTraffic', weights: stable === null ? { [release]: 100 } : { [release]: 100, [stable]: 0 }, stable: release });
      return 'waiting';
    }
    if (outcome.status === 'running') return 'waiting';
    if (outcome.status === 'failed') {
      this.rollBack('RolledBack', `switching traffic to ${release} failed${outcome.detail ? `: ${outcome.detail}` : ''}`);
      return 'failed';
    }
    if (this.state.promotedAt === null) {
      this.state = { ...this.state, weight: 100, promotedAt: this.observed.now };
      this.events.push({ type: 'rollout.switched', data: { release, previous: stable } });
    }
    const after = this.hooks('postPromote');
    if (after !== 'done') return after;
    this.completeStep(`all traffic on ${release}`);
    return 'done';
  }

  private finish(): void {
    if (!this.previousGone()) return;
    this.stopBackgroundAnalyses();
    this.setPhase('Healthy', `${this.state.release} serves all traffic`);
  }

  /**
   * The previous version stays up for scaleDownDelay after the switch (an instant way back), then goes.
   * Contract migrations and the end of the rollout wait for it: the old shape may be removed only
   * once no running version needs it.
   */
  private previousGone(): boolean {
    const { stable, release, promotedAt } = this.state;
    if (this.state.previousRetired || stable === null || stable === release) return true;
    if (promotedAt === null) return false;
    const due = promotedAt + this.plan.scaleDownDelay;
    if (this.observed.now < due) {
      this.wake(due);
      return false;
    }
    const id = `${this.prefix()}.retire.teardown`;
    const outcome = this.outcome(id);
    if (outcome === undefined) {
      this.perform(id, { kind: 'teardown', version: stable });
      return false;
    }
    if (outcome.status !== 'succeeded') return false;
    this.state = { ...this.state, previousRetired: true };
    this.events.push({ type: 'rollout.previous-retired', data: { version: stable } });
    return true;
  }

  private releaseDeployed(): boolean {
    const id = `${this.prefix()}.deploy`;
    const outcome = this.outcome(id);
    if (outcome === undefined) {
      this.perform(id, { kind: 'deploy', version: this.state.release });
      return false;
    }
    if (outcome.status === 'failed') {
      this.rollBack('RolledBack', `deploying ${this.state.release} failed${outcome.detail ? `: ${outcome.detail}` : ''}`);
      return false;
    }
    return outcome.status === 'succeeded';
  }

  /** Runs a hook point's commands one after another; a failed pre-deploy or post-promote hook rolls back. */
  private hooks(point: HookPoint): 'done' | 'waiting' | 'failed' {
    // plans recorded before hooks existed have none
    for (const [index, hook] of (this.plan.hooks?.[point] ?? []).entries()) {
      const id = `${this.prefix()}.hook.${point}.${index}`;
      const outcome = this.outcome(id);
      if (outcome === undefined) {
        this.perform(id, { kind: 'runHook', point, hook });
        return 'waiting';
      }
      if (outcome.status === 'running') return 'waiting';
      if (outcome.status === 'failed' && point !== 'onRollback') {
        this.rollBack('RolledBack', `${point} hook ${hook.name} failed${outcome.detail ? `: ${outcome.detail}` : ''}`);
        return 'failed';
      }
    }
    return 'done';
  }

  // ---- rolling back -----------------------------------------------------------------------------

  private rollBack(to: 'Aborted' | 'RolledBack', reason: string): void {
    if (this.state.rollingBack) return;
    this.events.push({ type: to === 'Aborted' ? 'rollout.aborting' : 'rollout.failing', data: { reason, step: this.state.step } });
    this.state = { ...this.state, rollingBack: { to, reason }, pausedBy: null };
  }

  /** Traffic back to the version that served before, then the release's instances go. */
  private continueRollBack(): void {
    const back = this.state.rollingBack!;
    // first, together with the traffic: a flag this release turned on must not outlive its rollback
    const flags = this.turnOffReleasedFlags();
    const current = this.plan.steps[this.state.step];
    if (current?.kind === 'analysis' && this.outcome(this.id(this.state.step, 'startAnalysis'))?.status === 'running') this.stopAnalysis(this.id(this.state.step, 'startAnalysis'));
    this.stopBackgroundAnalyses();
    const { release, stable, promotedAt, previousRetired } = this.state;
    const target = stable !== null && stable !== release && !(promotedAt !== null && previousRetired) ? stable : null;
    if (target === null && promotedAt !== null) {
      const why = stable === null ? 'there is no earlier version to return to' : `${stable} was already torn down`;
      this.setPhase('Degraded', `${back.reason}; ${why}: deploy a fixed release or \`promote rollback --to <version>\``);
      this.state = { ...this.state, rollingBack: null };
      return;
    }
    const trafficId = `${this.prefix()}.rollback.setTraffic`;
    // an app's first release: no earlier version to return traffic to, only its instances to stop
    const traffic: Outcome | undefined = target === null ? { status: 'succeeded' } : this.outcome(trafficId);
    if (traffic === undefined) {
      this.perform(trafficId, { kind: 'setTraffic', weights: { [target!]: 100, [release]: 0 }, stable: target! });
      this.setPhase(this.state.phase === 'Pending' ? 'Progressing' : this.state.phase, back.reason);
      return;
    }
    if (traffic.status === 'running') return;
    if (traffic.status === 'failed') {
      this.setPhase('Degraded', `${back.reason}; returning traffic to ${target} failed${traffic.detail ? `: ${traffic.detail}` : ''}`);
      this.state = { ...this.state, rollingBack: null };
      return;
    }
    const teardownId = `${this.prefix()}.rollback.teardown`;
    const teardown = this.outcome(teardownId);
    if (teardown === undefined) {
      this.perform(teardownId, { kind: 'teardown', version: release });
      this.state = { ...this.state, weight: 0 };
      return;
    }
    if (teardown.status === 'running') return;
    const migration = this.rollBackExpand();
    if (migration === 'waiting') return;
    if (migration === 'failed') return;
    // the on-rollback hooks run once traffic is safe; their failures are told, they change nothing
    if (this.hooks('onRollback') === 'waiting') return;
    if (flags.pending) return;
    this.state = { ...this.state, rollingBack: null, weight: 0 };
    // a lone version carries all traffic in the router, so a first release did serve: say what is left
    const where = target === null ? `there is no earlier version to return to: ${release}, the app's first release, is stopped` : `traffic is back on ${target}`;
    const troubles = [...(teardown.status === 'failed' ? [`stopping ${release} failed: ${teardown.detail ?? 'unknown'}`] : []), ...flags.failures];
    this.setPhase(back.to, `${back.reason}; ${where}${flags.turnedOff.length > 0 ? `; ${flags.turnedOff.length > 1 ? 'flags' : 'flag'} ${flags.turnedOff.join(', ')} off` : ''}${troubles.length > 0 ? ` (${troubles.join('; ')})` : ''}`);
  }

  /**
   * Turns off every flag a setFlag step of this attempt turned on (or gave a rollout), whether that step
   * finished or not. A flag only turned off by the rollout stays as it is, and so does one whose step only
   * moved variant weights: for a migration flag, "off" would stop writes the data already depends on.
   */
  private turnOffReleasedFlags(): { pending: boolean; turnedOff: string[]; failures: string[] } {
    const result = { pending: false, turnedOff: [] as string[], failures: [] as string[] };
    this.plan.steps.forEach((step, index) => {
      if (step.kind !== 'setFlag') return;
      const turnsOn = step.flag.enabled === true || (step.flag.enabled === undefined && (step.flag.rollout ?? 0) > 0);
      if (!turnsOn) return;
      if (this.outcome(this.id(index, 'setFlag')) === undefined) return;
      const id = `${this.prefix()}.rollback.flag.s${index}`;
      const outcome = this.outcome(id);
      if (outcome === undefined) this.perform(id, { kind: 'setFlag', flag: step.flag.flag, enabled: false });
      if (outcome === undefined || outcome.status === 'running') result.pending = true;
      else if (outcome.status === 'failed') result.failures.push(`turning off flag ${step.flag.flag} failed: ${outcome.detail ?? 'unknown'}`);
      else if (!result.turnedOff.includes(step.flag.flag)) result.turnedOff.push(step.flag.flag);
    });
    return result;
  }

  /**
   * A rolled-back release must not leave its expand behind: once its instances are gone, the schema
   * changes it started are rolled back too (unless contract ran, which only happens after promote).
   */
  private rollBackExpand(): 'done' | 'waiting' | 'failed' {
    const expands = this.plan.steps.flatMap((step, index) => (step.kind === 'migrate' ? [{ phase: step.phase, outcome: this.outcome(this.id(index, 'migrate')) }] : []));
    if (expands.some((each) => each.outcome?.status === 'running')) return 'waiting';
    const expanded = expands.some((each) => each.phase === 'expand' && each.outcome?.status === 'succeeded');
    const contracted = expands.some((each) => each.phase === 'contract' && each.outcome?.status === 'succeeded');
    if (!expanded || contracted) return 'done';
    const id = `${this.prefix()}.rollback.migrate`;
    const outcome = this.outcome(id);
    if (outcome === undefined) {
      this.perform(id, { kind: 'migrate', phase: 'rollback' });
      return 'waiting';
    }
    if (outcome.status === 'running') return 'waiting';
    if (outcome.status === 'failed') {
      const back = this.state.rollingBack!;
      this.setPhase('Degraded', `${back.reason}; traffic is safe, but rolling back the release's schema migration failed${outcome.detail ? `: ${outcome.detail}` : ''}; finish it with \`promote migrate rollback\``);
      this.state = { ...this.state, rollingBack: null, weight: 0 };
      return 'failed';
    }
    return 'done';
  }

  private backgroundFailed(): boolean {
    for (const id of this.state.background) {
      const outcome = this.outcome(id);
      if (outcome?.verdict === 'Failed' || outcome?.status === 'failed') {
        this.state = { ...this.state, background: this.state.background.filter((each) => each !== id) };
        this.rollBack('RolledBack', `background analysis failed${outcome.detail ? `: ${outcome.detail}` : ''}`);
        return true;
      }
    }
    return false;
  }

  /**
   * A background analysis has no outcome until it ends; asking for it again is how a controller that
   * took over finds it (the controller skips actions already running in its own process).
   */
  private keepBackgroundRunning(): void {
    for (const id of this.state.background) {
      if (this.outcome(id) !== undefined) continue;
      const index = this.plan.steps.findIndex((step, at) => step.kind === 'analysis' && this.id(at, 'startAnalysis') === id);
      const step = this.plan.steps[index];
      if (step?.kind === 'analysis') this.perform(id, { kind: 'startAnalysis', step: index, templates: step.analysis.templates, background: true });
    }
  }

  private stopBackgroundAnalyses(): void {
    for (const id of this.state.background) this.stopAnalysis(id);
    this.state = { ...this.state, background: [] };
  }

  private stopAnalysis(analysis: string): void {
    const outcome = this.outcome(analysis);
    if (outcome !== undefined && outcome.status !== 'running') return;
    const id = `${analysis}.stop`;
    if (this.outcome(id) === undefined) this.perform(id, { kind: 'stopAnalysis', analysis });
  }

  // ---- bookkeeping ------------------------------------------------------------------------------

  private completeStep(summary: string): void {
    const step = this.plan.steps[this.state.step];
    this.events.push({ type: 'step.completed', data: { step: this.state.step, label: step ? describeStep(step) : 'done', summary } });
    this.state = { ...this.state, step: this.state.step + 1, stepStartedAt: null };
  }

  private setPhase(phase: Phase, reason: string): void {
    if (this.state.phase === phase && this.state.reason === reason) return;
    if (this.state.phase !== phase) this.events.push({ type: 'rollout.phase', data: { from: this.state.phase, to: phase, reason } });
    this.state = { ...this.state, phase, reason };
  }

  private perform(id: string, action: DistributiveOmit<Action, 'id'>): void {
    if (this.actions.some((each) => each.id === id)) return;
    this.actions.push({ id, ...action });
  }

  private outcome(id: string): Outcome | undefined {
    return this.observed.outcomes[id];
  }

  private wake(at: number): void {
    this.wakeAt = this.wakeAt === undefined ? at : Math.min(this.wakeAt, at);
  }

  private prefix(): string {
    return `r${this.state.id}.a${this.state.attempt}`;
  }

  private id(step: number, kind: string): string {
    return `${this.prefix()}.s${step}.${kind}`;
  }
}

function needsRelease(step: PlannedStep): boolean {
  return step.kind !== 'migrate' && step.kind !== 'setFlag' && step.kind !== 'approval' && step.kind !== 'pause';
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
