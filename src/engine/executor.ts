import type pg from 'pg';
import { describeCause } from '../errors.js';
import type { Logger } from '../log.js';
import type { TrafficConfig, VersionTraffic } from '../router/traffic.js';
import { createAnalysisService } from '../analysis/service.js';
import { applyFlagStep } from '../flags/rollout-binding.js';
import { runIntegrityChecks } from '../integrity/checks/run-checks.js';
import type { IntegrityCheckSpec } from '../spec/schema-integrity.js';
import type { FlagDefinition } from '../flags/store-errors.js';
import { routerAwareBackfill } from './backfill-throttle.js';
import { contractReleaseMigrations, currentVersionSchema, expandReleaseMigrations, rollBackReleaseMigrations } from '../migrations/release-migrations.js';
import { SCHEMA_VERSION_ENV } from '../sdk/schema-version.js';
import type { AnalysisTemplateSpec, EnvironmentSpec } from '../spec/index.js';
import { assertReleaseMigrations, getRelease, type Release } from '../store/releases.js';
import { getTraffic, setTraffic } from '../store/traffic.js';
import type { Target } from '../targets/target.js';
import type { ActionContext, Executor } from './controller.js';
import type { Action, Outcome } from './state.js';
import { runCommand } from './tests/command.js';
import { runTest } from './tests/run-test.js';

export interface ExecutorOptions {
  pool: pg.Pool;
  target: Target;
  environment: EnvironmentSpec;
  /** folder of promote.yaml: tests run there, migrations are found relative to it */
  configDir: string;
  migrationsDir: string;
  /** promote.yaml's migrations settings: the schema they change and the lock budget of their statements */
  migrations?: { schema: string; lockTimeoutMs: number; undoWindowMs?: number };
  /** promote.yaml's flags: a setFlag step creates a declared flag the store does not have yet */
  flags?: readonly FlagDefinition[];
  /** promote.yaml's integrity checks, for verify steps, and where each environment's app database is */
  integrity?: { checks: Readonly<Record<string, IntegrityCheckSpec>>; databaseUrl: (environment: string) => string; previousEnvironment?: string };
  /** promote.yaml's analysis templates by name */
  analysisTemplates?: Readonly<Record<string, AnalysisTemplateSpec>>;
  actor?: string;
  log?: Logger;
}

/**
 * Performs the engine's actions with the real parts: the target starts and stops versions, the
 * routing table moves traffic, tests run against a version's own instances. Each is safe to repeat.
 */
export function createExecutor(options: ExecutorOptions): Executor {
  const actor = options.actor ?? 'controller';
  const analyses = createAnalysisService({
    pool: options.pool,
    environment: options.environment,
    templates: options.analysisTemplates ?? {},
    configDir: options.configDir,
    ...(options.log ? { log: options.log } : {}),
  });
  return {
    async perform(action: Action, context: ActionContext): Promise<Outcome> {
      switch (action.kind) {
        case 'deploy': {
          // the release reads and writes the newest schema version, the one its expand made; a strategy
          // without migrate steps leaves the app's database to the app
          const migrates = context.plan.steps.some((step) => step.kind === 'migrate');
          const versionSchema = migrates && action.version === context.state.release ? await currentVersionSchema({ databaseUrl: options.environment.database, schema: options.migrations?.schema ?? 'public', migrationsDir: options.migrationsDir }) : undefined;
          const env = versionSchema === undefined ? {} : { env: { [SCHEMA_VERSION_ENV]: versionSchema } };
          const instances = await options.target.deploy({ app: context.app, environment: context.environment, version: action.version, ...env });
          // the new version joins the routing table at weight 0: reachable by override (preview), no traffic yet
          await changeTraffic(options, context, actor, `deploy ${action.version}`, (table) => {
            const next = upsertVersion(table, action.version, instances.urls, undefined);
            // blue-green: testers reach green through the preview header before it takes traffic
            return context.plan.previewHeader && action.version === context.state.release ? { ...next, preview: { header: context.plan.previewHeader, version: action.version } } : next;
          });
          return { status: 'succeeded', detail: `${instances.urls.length} instance(s) ready` };
        }
        case 'setTraffic': {
          await changeTraffic(options, context, actor, `step ${action.id}`, (table) => {
            let next = table;
            for (const [version, weight] of Object.entries(action.weights)) next = upsertVersion(next, version, undefined, weight);
            const switched = next.preview !== undefined && action.weights[next.preview.version] === 100;
            // a traffic change without a canary (the full switch, a rollback) ends the canary's role
            const { preview, canary: _previousCanary, ...kept } = next;
            const rest = { ...kept, stable: action.stable, ...(action.canary ? { canary: action.canary } : {}) };
            return switched || preview === undefined ? rest : { ...rest, preview };
          });
          return { status: 'succeeded' };
        }
        case 'teardown': {
          await changeTraffic(options, context, actor, `retire ${action.version}`, (table) => ({ ...table, versions: table.versions.filter((version) => version.name !== action.version || version.weight > 0) }));
          await options.target.teardown(action.version);
          return { status: 'succeeded' };
        }
        case 'runTest': {
          const instances = await options.target.instances(context.state.release);
          if (!instances || instances.urls.length === 0) return { status: 'failed', detail: `${context.state.release} has no running instance to test` };
          const result = await runTest(action.test, { app: context.app, environment: context.environment, version: context.state.release, urls: instances.urls, cwd: options.configDir }, options.log ? { logger: options.log } : {});
          return { status: result.passed ? 'succeeded' : 'failed', detail: result.summary, evidence: result };
        }
        case 'migrate': {
          const backfill = routerAwareBackfill(options.environment, context.app, context.state.stable);
          const release = {
            databaseUrl: options.environment.database,
            migrationsDir: options.migrationsDir,
            schema: options.migrations?.schema ?? 'public',
            ...(options.migrations ? { lockTimeoutMs: options.migrations.lockTimeoutMs } : {}),
            ...(options.migrations?.undoWindowMs === undefined ? {} : { undoWindowMs: options.migrations.undoWindowMs }),
            ...(action.migrations ? { only: action.migrations } : {}),
            ...(backfill ? { backfill } : {}),
            // a database restart mid-step is waited out (the backfill resumes from its cursor), not failed into a rollback
            reconnect: {
              onRetry: (attempt: number, error: unknown, delayMs: number) =>
                options.log?.warn({ rollout: context.rolloutId, action: action.id, attempt, delayMs }, `migration ${action.phase} lost the app database (${describeCause(error)}); reconnect ${attempt} in ${delayMs} ms`),
            },
          };
          try {
            if (action.phase === 'expand') await assertReleaseMigrations(await releaseRecord(options, context), options.migrationsDir);
            const result = action.phase === 'expand' ? await expandReleaseMigrations(release) : action.phase === 'contract' ? await contractReleaseMigrations(release) : await rollBackReleaseMigrations(release);
            return { status: 'succeeded', detail: result.detail, evidence: result };
          } catch (error) {
            return { status: 'failed', detail: `migration ${action.phase}: ${describeCause(error)}` };
          }
        }
        case 'requestApproval':
          return { status: 'succeeded', detail: `waiting for ${action.count} approval(s)` };
        case 'stopAnalysis':
          analyses.stop(action.analysis);
          return { status: 'succeeded' };
        case 'startAnalysis': {
          const step = context.plan.steps[action.step];
          return analyses.run({
            app: context.app,
            rolloutId: context.rolloutId,
            actionId: action.id,
            templates: action.templates,
            score: step?.kind === 'analysis' ? step.analysis.score : { pass: 100, marginal: 100 },
            continuous: step?.kind === 'analysis' && step.analysis.continuous,
            candidate: context.state.release,
            baseline: context.state.stable,
          });
        }
        case 'setFlag': {
          const reason = `rollout #${context.rolloutId} of ${context.state.release}${action.id.includes('.rollback.') ? ' rolled back' : ''}`;
          const detail = await applyFlagStep(options.pool, { app: context.app, environment: context.environment }, action, { actor, reason, ...(options.flags ? { declared: options.flags } : {}) });
          return { status: 'succeeded', detail };
        }
        case 'verify': {
          const missing = action.checks.filter((name) => options.integrity?.checks[name] === undefined);
          if (missing.length > 0) return { status: 'failed', detail: `promote.yaml has no integrity check ${missing.join(', ')} any more; it was there when the rollout was planned` };
          const integrity = options.integrity!;
          const report = await runIntegrityChecks(
            action.checks.map((name) => ({ name, spec: integrity.checks[name]! })),
            { environment: context.environment, databaseUrl: integrity.databaseUrl, migrationsSchema: options.migrations?.schema ?? 'public', ...(integrity.previousEnvironment ? { previousEnvironment: integrity.previousEnvironment } : {}) },
          );
          return { status: report.passed ? 'succeeded' : 'failed', detail: report.summary, evidence: report };
        }
        case 'runHook': {
          const { release, stable } = context.state;
          const result = await runCommand({
            command: action.hook.run,
            cwd: options.configDir,
            timeoutMs: action.hook.timeout,
            env: { ...process.env, PROMOTE_VERSION: release, PROMOTE_STABLE: stable ?? '', PROMOTE_ENVIRONMENT: context.environment, PROMOTE_APP: context.app, PROMOTE_HOOK: action.point },
          });
          const passed = result.exitCode === 0 && !result.timedOut;
          const why = result.startError ?? (result.timedOut ? `timed out after ${Math.round(action.hook.timeout / 1000)}s` : `exited with code ${String(result.exitCode ?? result.signal)}`);
          return { status: passed ? 'succeeded' : 'failed', ...(passed ? {} : { detail: `${why}: ${lastLine(result.outputTail)}` }), evidence: result };
        }
      }
    },
    close() {
      analyses.close();
    },
    /** A hook that is not idempotent and was running when the controller stopped is not run again. */
    resolve(action: Action): Outcome | undefined {
      if (action.kind !== 'runHook' || action.hook.idempotent) return undefined;
      return { status: 'failed', detail: `the controller stopped while hook ${action.hook.name} ran; it is not marked idempotent, so it is not run again and may have run in part` };
    },
  };
}

async function releaseRecord(options: ExecutorOptions, context: ActionContext): Promise<Release> {
  const release = await getRelease(options.pool, context.app, context.state.release);
  if (!release) throw new Error(`release ${context.state.release} of ${context.app} is no longer recorded`);
  return release;
}

async function changeTraffic(options: ExecutorOptions, context: ActionContext, actor: string, reason: string, change: (table: Omit<TrafficConfig, 'revision'>) => Omit<TrafficConfig, 'revision'>): Promise<void> {
  const current = await getTraffic(options.pool, context.app, context.environment);
  const router = options.environment.router;
  const base: Omit<TrafficConfig, 'revision'> = (current?.config as unknown as Omit<TrafficConfig, 'revision'> | undefined) ?? {
    versions: [],
    stable: context.state.stable ?? context.state.release,
    ...(router?.sticky ? { sticky: router.sticky } : {}),
    ...(router?.override ? { override: router.override } : {}),
    ...(router?.apiRoutes ? { apiRoutes: router.apiRoutes } : {}),
    ...(router?.mirror ? { mirror: router.mirror } : {}),
  };
  const changed = change(base);
  // a preview of a version that left the table goes with it
  const next = normalise(changed.preview && !changed.versions.some((version) => version.name === changed.preview!.version) ? { ...changed, preview: undefined } : changed, context.state.release);
  if (current && JSON.stringify(current.config) === JSON.stringify(next)) return;
  try {
    await setTraffic(options.pool, { app: context.app, environment: context.environment, config: next, actor, reason });
  } catch (error) {
    throw new Error(`changing the routing table (${reason}): ${describeCause(error)}`, { cause: error });
  }
}

function upsertVersion(table: Omit<TrafficConfig, 'revision'>, name: string, upstreams: string[] | undefined, weight: number | undefined): Omit<TrafficConfig, 'revision'> {
  const existing = table.versions.find((version) => version.name === name);
  const updated: VersionTraffic = { name, weight: weight ?? existing?.weight ?? 0, upstreams: upstreams ?? existing?.upstreams ?? [] };
  return { ...table, versions: existing ? table.versions.map((version) => (version.name === name ? updated : version)) : [...table.versions, updated] };
}

/**
 * The release first (it owns the lowest sticky buckets), and a lone version always carries all
 * traffic. A canary that left the table (torn down after a rollback) is no canary any more: the
 * router refuses a table whose canary is not one of its versions.
 */
function normalise(table: Omit<TrafficConfig, 'revision'>, release: string): Omit<TrafficConfig, 'revision'> {
  let versions = [...table.versions].sort((a, b) => (a.name === release ? -1 : b.name === release ? 1 : 0));
  if (versions.length === 1) versions = [{ ...versions[0]!, weight: 100 }];
  const listed = (name: string | undefined) => name !== undefined && versions.some((version) => version.name === name);
  const { canary, ...rest } = table;
  return { ...rest, versions, stable: listed(table.stable) ? table.stable : versions[0]?.name ?? table.stable, ...(listed(canary) ? { canary } : {}) };
}

function lastLine(text: string): string {
  return text.trimEnd().split('\n').at(-1)?.slice(0, 200) ?? '';
}
