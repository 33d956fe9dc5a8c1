import { join, resolve } from 'node:path';
import type pg from 'pg';
import { FlagGuardian } from '../flags/guardian.js';
import type { Logger } from '../log.js';
import { Notifier } from '../notify/notifier.js';
import type { PromoteSpec } from '../spec/index.js';
import { createTarget, type Target } from '../targets/target.js';
import { Controller, type Executor } from './controller.js';
import { createExecutor } from './executor.js';

export interface EngineOptions {
  pool: pg.Pool;
  databaseUrl: string;
  /** folder of promote.yaml */
  configDir: string;
  /** where targets keep instance records and logs; `.promote/run` beside promote.yaml by default */
  stateDir?: string;
  log?: Logger;
  pollMs?: number;
}

/** A controller for an app: one target and one executor per environment, created when first needed. */
export function createEngine(spec: PromoteSpec, options: EngineOptions): { controller: Controller; close(): Promise<void> } {
  const targets = new Map<string, Target>();
  const executors = new Map<string, Executor>();
  const stateDir = options.stateDir ?? join(options.configDir, '.promote', 'run');
  const executorFor = (environmentName: string): Executor => {
    let executor = executors.get(environmentName);
    if (executor) return executor;
    const position = spec.environments.findIndex((each) => each.name === environmentName);
    const environment = spec.environments[position];
    if (!environment) throw new Error(`promote.yaml has no environment ${environmentName} any more`);
    const target = createTarget(environment.target, { app: spec.app.name, environment: environmentName, stateDir, configDir: options.configDir, ...(options.log ? { log: options.log } : {}) });
    targets.set(environmentName, target);
    executor = createExecutor({
      pool: options.pool,
      target,
      environment,
      configDir: options.configDir,
      migrationsDir: resolve(options.configDir, spec.migrations.dir),
      migrations: { schema: spec.migrations.schema, lockTimeoutMs: spec.migrations.lockTimeout, undoWindowMs: spec.migrations.undoWindow },
      analysisTemplates: spec.analysis?.templates ?? {},
      ...(spec.flags ? { flags: spec.flags } : {}),
      integrity: {
        checks: spec.integrity?.checks ?? {},
        databaseUrl: (name) => {
          const found = spec.environments.find((each) => each.name === name);
          if (!found) throw new Error(`promote.yaml has no environment ${name}`);
          return found.database;
        },
        ...(position > 0 ? { previousEnvironment: spec.environments[position - 1]!.name } : {}),
      },
      ...(options.log ? { log: options.log } : {}),
    });
    executors.set(environmentName, executor);
    return executor;
  };
  const controller = new Controller({
    pool: options.pool,
    databaseUrl: options.databaseUrl,
    executor: {
      perform: (action, context) => executorFor(context.environment).perform(action, context),
      resolve: (action, context) => executorFor(context.environment).resolve?.(action, context),
      close: () => {
        for (const executor of executors.values()) executor.close?.();
      },
    },
    ...(options.log ? { log: options.log } : {}),
    ...(options.pollMs !== undefined ? { pollMs: options.pollMs } : {}),
  });
  // scheduled flag changes and flag safeguards, acting only while this controller leads
  const guardian = new FlagGuardian({
    pool: options.pool,
    app: spec.app.name,
    environments: spec.environments,
    templates: spec.analysis?.templates ?? {},
    configDir: options.configDir,
    isLeader: () => controller.isLeader,
    ...(options.log ? { log: options.log } : {}),
  });
  guardian.start();
  // webhooks told about rollout events; safe beside other controllers doing the same (src/notify/)
  const notifier = new Notifier({ pool: options.pool, app: spec.app.name, notifications: spec.notifications ?? { webhooks: [] }, ...(options.log ? { log: options.log } : {}) });
  notifier.start();
  return {
    controller,
    close: async () => {
      // a few seconds to tell the webhooks what this controller just did (a --wait that ended Healthy)
      await notifier.stop({ flushMs: 5_000 });
      await guardian.stop();
      await controller.stop();
      // targets stop supervising; the instances keep serving while no controller runs
      await Promise.all([...targets.values()].map((target) => target.close()));
    },
  };
}
