import { notFound, PromoteError } from '../errors.js';
import { formatDuration } from '../spec/duration.js';
import { formatPath, type HookSpec, type AnalysisStepSpec, type ApprovalStepSpec, type PathSegment, type PromoteSpec, type SetFlagStepSpec, type StepSpec, type TestStepSpec, type VerifyStepSpec } from '../spec/index.js';

/**
 * A rollout's plan: the strategy of one environment, turned into numbered steps the engine executes.
 * Blue-green is a canary whose weights are only 0 and 100; without autoPromote it waits for a person
 * before the switch.
 */
export type PlannedStep =
  | { kind: 'migrate'; phase: 'expand' | 'contract'; migrations?: string[] }
  | { kind: 'test'; test: TestStepSpec }
  | { kind: 'setWeight'; weight: number }
  | { kind: 'pause'; duration?: number; reason?: string }
  | { kind: 'analysis'; analysis: AnalysisStepSpec }
  | { kind: 'setFlag'; flag: SetFlagStepSpec }
  | { kind: 'approval'; approval: ApprovalStepSpec }
  | { kind: 'verify'; verify: VerifyStepSpec }
  | { kind: 'promote' };

export interface RolloutPlan {
  app: string;
  environment: string;
  strategy: string;
  type: 'canary' | 'blueGreen';
  steps: PlannedStep[];
  /** blue-green: how long the previous version stays up after the switch, for an instant rollback (ms) */
  scaleDownDelay: number;
  /** blue-green: the header that reaches the new version before it takes traffic */
  previewHeader?: string;
  hooks: { preDeploy: HookSpec[]; postPromote: HookSpec[]; onRollback: HookSpec[] };
  /** started during a freeze window of mode wait: the rollout holds before its first step until `until` (ms) */
  frozenUntil?: { window: string; until: number };
}

export type HookPoint = keyof RolloutPlan['hooks'];

export interface PlanContext {
  /**
   * a rollback to a release that was Healthy here before, as one command (Argo's rollback window):
   * no analysis (it proved itself already), no migrations (going back in code never changes the
   * schema), no weights, pauses, approvals or flag changes; its tests and verify steps still run
   */
  rollback?: boolean;
  /** flags the flag store knows besides those declared in promote.yaml */
  knownFlags?: ReadonlySet<string>;
  /** migration names found in the migrations folder */
  knownMigrations?: ReadonlySet<string>;
}

export interface PlanProblem {
  /** where in promote.yaml: strategies.canary.steps[3].setFlag.flag */
  path: string;
  segments: PathSegment[];
  message: string;
}

/** Steps promote.yaml asks for that cannot run, each with where it is in the file. */
export class PlanError extends PromoteError {
  constructor(readonly problems: PlanProblem[]) {
    super(`the rollout cannot be planned:\n${problems.map((problem) => `  ${problem.path}: ${problem.message}`).join('\n')}`, { exitCode: 2 });
    this.name = 'PlanError';
  }
}

const SKIPPED_IN_ROLLBACK: ReadonlySet<PlannedStep['kind']> = new Set(['analysis', 'migrate', 'setWeight', 'pause', 'approval', 'setFlag']);

export function planRollout(spec: PromoteSpec, environmentName: string, context: PlanContext = {}): RolloutPlan {
  const environment = spec.environments.find((each) => each.name === environmentName);
  if (!environment) throw notFound(`no environment "${environmentName}" in promote.yaml; expected one of ${spec.environments.map((each) => each.name).join(', ')}`, { exitCode: 2 });
  const strategy = spec.strategies[environment.strategy];
  if (!strategy) throw new PromoteError(`environment ${environmentName} uses strategy "${environment.strategy}", which promote.yaml does not define`, { exitCode: 2 });
  const problems: PlanProblem[] = [];
  const problem = (segments: PathSegment[], message: string) => problems.push({ path: formatPath(segments), segments, message });
  const templates = new Set(Object.keys(spec.analysis?.templates ?? {}));
  const flags = new Set([...(spec.flags ?? []).map((flag) => flag.name), ...(context.knownFlags ?? [])]);
  const steps: PlannedStep[] = [];
  strategy.steps.forEach((step: StepSpec, index) => {
    const at: PathSegment[] = ['strategies', environment.strategy, 'steps', index];
    const planned = toPlannedStep(step);
    if (planned.kind === 'analysis') {
      for (const name of planned.analysis.templates) if (!templates.has(name)) problem([...at, 'analysis', 'templates'], `no analysis template "${name}" (known: ${[...templates].join(', ') || 'none'})`);
    }
    if (planned.kind === 'setFlag' && context.knownFlags !== undefined && !flags.has(planned.flag.flag)) {
      problem([...at, 'setFlag', 'flag'], `no flag "${planned.flag.flag}" in promote.yaml or the flag store`);
    }
    if (planned.kind === 'migrate' && planned.migrations && context.knownMigrations !== undefined) {
      for (const name of planned.migrations) if (!context.knownMigrations.has(name)) problem([...at, 'migrate', 'migrations'], `no migration "${name}" in the migrations folder`);
    }
    if ((planned.kind === 'setWeight' || planned.kind === 'promote') && steps.some((each) => each.kind === 'promote')) {
      problem(at, `${planned.kind} after the \`promote\` step: traffic has already switched fully to the new version`);
    }
    if (planned.kind === 'migrate' && planned.phase === 'contract' && !steps.some((each) => each.kind === 'promote')) {
      problem([...at, 'migrate'], 'a contract migration must come after the `promote` step: the old version still needs the old shape until then');
    }
    if (context.rollback && SKIPPED_IN_ROLLBACK.has(planned.kind)) return;
    if (strategy.type === 'blueGreen' && planned.kind === 'promote' && !strategy.autoPromote && !context.rollback && !steps.some((each) => each.kind === 'promote')) {
      // without autoPromote a person switches blue to green: wait for them right before the switch; a
      // rollback is that person's decision already (`promote rollback` is one command), so it does not wait
      steps.push({ kind: 'pause', reason: 'waiting for `promote promote` to switch traffic to the new version' });
    }
    steps.push(planned);
  });
  if (!steps.some((step) => step.kind === 'promote')) {
    problem(['strategies', environment.strategy, 'steps'], 'the strategy never switches traffic fully to the new version: add a `promote: {}` step');
  }
  if (problems.length > 0) throw new PlanError(problems);
  return {
    app: spec.app.name,
    environment: environmentName,
    strategy: environment.strategy,
    type: strategy.type,
    steps,
    scaleDownDelay: strategy.type === 'blueGreen' ? strategy.scaleDownDelay : 0,
    ...(strategy.type === 'blueGreen' ? { previewHeader: strategy.previewHeader } : {}),
    hooks: { preDeploy: strategy.hooks?.preDeploy ?? [], postPromote: strategy.hooks?.postPromote ?? [], onRollback: strategy.hooks?.onRollback ?? [] },
  };
}

function toPlannedStep(step: StepSpec): PlannedStep {
  if ('migrate' in step) return { kind: 'migrate', phase: step.migrate.phase, ...(step.migrate.migrations ? { migrations: step.migrate.migrations } : {}) };
  if ('test' in step) return { kind: 'test', test: step.test };
  if ('setWeight' in step) return { kind: 'setWeight', weight: step.setWeight };
  if ('pause' in step) return { kind: 'pause', ...(step.pause.duration !== undefined ? { duration: step.pause.duration } : {}) };
  if ('analysis' in step) return { kind: 'analysis', analysis: step.analysis };
  if ('setFlag' in step) return { kind: 'setFlag', flag: step.setFlag };
  if ('approval' in step) return { kind: 'approval', approval: step.approval };
  if ('verify' in step) return { kind: 'verify', verify: step.verify };
  return { kind: 'promote' };
}

export function describeStep(step: PlannedStep): string {
  switch (step.kind) {
    case 'migrate':
      return `migrate ${step.phase}`;
    case 'test':
      return `test ${step.test.name}`;
    case 'setWeight':
      return `setWeight ${step.weight}`;
    case 'pause':
      return step.duration === undefined ? 'pause until resumed' : `pause ${formatDuration(step.duration)}`;
    case 'analysis':
      return `analysis ${step.analysis.templates.join(', ')}`;
    case 'setFlag':
      return `setFlag ${step.flag.flag}`;
    case 'approval':
      return `approval (${step.approval.count})`;
    case 'verify':
      return `verify ${step.verify.checks.join(', ')}`;
    case 'promote':
      return 'promote';
  }
}
