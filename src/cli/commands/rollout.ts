import type { Command } from 'commander';
import { setTimeout as sleep } from 'node:timers/promises';
import { describeCause, PromoteError, ReportedFailure } from '../../errors.js';
import { approveRollout } from '../../engine/approvals.js';
import { sendCommand } from '../../engine/commands.js';
import { frozenReason } from '../../engine/freeze.js';
import { describeStep, type RolloutPlan } from '../../engine/plan.js';
import { createEngine } from '../../engine/runtime.js';
import { startRollback } from '../../engine/rollback.js';
import { startRollout } from '../../engine/start.js';
import { TERMINAL_PHASES, type Command as EngineCommand, type RolloutState } from '../../engine/state.js';
import { serveMetrics } from '../../server/metrics.js';
import { listEvents, listRollouts, type Rollout } from '../../store/index.js';
import type { PromoteSpec } from '../../spec/index.js';
import type { Store } from '../../store/open.js';
import type { CliContext } from '../io.js';
import { formatTime, printJson, printLine, printTable } from '../output.js';
import { currentActor, loadConfig, loadEnvironment, withPlanPositions } from '../spec.js';
import { withStore } from '../store.js';

export function registerRollout(program: Command, context: () => CliContext): void {
  program
    .command('deploy')
    .description('roll a recorded release out to an environment, step by step, following its strategy')
    .argument('<version>', 'the release version (recorded with `promote release create`)')
    .requiredOption('--env <name>', 'the environment')
    .option('--wait', 'run the rollout here and exit 0 when Healthy, 1 when it ends otherwise')
    .option('--skip-environment-gate <reason>', 'deploy although the release did not reach Healthy in the environment before (recorded)')
    .option('--override-freeze <reason>', 'deploy although a freeze window holds the environment (recorded as freeze.overridden; see `promote freeze`)')
    .option('--json', 'print the rollout as JSON')
    .addHelpText('after', '\nExamples:\n  $ promote deploy 1.4.0 --env staging --wait\n  $ promote deploy 1.4.0 --env production\n')
    .action(async (version: string, options: { env: string; wait?: boolean; skipEnvironmentGate?: string; overrideFreeze?: string; json?: boolean }) => {
      const ctx = context();
      const { spec, configDir } = await loadEnvironment(ctx, options.env);
      // whoever runs the CLI holds the store's database, so is its admin: the override needs only a reason
      if (options.overrideFreeze !== undefined && options.overrideFreeze.trim().length === 0) throw new PromoteError('--override-freeze needs a reason: it is recorded in the audit trail', { exitCode: 2 });
      await withStore(ctx, async (store) => {
        const rollout = await withPlanPositions(ctx, () =>
          startRollout(store.pool, {
            spec,
            environment: options.env,
            version,
            actor: currentActor(ctx),
            ...(options.skipEnvironmentGate !== undefined ? { skipEnvironmentGate: options.skipEnvironmentGate } : {}),
            ...(options.overrideFreeze !== undefined ? { overrideFreeze: options.overrideFreeze } : {}),
          }),
        );
        await report(ctx, store, spec, configDir, rollout, options);
      });
    });

  program
    .command('rollback')
    .description('return an environment to a release that served it before: one command, no analysis, no migrations')
    .requiredOption('--env <name>', 'the environment')
    .option('--to <version>', 'the release to return to (default: the last one Healthy there before the current)')
    .option('--wait', 'run the rollout here and exit 0 when Healthy, 1 when it ends otherwise')
    .option('--json', 'print the rollout as JSON')
    .addHelpText('after', '\nExamples:\n  $ promote rollback --env production --wait\n  $ promote rollback --env production --to 1.3.2\n')
    .action(async (options: { env: string; to?: string; wait?: boolean; json?: boolean }) => {
      const ctx = context();
      const { spec, configDir } = await loadEnvironment(ctx, options.env);
      await withStore(ctx, async (store) => {
        const rollout = await withPlanPositions(ctx, () => startRollback(store.pool, { spec, environment: options.env, actor: currentActor(ctx), ...(options.to !== undefined ? { to: options.to } : {}) }));
        await report(ctx, store, spec, configDir, rollout, options);
      });
    });

  program
    .command('controller')
    .description('run the rollout controller: carries out every rollout of the app until stopped')
    .option('--metrics <host:port>', 'serve Prometheus metrics of the rollouts at http://<host:port>/metrics')
    .action(async (options: { metrics?: string }) => {
      const ctx = context();
      const { spec, configDir } = await loadConfig(ctx);
      await withStore(ctx, async (store) => {
        // listening from the start: a signal while starting still stops cleanly, once started
        const stopped = new Promise<void>((resolve) => {
          process.once('SIGINT', resolve);
          process.once('SIGTERM', resolve);
        });
        const engine = createEngine(spec, { pool: store.pool, databaseUrl: store.url, configDir, log: ctx.log });
        await engine.controller.start();
        const metrics = options.metrics === undefined ? undefined : await serveMetrics(store.pool, spec.app.name, options.metrics).catch(async (error: unknown) => {
          await engine.close();
          throw new PromoteError(describeCause(error), { exitCode: 2 });
        });
        printLine(ctx.io, `controller for ${spec.app.name} running${engine.controller.isLeader ? '' : ' (standby: another controller leads)'}; Ctrl-C stops it, running instances keep serving`);
        if (metrics) printLine(ctx.io, `metrics at ${metrics.url}`);
        await stopped;
        await metrics?.close();
        await engine.close();
      }, { stopsOnSignal: true });
    });

  program
    .command('status')
    .description('the latest rollout of an environment: phase, reason, step and traffic')
    .requiredOption('--env <name>', 'the environment')
    .option('--watch', 'keep printing each change until the rollout ends')
    .option('--json', 'print as JSON')
    .action(async (options: { env: string; watch?: boolean; json?: boolean }) => {
      const ctx = context();
      const { spec } = await loadEnvironment(ctx, options.env);
      await withStore(ctx, async (store) => {
        const [latest] = await listRollouts(store.pool, { app: spec.app.name, environment: options.env, limit: 1 });
        if (options.json && !options.watch) return printJson(ctx.io, latest ?? null);
        if (!latest) return printLine(ctx.io, `no rollout of ${spec.app.name} to ${options.env} yet: start one with \`promote deploy <version> --env ${options.env}\``);
        if (options.watch) {
          await follow(ctx, store, latest.id, (await planOf(store, latest.id))!, options.json === true);
          return;
        }
        printStatus(ctx, latest, await planOf(store, latest.id));
      });
    });

  const steer = (name: EngineCommand['kind'], description: string, extra?: (command: Command) => Command) => {
    let command = program.command(name).description(description).requiredOption('--env <name>', 'the environment').option('--reason <text>', 'why, for the audit trail');
    if (extra) command = extra(command);
    command.action(async (options: { env: string; reason?: string; full?: boolean }) => {
      const ctx = context();
      const { spec } = await loadEnvironment(ctx, options.env);
      await withStore(ctx, async (store) => {
        const rollout = await sendCommand(store.pool, { app: spec.app.name, environment: options.env, kind: name, actor: currentActor(ctx), ...(options.reason ? { reason: options.reason } : {}), ...(options.full ? { full: true } : {}) });
        printLine(ctx.io, `${name} sent to rollout #${rollout.id} (${rollout.phase}); the controller applies it`);
      });
    });
  };
  steer('pause', 'hold the active rollout where it is');
  steer('resume', 'continue a paused rollout (also: accept an inconclusive analysis)');
  steer('abort', 'return all traffic to the stable version at once; the rollout ends Aborted and can be retried');
  steer('promote', 'skip the current pause, or with --full switch all traffic now', (command) => command.option('--full', 'skip every step up to the full switch, stopping pending analyses'));
  steer('retry', 'start an aborted or rolled-back rollout again from its first step');

  program
    .command('approve')
    .description('vote on the approval step a rollout waits at: each person once per step; the person who started the rollout is refused')
    .argument('<rollout-id>', 'the rollout (see `promote status` or `promote history`)', parseRolloutId)
    .requiredOption('--reason <text>', 'why, for the audit trail')
    .option('--as <name>', 'who approves (default: $PROMOTE_ACTOR, else the system user)')
    .option('--reject', 'record a rejection instead (evidence only: it does not stop the rollout; abort does)')
    .option('--json', 'print the vote and the step\'s count as JSON')
    .addHelpText('after', '\nExamples:\n  $ promote approve 42 --as carol --reason "dashboards are green"\n')
    .action(async (rolloutId: number, options: { reason: string; as?: string; reject?: boolean; json?: boolean }) => {
      const ctx = context();
      const { spec } = await loadConfig(ctx);
      const approver = (options.as ?? currentActor(ctx)).trim();
      if (approver.length === 0) throw new PromoteError('--as needs a name', { exitCode: 2 });
      if (options.reason.trim().length === 0) throw new PromoteError('--reason needs a text: an approval is evidence, and its reason is part of it', { exitCode: 2 });
      const receipt = await withStore(ctx, (store) => approveRollout(store.pool, { app: spec.app.name, rolloutId, approver, reason: options.reason, decision: options.reject ? 'rejected' : 'approved' }));
      if (options.json) return printJson(ctx.io, receipt);
      printLine(ctx.io, `${options.reject ? 'rejection' : 'approval'} of rollout #${rolloutId} by ${approver} recorded: ${receipt.message}`);
    });

  program
    .command('history')
    .description('the rollouts of an environment, newest first')
    .requiredOption('--env <name>', 'the environment')
    .option('--json', 'print as JSON')
    .action(async (options: { env: string; json?: boolean }) => {
      const ctx = context();
      const { spec } = await loadEnvironment(ctx, options.env);
      const rollouts = await withStore(ctx, (store) => listRollouts(store.pool, { app: spec.app.name, environment: options.env, limit: 50 }));
      if (options.json) return printJson(ctx.io, rollouts);
      printTable<Rollout>(ctx.io, rollouts, [
        { header: 'ID', value: (row) => String(row.id), align: 'right' },
        { header: 'PHASE', value: (row) => row.phase },
        { header: 'STARTED', value: (row) => formatTime(row.createdAt) },
        { header: 'BY', value: (row) => row.createdBy ?? '' },
        { header: 'REASON', value: (row) => row.phaseReason ?? '' },
      ]);
    });

  program
    .command('events')
    .description('the audit trail of a rollout (or of the app)')
    .option('--rollout <id>', 'only this rollout', (value) => Number(value))
    .option('--json', 'print as JSON')
    .action(async (options: { rollout?: number; json?: boolean }) => {
      const ctx = context();
      const { spec } = await loadConfig(ctx);
      const events = await withStore(ctx, (store) => listEvents(store.pool, options.rollout !== undefined ? { rolloutId: options.rollout } : { app: spec.app.name }));
      if (options.json) return printJson(ctx.io, events);
      for (const event of events) printLine(ctx.io, `${formatTime(event.createdAt)}  #${event.seq}  ${event.type}  ${event.actor}  ${JSON.stringify(event.data)}`);
    });
}

/** Prints the started rollout, or with --wait runs a controller here and follows the rollout to its end. */
async function report(ctx: CliContext, store: Store, spec: PromoteSpec, configDir: string, rollout: Rollout, options: { wait?: boolean; json?: boolean }): Promise<void> {
  const plan = (await planOf(store, rollout.id))!;
  if (!options.wait) {
    if (options.json) return printJson(ctx.io, rollout);
    printLine(ctx.io, `rollout #${rollout.id}: ${spec.app.name} to ${rollout.environment}, ${plan.strategy} strategy, ${plan.steps.length} steps`);
    if (plan.frozenUntil) printLine(ctx.io, `it holds before its first step: ${frozenReason(plan.frozenUntil.window, plan.frozenUntil.until)}`);
    printLine(ctx.io, `a running controller (\`promote controller\` or \`promote server\`) carries it out; follow it with \`promote status --env ${rollout.environment} --watch\``);
    return;
  }
  const engine = createEngine(spec, { pool: store.pool, databaseUrl: store.url, configDir, log: ctx.log, pollMs: 500 });
  await engine.controller.start();
  try {
    const final = await follow(ctx, store, rollout.id, plan, options.json === true);
    if (final.phase !== 'Healthy') throw new ReportedFailure(`rollout #${rollout.id} ended ${final.phase}`);
  } finally {
    await engine.close();
  }
}

function parseRolloutId(value: string): number {
  const id = Number(value);
  if (!/^[0-9]+$/.test(value) || !Number.isSafeInteger(id) || id < 1) throw new PromoteError(`a rollout id is a whole number from 1, got "${value}"`, { exitCode: 2 });
  return id;
}

async function planOf(store: Store, rolloutId: number): Promise<RolloutPlan | undefined> {
  return (await store.pool.query<{ plan: RolloutPlan | null }>('select plan from promote.rollouts where id = $1', [rolloutId])).rows[0]?.plan ?? undefined;
}

function printStatus(ctx: CliContext, rollout: Rollout, plan: RolloutPlan | undefined): void {
  const steps = plan?.steps ?? [];
  const step = steps[rollout.currentStep];
  printLine(ctx.io, `rollout #${rollout.id} ${rollout.phase}: ${rollout.phaseReason ?? ''}`);
  printLine(ctx.io, `  step ${Math.min(rollout.currentStep + 1, steps.length)} of ${steps.length}${step ? `: ${describeStep(step)}` : ''}`);
  printLine(ctx.io, `  traffic: ${Object.entries(rollout.weights).map(([version, weight]) => `${version} ${weight}%`).join(', ') || 'none yet'}`);
}

/** Prints each change of phase or step until the rollout ends; returns its final state. */
async function follow(ctx: CliContext, store: Store, rolloutId: number, plan: RolloutPlan, json: boolean): Promise<RolloutState> {
  let last = '';
  for (;;) {
    const row = (await store.pool.query<{ state: RolloutState }>('select state from promote.rollouts where id = $1', [rolloutId])).rows[0]!;
    const state = row.state;
    const line = `${state.phase}  step ${Math.min(state.step + 1, plan.steps.length)}/${plan.steps.length}${plan.steps[state.step] ? ` ${describeStep(plan.steps[state.step]!)}` : ''}  ${state.reason}`;
    if (line !== last && !json) printLine(ctx.io, line);
    last = line;
    if (TERMINAL_PHASES.has(state.phase) && state.rollingBack === null) {
      if (json) printJson(ctx.io, state);
      return state;
    }
    await sleep(200);
  }
}
