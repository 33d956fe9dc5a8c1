/**
 * The flag guardian runs beside the controller and, like it, acts only while it leads: it applies
 * scheduled flag changes when they fall due, and judges every change of a flag that carries safeguards.
 * A safeguard is a list of analysis templates from promote.yaml; each change of an enabled flag starts
 * a run of them (measured against the version serving the environment, with the templates' own count,
 * interval and failure limit), and a Failed run turns the flag off, whatever deployment is or is not
 * under way. Runs keep their measurements in the store and continue after a restart.
 */
import type pg from 'pg';
import { judge } from '../analysis/judges/index.js';
import { createProviderFor } from '../analysis/providers/all.js';
import { runAnalysis, type AnalysisResult } from '../analysis/runner.js';
import { describeCause } from '../errors.js';
import type { Logger } from '../log.js';
import type { AnalysisTemplateSpec, EnvironmentSpec } from '../spec/index.js';
import { appendEvent } from '../store/events.js';
import { withTransaction } from '../store/queryable.js';
import { getTraffic } from '../store/traffic.js';
import { endedSafeguardRuns, recordSafeguardVerdict, safeguardMeasurements, type SafeguardRunKey, type SafeguardVerdict } from './safeguard-store.js';
import type { FlagScope } from './source.js';
import { FlagConflictError, FlagNotFoundError, type FlagDefinition } from './store-errors.js';
import { disableFlag, listFlags, type StoredFlag } from './store-flags.js';
import { applyDueFlagSchedules } from './store-schedules.js';

export const SAFEGUARD_ACTOR = 'safeguard';

export interface FlagGuardianOptions {
  pool: pg.Pool;
  app: string;
  environments: readonly EnvironmentSpec[];
  templates: Readonly<Record<string, AnalysisTemplateSpec>>;
  configDir: string;
  /** only the leading controller's guardian acts, so a flag is never judged or changed twice */
  isLeader: () => boolean;
  /** how often to look for due schedules and changed flags; default 1 s */
  pollMs?: number;
  log?: Logger;
}

interface RunningGuard {
  version: number;
  abort: AbortController;
  done: Promise<void>;
}

/** The safeguard templates a flag carries (none for most flags). */
export function safeguardTemplates(definition: FlagDefinition): string[] {
  return definition.safeguards?.templates ?? [];
}

export class FlagGuardian {
  private readonly running = new Map<string, RunningGuard>();
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly options: FlagGuardianOptions) {}

  start(): void {
    const loop = () => {
      if (this.stopped) return;
      this.ticking = this.tick()
        .catch((error: unknown) => this.options.log?.error({ err: describeCause(error) }, 'the flag guardian could not look at the flags'))
        .finally(() => {
          if (!this.stopped) this.timer = setTimeout(loop, this.options.pollMs ?? 1_000).unref();
        });
    };
    loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    for (const guard of this.running.values()) guard.abort.abort();
    await Promise.allSettled([this.ticking, ...[...this.running.values()].map((guard) => guard.done)]);
  }

  /** One look: due schedules, then the guarded flags of every environment. */
  async tick(): Promise<void> {
    if (!this.options.isLeader()) {
      for (const guard of this.running.values()) guard.abort.abort();
      return;
    }
    const applied = await applyDueFlagSchedules(this.options.pool);
    for (const schedule of [...applied.applied, ...applied.failed]) this.options.log?.info({ schedule: schedule.id, flag: schedule.flag, status: schedule.status }, 'scheduled flag change');
    for (const environment of this.options.environments) await this.watch({ app: this.options.app, environment: environment.name }, environment);
  }

  /** Starts a run for each new version of a guarded flag, and stops runs whose version is gone. */
  private async watch(scope: FlagScope, environment: EnvironmentSpec): Promise<void> {
    let flags: StoredFlag[];
    try {
      flags = await listFlags(this.options.pool, scope);
    } catch (error) {
      // an environment no deploy or flag sync has recorded yet has no flags to guard
      if (error instanceof FlagNotFoundError) return;
      throw error;
    }
    const ended = await endedSafeguardRuns(this.options.pool, scope);
    const guarded = new Map(flags.filter((flag) => flag.definition.enabled && safeguardTemplates(flag.definition).length > 0).map((flag) => [flag.name, flag]));
    for (const [id, guard] of this.running) {
      const [environmentName, name] = splitId(id);
      if (environmentName === scope.environment && guarded.get(name)?.version !== guard.version) guard.abort.abort();
    }
    for (const flag of guarded.values()) {
      const id = `${scope.environment}/${flag.name}`;
      if (this.running.has(id) || ended.has(`${flag.name}@${flag.version}`)) continue;
      const abort = new AbortController();
      const done = this.guard(scope, environment, flag, abort.signal)
        .catch((error: unknown) => this.options.log?.error({ flag: flag.name, environment: scope.environment, err: describeCause(error) }, 'a flag safeguard run failed; it starts again on the next look'))
        .finally(() => {
          if (this.running.get(id)?.abort === abort) this.running.delete(id);
        });
      this.running.set(id, { version: flag.version, abort, done });
    }
  }

  private async guard(scope: FlagScope, environment: EnvironmentSpec, flag: StoredFlag, signal: AbortSignal): Promise<void> {
    const { pool, log } = this.options;
    const key: SafeguardRunKey = { ...scope, flag: flag.name, version: flag.version };
    const names = safeguardTemplates(flag.definition);
    const missing = names.filter((name) => this.options.templates[name] === undefined);
    if (missing.length > 0) {
      await this.conclude(key, 'Inconclusive', `promote.yaml has no analysis template ${missing.join(', ')}: the safeguards of flag ${flag.name} cannot run`);
      return;
    }
    const serving = (await getTraffic(pool, scope.app, scope.environment))?.config.stable;
    const result = await runAnalysis({
      measurements: safeguardMeasurements(pool, key),
      app: scope.app,
      environment: scope.environment,
      candidate: typeof serving === 'string' ? serving : 'unknown',
      // a flag has no baseline version: compare templates sit out, thresholds judge
      baseline: null,
      templates: names.map((name) => ({ name, spec: this.options.templates[name]! })),
      score: { pass: 100, marginal: 100 },
      provider: (_name, spec) => createProviderFor(spec.provider, { app: scope.app, pool, configDir: this.options.configDir, ...(environment.router ? { routerAdmin: environment.router.admin } : {}) }),
      judge,
      signal,
      ...(log ? { log } : {}),
    });
    if (result.verdict === undefined) return;
    if (result.verdict === 'Failed') await this.turnOff(scope, flag, result);
    await this.conclude(key, result.verdict, result.reason, result);
  }

  private async turnOff(scope: FlagScope, flag: StoredFlag, result: AnalysisResult): Promise<void> {
    try {
      await disableFlag(this.options.pool, scope, flag.name, { actor: SAFEGUARD_ACTOR, reason: `safeguard failed: ${result.reason}`, expectedVersion: flag.version });
    } catch (error) {
      // someone changed the flag while its run measured: the new version has a run of its own
      if (!(error instanceof FlagConflictError)) throw error;
    }
  }

  private async conclude(key: SafeguardRunKey, verdict: SafeguardVerdict, reason: string, result?: AnalysisResult): Promise<void> {
    await withTransaction(this.options.pool, async (tx) => {
      await recordSafeguardVerdict(tx, key, verdict, reason);
      await appendEvent(tx, {
        type: `flag.safeguard_${verdict.toLowerCase()}`,
        actor: SAFEGUARD_ACTOR,
        app: key.app,
        environment: key.environment,
        data: { flag: key.flag, version: key.version, verdict, reason, ...(result ? { templates: result.templates, ...(result.score !== undefined ? { score: result.score } : {}) } : {}) },
      });
    });
    this.options.log?.info({ flag: key.flag, version: key.version, verdict, reason }, 'flag safeguard verdict');
  }
}

function splitId(id: string): [string, string] {
  const at = id.indexOf('/');
  return [id.slice(0, at), id.slice(at + 1)];
}
