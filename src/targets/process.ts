/**
 * The `process` target: Promote runs `instances` copies of the app's command per version on this
 * machine, probes them, restarts the ones that crash, and drains them on teardown.
 *
 * The controller can be killed at any instant while the instances keep serving: they run detached in
 * their own process groups, log to files, and each has a JSON record (pid, port, start time) next to
 * its log. A new controller adopts running instances from these records instead of starting twins.
 */
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { PromoteError, describeCause } from '../errors.js';
import { createLogger, type Logger } from '../log.js';
import { formatDuration } from '../spec/duration.js';
import type { ProcessTargetSpec } from '../spec/schema.js';
import { commandEnv, describeExit, fillCommand, spawnLogged, type Exit } from './command.js';
import { folderName, formatTail, listFolder, logTail, removeFile, versionFolder } from './files.js';
import { readJson, writeJsonAtomically } from '../system/files.js';
import { KeyedMutex } from './lock.js';
import { findProcessesByEnv, freeListenPort, isRunning, processStartTime, stopGroup, type StopOutcome } from '../system/processes.js';
import { probeHttp, sleep } from './probe.js';
import type { DeployRequest, InstanceState, InstanceStatus, Target, TargetOptions, VersionInstances } from './target.js';

/** Knobs the spec does not (yet) expose; tests shorten them. */
export interface ProcessTuning {
  /** time between liveness probes of a ready instance (default 5 s) */
  livenessIntervalMs?: number;
  /** HTTP path probed for liveness (default: the readiness path) */
  livenessPath?: string;
  /** consecutive failed liveness probes before the instance is restarted (default 3) */
  livenessFailures?: number;
  /** first restart delay, doubled per consecutive failure (default 1 s) */
  restartDelayMs?: number;
  /** longest restart delay (default 30 s) */
  maxRestartDelayMs?: number;
  /** longest wait for one probe answer (default 5 s, never more than the time left) */
  probeTimeoutMs?: number;
}

export interface ProcessTargetOptions extends TargetOptions {
  tuning?: ProcessTuning;
}

/** What a restart needs to start an instance like the first time, even in another controller. */
interface Launch {
  env: Record<string, string>;
  artifact?: string;
}

/** One `instance-<i>.json`; written with mode 0600 because `launch.env` may hold secrets. */
interface InstanceRecord {
  format: 1;
  app: string;
  environment: string;
  version: string;
  index: number;
  /** null from just before the spawn until the pid is known; `token` finds the process meanwhile */
  pid: number | null;
  /** in the instance's environment as PROMOTE_INSTANCE_ID: names it even when its pid was never written */
  token?: string;
  port: number;
  url: string;
  command: string;
  startedAt: string;
  /** /proc start time of the pid, so a reused pid is never mistaken for the instance */
  startTime?: string;
  restarts: number;
  launch: Launch;
}

interface Instance {
  readonly index: number;
  readonly port: number;
  readonly url: string;
  pid: number | undefined;
  startTime: string | undefined;
  startedAt: string;
  /** set when this controller started the process */
  child: ChildProcess | undefined;
  /** how that child ended */
  exit: Exit | undefined;
  state: InstanceState;
  since: string;
  restarts: number;
  readyAt: number | undefined;
  livenessFailures: number;
  /** restarts since the instance last stayed up, for the backoff */
  consecutiveFailures: number;
  restarting: Promise<void> | undefined;
}

interface Group {
  version: string;
  folder: string;
  launch: Launch;
  instances: Instance[];
  /** aborted by teardown and close: stops probes, restarts and their waits */
  supervision: AbortController;
  timer: NodeJS.Timeout | undefined;
  ticking: boolean;
}

const recordPattern = /^instance-(\d+)\.json$/;
const tokenVariable = 'PROMOTE_INSTANCE_ID';

/** A record whose pid is known (pending records are resolved or dropped when read). */
type RunningRecord = InstanceRecord & { pid: number };
const portsKey = '\0ports';

export function createProcessTarget(spec: ProcessTargetSpec, options: ProcessTargetOptions): Target {
  return new ProcessTarget(spec, options);
}

class ProcessTarget implements Target {
  private readonly log: Logger;
  private readonly tuning: Required<Omit<ProcessTuning, 'livenessPath'>> & { livenessPath: string };
  private readonly groups = new Map<string, Group>();
  private readonly lock = new KeyedMutex();
  /** ports handed to instances of this target that may not be listening yet */
  private readonly reserved = new Set<number>();
  private closed = false;

  constructor(
    private readonly spec: ProcessTargetSpec,
    private readonly options: ProcessTargetOptions,
  ) {
    this.log = (options.log ?? createLogger({ level: 'silent' })).child({ target: 'process', environment: options.environment });
    const tuning = options.tuning ?? {};
    this.tuning = {
      livenessIntervalMs: tuning.livenessIntervalMs ?? 5_000,
      livenessPath: tuning.livenessPath ?? spec.readiness.path,
      livenessFailures: tuning.livenessFailures ?? 3,
      restartDelayMs: tuning.restartDelayMs ?? 1_000,
      maxRestartDelayMs: tuning.maxRestartDelayMs ?? 30_000,
      probeTimeoutMs: tuning.probeTimeoutMs ?? 5_000,
    };
  }

  // ---- Target --------------------------------------------------------------------------------

  async deploy(request: DeployRequest, signal?: AbortSignal): Promise<VersionInstances> {
    this.assertOpen();
    const version = checkVersion(request.version);
    if (request.environment !== this.options.environment || request.app !== this.options.app) {
      throw new PromoteError(
        `cannot deploy ${request.app}/${request.environment} version ${version} with the target of ${this.options.app}/${this.options.environment}`,
      );
    }
    if (signal?.aborted) throw cancelled(version, signal);
    const { group, fresh } = await this.lock.run(version, () => this.bringUpLocked(request, signal));
    if (!fresh) await this.waitGroupReady(group, signal);
    return { version, urls: group.instances.map((instance) => instance.url) };
  }

  async teardown(version: string): Promise<void> {
    this.assertOpen();
    checkVersion(version);
    this.stopSupervising(this.groups.get(version));
    const group = await this.lock.run(version, async () => {
      const current = this.groups.get(version);
      this.stopSupervising(current);
      const folder = this.folderOf(version);
      const records = await this.readRecords(folder);
      const stops: Promise<unknown>[] = [];
      for (const instance of current?.instances ?? []) {
        stops.push(this.stopInstance(version, instance, this.spec.drainTimeout));
      }
      for (const record of records.values()) {
        const known = current?.instances.some((instance) => instance.pid === record.pid) ?? false;
        if (!known) stops.push(this.stopRecorded(record, this.spec.drainTimeout));
      }
      await Promise.all(stops);
      await Promise.all([...records.keys()].map((index) => removeFile(this.recordPath(folder, index))));
      for (const instance of current?.instances ?? []) this.reserved.delete(instance.port);
      for (const record of records.values()) this.reserved.delete(record.port);
      this.groups.delete(version);
      if (stops.length > 0) this.log.info({ version, instances: stops.length }, 'version stopped');
      return current;
    });
    await settleRestarts(group);
  }

  async instances(version: string): Promise<VersionInstances | undefined> {
    this.assertOpen();
    checkVersion(version);
    const known = this.groups.get(version);
    if (known) return view(known);
    return this.lock.run(version, async () => {
      const current = this.groups.get(version) ?? (await this.adoptLocked(version));
      return current === undefined ? undefined : view(current);
    });
  }

  async status(): Promise<InstanceStatus[]> {
    this.assertOpen();
    const statuses: InstanceStatus[] = [];
    for (const group of this.groups.values()) {
      for (const instance of group.instances) statuses.push(statusOf(group.version, instance));
    }
    // versions still running from an earlier controller that nobody adopted yet
    for (const name of await listFolder(join(this.options.stateDir, folderName(this.options.environment)))) {
      const records = await this.readRecords(join(this.options.stateDir, folderName(this.options.environment), name), false);
      for (const record of records.values()) {
        if (this.groups.has(record.version)) continue;
        let state: InstanceState = 'crashed';
        if (isRunning(record.pid, record.startTime)) {
          const probe = await probeHttp(record.url + this.spec.readiness.path, Math.min(this.tuning.probeTimeoutMs, 1_000));
          state = probe.ok ? 'ready' : 'unready';
        }
        statuses.push({ version: record.version, index: record.index, url: record.url, pid: record.pid, state, restarts: record.restarts, since: record.startedAt });
      }
    }
    return statuses.sort((a, b) => a.version.localeCompare(b.version) || a.index - b.index);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const groups = [...this.groups.values()];
    for (const group of groups) this.stopSupervising(group);
    await Promise.all(groups.map(settleRestarts));
    this.groups.clear();
    this.log.debug('stopped supervising; the instances keep running');
  }

  // ---- deploy and adoption ----------------------------------------------------------------------

  /** Runs under the version's lock: adopts or starts every instance; on failure stops what it started. */
  private async bringUpLocked(request: DeployRequest, signal: AbortSignal | undefined): Promise<{ group: Group; fresh: boolean }> {
    const version = request.version;
    const existing = this.groups.get(version);
    if (existing) return { group: existing, fresh: false };
    const folder = this.folderOf(version);
    const launch: Launch = { env: { ...request.env }, ...(request.artifact === undefined ? {} : { artifact: request.artifact }) };
    const records = await this.readRecords(folder);
    const wanted = this.spec.instances;

    // scale down: instances beyond the spec's count (the spec changed while they ran)
    for (const record of records.values()) {
      if (record.index < wanted) continue;
      await this.stopRecorded(record, this.spec.drainTimeout);
      await removeFile(this.recordPath(folder, record.index));
      records.delete(record.index);
    }

    const local = new AbortController();
    let firstError: unknown;
    const fail = (error: unknown) => {
      firstError ??= error;
      local.abort(error);
    };
    const onAbort = () => fail(cancelled(version, signal));
    if (signal?.aborted) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });

    const started: Instance[] = [];
    const adopted: Instance[] = [];
    let ports: number[] = [];
    let results: PromiseSettledResult<Instance>[];
    try {
      ports = await this.portsFor(version, records);
      results = await Promise.allSettled(
        ports.map(async (port, index) => {
          try {
            return await this.bringUpInstance(version, folder, index, port, records.get(index), launch, local.signal, started, adopted);
          } catch (error) {
            fail(error);
            throw error;
          }
        }),
      );
    } catch (error) {
      fail(error);
      results = [];
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }

    if (firstError !== undefined) {
      await Promise.all(
        started.map(async (instance) => {
          await this.stopInstance(version, instance, Math.min(this.spec.drainTimeout, 5_000));
          await removeFile(this.recordPath(folder, instance.index));
        }),
      );
      for (const port of ports) if (!adopted.some((instance) => instance.port === port)) this.reserved.delete(port);
      // instances adopted by this call ran before it and keep running (their records stay)
      this.log.warn({ version, error: describeCause(firstError) }, 'deploy failed; stopped the instances it started');
      throw firstError instanceof Error ? firstError : new PromoteError(`deploying version ${version} failed: ${describeCause(firstError)}`);
    }

    const instances = results.map((result) => (result as PromiseFulfilledResult<Instance>).value);
    const group: Group = { version, folder, launch, instances, supervision: new AbortController(), timer: undefined, ticking: false };
    this.groups.set(version, group);
    this.supervise(group);
    this.log.info({ version, started: started.length, adopted: adopted.length, upstreams: instances.map((instance) => instance.url) }, 'version ready');
    return { group, fresh: true };
  }

  /** Adopts the recorded instance when it runs and gets ready, otherwise starts a new one. */
  private async bringUpInstance(
    version: string,
    folder: string,
    index: number,
    port: number,
    record: RunningRecord | undefined,
    launch: Launch,
    signal: AbortSignal,
    started: Instance[],
    adopted: Instance[],
  ): Promise<Instance> {
    let restarts = 0;
    if (record !== undefined) {
      restarts = record.restarts;
      if (isRunning(record.pid, record.startTime)) {
        const instance = fromRecord(record, 'starting');
        try {
          await this.waitReady(version, instance, signal);
          markReady(instance);
          adopted.push(instance);
          this.log.info({ version, instance: index, pid: record.pid }, 'adopted a running instance');
          return instance;
        } catch (error) {
          if (signal.aborted) throw error;
          this.log.warn({ version, instance: index, pid: record.pid, error: describeCause(error) }, 'a running instance did not get ready; replacing it');
          await this.stopInstance(version, instance, Math.min(this.spec.drainTimeout, 5_000));
        }
      } else {
        this.log.warn({ version, instance: index, pid: record.pid }, 'the recorded instance is gone; starting it again');
        await this.stopRecorded(record, 0);
      }
      await removeFile(this.recordPath(folder, index));
      restarts += 1;
    }
    if (signal.aborted) throw signal.reason;
    const instance = newInstance(index, port, restarts);
    started.push(instance);
    await this.spawnInstance(version, folder, instance, launch);
    await this.waitReady(version, instance, signal);
    markReady(instance);
    return instance;
  }

  /**
   * instances() of a version this controller does not supervise: takes over the recorded instances
   * when at least one runs; the dead ones are restarted by the supervision. Nothing is started when
   * none runs (the version is down; deploy brings it up).
   */
  private async adoptLocked(version: string): Promise<Group | undefined> {
    const folder = this.folderOf(version);
    const records = await this.readRecords(folder);
    if (records.size === 0) return undefined;
    const running = [...records.values()].filter((record) => isRunning(record.pid, record.startTime));
    if (running.length === 0) {
      for (const record of records.values()) {
        await this.stopRecorded(record, 0);
        await removeFile(this.recordPath(folder, record.index));
      }
      this.log.info({ version }, 'removed the records of a version whose instances are all gone');
      return undefined;
    }
    const first = [...records.values()][0] as RunningRecord;
    const instances = await Promise.all(
      [...records.values()]
        .sort((a, b) => a.index - b.index)
        .map(async (record) => {
          if (!isRunning(record.pid, record.startTime)) return fromRecord(record, 'crashed');
          const probe = await probeHttp(record.url + this.spec.readiness.path, this.probeTimeout(this.spec.readiness.interval));
          const instance = fromRecord(record, probe.ok ? 'ready' : 'unready');
          if (probe.ok) instance.readyAt = Date.now();
          else instance.livenessFailures = 1;
          return instance;
        }),
    );
    for (const instance of instances) this.reserved.add(instance.port);
    const group: Group = { version, folder, launch: first.launch, instances, supervision: new AbortController(), timer: undefined, ticking: false };
    this.groups.set(version, group);
    this.supervise(group);
    for (const instance of instances) {
      if (instance.state === 'crashed') this.restart(group, instance, 'its process was gone when the controller took over');
    }
    this.log.info({ version, instances: instances.length }, 'adopted a running version');
    return group;
  }

  /** deploy() of a version already supervised: resolves once every instance is ready again. */
  private async waitGroupReady(group: Group, signal: AbortSignal | undefined): Promise<void> {
    const deadline = Date.now() + this.spec.readiness.timeout;
    for (;;) {
      const waiting = group.instances.filter((instance) => instance.state !== 'ready');
      if (waiting.length === 0) return;
      if (this.groups.get(group.version) !== group) throw new PromoteError(`version ${group.version} was torn down while it was being deployed`);
      if (Date.now() >= deadline) {
        throw new PromoteError(
          `version ${group.version} runs, but ${waiting.map((instance) => `instance ${instance.index} (${instance.state})`).join(', ')} did not get ready within ${formatDuration(this.spec.readiness.timeout)}`,
          { hint: `see the logs in ${group.folder}` },
        );
      }
      try {
        await sleep(Math.min(this.spec.readiness.interval, deadline - Date.now()), signal);
        // an adopted instance that was still starting: probe it now rather than at the next liveness round
        for (const instance of waiting) {
          if (instance.state !== 'unready' || instance.restarting !== undefined || this.exitOf(instance) !== undefined) continue;
          const probe = await probeHttp(instance.url + this.spec.readiness.path, this.probeTimeout(this.spec.readiness.interval), signal);
          if (probe.ok && instance.state === 'unready' && instance.restarting === undefined) markReady(instance);
        }
      } catch {
        throw cancelled(group.version, signal);
      }
    }
  }

  // ---- one instance -----------------------------------------------------------------------------

  private async spawnInstance(version: string, folder: string, instance: Instance, launch: Launch): Promise<void> {
    const context = { app: this.options.app, environment: this.options.environment, version };
    const command = fillCommand(this.spec.command, context);
    const token = randomUUID();
    const env = commandEnv(context, {
      spec: this.spec.env,
      request: launch.env,
      artifact: launch.artifact,
      own: { PORT: String(instance.port), PROMOTE_INSTANCE: String(instance.index), [tokenVariable]: token },
    });
    const doing = `starting instance ${instance.index} of version ${version}`;
    instance.state = 'starting';
    instance.since = new Date().toISOString();
    instance.exit = undefined;
    instance.child = undefined;
    instance.pid = undefined;
    instance.startTime = undefined;
    const recordOf = (pid: number | null): InstanceRecord => ({
      format: 1,
      app: this.options.app,
      environment: this.options.environment,
      version,
      index: instance.index,
      pid,
      token,
      port: instance.port,
      url: instance.url,
      command,
      startedAt: instance.since,
      ...(instance.startTime === undefined ? {} : { startTime: instance.startTime }),
      restarts: instance.restarts,
      launch,
    });
    // written before the spawn: a controller killed before the pid is written leaves a token to find the process by
    await writeJsonAtomically(this.recordPath(folder, instance.index), recordOf(null));
    let child: ChildProcess & { pid: number };
    try {
      child = await spawnLogged({
        command,
        cwd: this.options.configDir,
        env,
        logPath: this.logPath(folder, instance.index),
        header: `instance ${instance.index} of version ${version} starting on port ${instance.port}: ${command}`,
        doing,
      });
    } catch (error) {
      await removeFile(this.recordPath(folder, instance.index));
      throw error;
    }
    child.unref();
    child.on('error', (error) => this.log.warn({ version, instance: instance.index, error: describeCause(error) }, 'instance process error'));
    child.once('exit', (code, exitSignal) => this.onExit(version, instance, child, { code, signal: exitSignal }));
    instance.child = child;
    instance.pid = child.pid;
    instance.startTime = processStartTime(child.pid);
    instance.startedAt = instance.since;
    try {
      await writeJsonAtomically(this.recordPath(folder, instance.index), recordOf(child.pid));
    } catch (error) {
      // an instance without a record would outlive the controller unseen: stop it now
      await stopGroup(child.pid, instance.startTime, 0);
      throw error;
    }
    this.log.info({ version, instance: instance.index, pid: child.pid, port: instance.port }, 'instance started');
  }

  /** Probes until the instance answers 2xx/3xx; rejects when it exits or the readiness timeout passes. */
  private async waitReady(version: string, instance: Instance, signal: AbortSignal): Promise<void> {
    const { path, timeout, interval } = this.spec.readiness;
    const deadline = Date.now() + timeout;
    let last = 'no answer yet';
    for (;;) {
      if (signal.aborted) throw signal.reason;
      const exit = this.exitOf(instance);
      if (exit !== undefined) throw await this.failure(version, instance, `${exit} before it was ready`);
      const probe = await probeHttp(instance.url + path, this.probeTimeout(Math.max(1, deadline - Date.now())), signal);
      if (probe.ok) return;
      last = probe.detail;
      const left = deadline - Date.now();
      if (left <= 0) {
        const exitNow = this.exitOf(instance);
        if (exitNow !== undefined) throw await this.failure(version, instance, `${exitNow} before it was ready`);
        throw await this.failure(
          version,
          instance,
          `was not ready within the readiness timeout of ${formatDuration(timeout)} (GET ${instance.url}${path}: ${last})`,
          'check that the command listens on $PORT and answers the readiness path, or raise readiness.timeout',
        );
      }
      await sleep(Math.min(interval, left), signal);
    }
  }

  /** How the instance's process ended, or undefined while it runs. */
  private exitOf(instance: Instance): string | undefined {
    if (instance.exit !== undefined) return describeExit(instance.exit);
    if (instance.pid === undefined) return 'never started';
    if (instance.child !== undefined) return undefined;
    return isRunning(instance.pid, instance.startTime) ? undefined : 'exited (exit code unknown: started by an earlier controller)';
  }

  private async failure(version: string, instance: Instance, what: string, hint?: string): Promise<PromoteError> {
    const logPath = this.logPath(this.folderOf(version), instance.index);
    const tail = await logTail(logPath);
    return new PromoteError(`version ${version}: instance ${instance.index} (pid ${instance.pid ?? '?'}, port ${instance.port}) ${what}\n${formatTail(logPath, tail)}`, {
      hint: hint ?? `the whole log is ${logPath}`,
    });
  }

  private onExit(version: string, instance: Instance, child: ChildProcess, exit: Exit): void {
    if (instance.child !== child) return;
    instance.exit = exit;
    const group = this.groups.get(version);
    if (this.closed || group === undefined || !group.instances.includes(instance) || group.supervision.signal.aborted) return;
    if (instance.state !== 'ready' && instance.state !== 'unready') return;
    this.restart(group, instance, `its process ${describeExit(exit)}`);
  }

  /** SIGTERM to the instance's group, `graceMs` to exit, then SIGKILL. */
  private async stopInstance(version: string, instance: Instance, graceMs: number): Promise<void> {
    instance.state = 'stopping';
    instance.since = new Date().toISOString();
    if (instance.pid !== undefined) {
      const outcome = await stopGroup(instance.pid, instance.startTime, graceMs);
      this.logStop(version, instance.index, instance.pid, outcome, graceMs);
    }
    instance.state = 'stopped';
    instance.since = new Date().toISOString();
  }

  /** Stops an instance known only from its record (started by an earlier controller). */
  private async stopRecorded(record: RunningRecord, graceMs: number): Promise<void> {
    const outcome = await stopGroup(record.pid, record.startTime, graceMs);
    this.logStop(record.version, record.index, record.pid, outcome, graceMs);
  }

  private logStop(version: string, index: number, pid: number, outcome: StopOutcome, graceMs: number): void {
    if (outcome === 'killed') this.log.warn({ version, instance: index, pid }, `instance did not exit within ${formatDuration(graceMs)} of SIGTERM; killed it`);
    else if (outcome === 'stuck') this.log.error({ version, instance: index, pid }, 'instance survived SIGKILL (uninterruptible sleep?)');
    else if (outcome === 'terminated') this.log.info({ version, instance: index, pid }, 'instance stopped');
  }

  // ---- supervision ------------------------------------------------------------------------------

  private supervise(group: Group): void {
    if (this.closed) return;
    group.timer = setInterval(() => void this.tick(group), this.tuning.livenessIntervalMs);
    group.timer.unref();
  }

  private stopSupervising(group: Group | undefined): void {
    if (group === undefined) return;
    group.supervision.abort(new PromoteError(`supervision of version ${group.version} stopped`));
    if (group.timer !== undefined) clearInterval(group.timer);
    group.timer = undefined;
  }

  /** One liveness round: a dead process or `livenessFailures` failed probes in a row mean a restart. */
  private async tick(group: Group): Promise<void> {
    if (group.ticking || group.supervision.signal.aborted) return;
    group.ticking = true;
    try {
      await Promise.all(
        group.instances.map(async (instance) => {
          if (instance.restarting !== undefined || (instance.state !== 'ready' && instance.state !== 'unready')) return;
          const exit = this.exitOf(instance);
          if (exit !== undefined) {
            this.restart(group, instance, `its process ${exit}`);
            return;
          }
          const probe = await probeHttp(instance.url + this.tuning.livenessPath, this.probeTimeout(this.tuning.livenessIntervalMs), group.supervision.signal);
          if (group.supervision.signal.aborted || instance.restarting !== undefined || (instance.state !== 'ready' && instance.state !== 'unready')) return;
          if (probe.ok) {
            instance.livenessFailures = 0;
            if (instance.state === 'unready') setState(instance, 'ready');
            if (instance.readyAt !== undefined && Date.now() - instance.readyAt >= this.tuning.maxRestartDelayMs) instance.consecutiveFailures = 0;
            return;
          }
          instance.livenessFailures += 1;
          if (instance.state === 'ready') {
            setState(instance, 'unready');
            this.log.warn({ version: group.version, instance: instance.index, problem: probe.detail }, 'liveness probe failed');
          }
          if (instance.livenessFailures >= this.tuning.livenessFailures) {
            this.restart(group, instance, `it failed ${instance.livenessFailures} liveness probes in a row (last: ${probe.detail})`);
          }
        }),
      );
    } catch (error) {
      this.log.error({ version: group.version, error: describeCause(error) }, 'liveness round failed');
    } finally {
      group.ticking = false;
    }
  }

  private restart(group: Group, instance: Instance, reason: string): void {
    if (instance.restarting !== undefined || group.supervision.signal.aborted || this.closed) return;
    if (instance.state === 'ready' || instance.state === 'unready') {
      setState(instance, this.exitOf(instance) !== undefined ? 'crashed' : 'unready');
    }
    instance.restarting = this.restartLoop(group, instance, reason)
      .catch((error: unknown) => {
        if (!group.supervision.signal.aborted) this.log.error({ version: group.version, instance: instance.index, error: describeCause(error) }, 'restarting failed');
      })
      .finally(() => {
        instance.restarting = undefined;
      });
  }

  /** Stops what is left of the instance, waits the backoff, starts it on the same port; again until ready. */
  private async restartLoop(group: Group, instance: Instance, firstReason: string): Promise<void> {
    const signal = group.supervision.signal;
    let reason = firstReason;
    for (;;) {
      if (instance.readyAt !== undefined && Date.now() - instance.readyAt >= this.tuning.maxRestartDelayMs) instance.consecutiveFailures = 0;
      instance.readyAt = undefined;
      const delay = Math.min(this.tuning.restartDelayMs * 2 ** Math.min(instance.consecutiveFailures, 30), this.tuning.maxRestartDelayMs);
      instance.consecutiveFailures += 1;
      this.log.warn({ version: group.version, instance: instance.index, reason, delayMs: delay }, 'restarting instance');
      // a hung process, or children left behind by a dead one, may still hold the port
      if (instance.pid !== undefined) {
        await stopGroup(instance.pid, instance.startTime, Math.min(this.spec.drainTimeout, 5_000));
        setState(instance, 'crashed');
      }
      await sleep(delay, signal);
      try {
        await this.lock.run(group.version, async () => {
          if (signal.aborted || this.closed) throw signal.reason;
          instance.restarts += 1;
          await this.spawnInstance(group.version, group.folder, instance, group.launch);
        });
        await this.waitReady(group.version, instance, signal);
        markReady(instance);
        this.log.info({ version: group.version, instance: instance.index, pid: instance.pid, restarts: instance.restarts }, 'instance restarted and ready');
        return;
      } catch (error) {
        if (signal.aborted) throw error;
        setState(instance, 'crashed');
        reason = describeCause(error).split('\n')[0] ?? 'restart failed';
      }
    }
  }

  // ---- ports, files ---------------------------------------------------------------------------

  /**
   * The port of each instance: the recorded one for instances that ran before; otherwise
   * basePort + i for the first version, and the next free block of `instances` ports for each version
   * running beside it (a canary next to its stable); or a free port per instance without basePort.
   */
  private async portsFor(version: string, records: Map<number, RunningRecord>): Promise<number[]> {
    return this.lock.run(portsKey, async () => {
      const wanted = this.spec.instances;
      const used = new Set(this.reserved);
      for (const name of await listFolder(join(this.options.stateDir, folderName(this.options.environment)))) {
        const others = await this.readRecords(join(this.options.stateDir, folderName(this.options.environment), name));
        for (const record of others.values()) if (record.version !== version) used.add(record.port);
      }
      const ports: (number | undefined)[] = Array.from({ length: wanted }, (_, index) => records.get(index)?.port);
      for (const port of ports) if (port !== undefined) used.add(port);
      const base = this.spec.basePort;
      if (base !== undefined) {
        const known = [...records.values()][0];
        const preferred = known === undefined ? [] : [Math.floor((known.port - base) / wanted)];
        for (let slot = 0; ports.includes(undefined); slot += 1) {
          const candidate = slot < preferred.length ? (preferred[slot] as number) : slot - preferred.length;
          if (candidate < 0) continue;
          const block = ports.map((port, index) => port ?? base + candidate * wanted + index);
          if (block.some((port) => port > 65_535)) {
            throw new PromoteError(`no free block of ${wanted} ports from basePort ${base} for version ${version}`, {
              hint: 'tear down versions that are no longer needed, or lower basePort',
            });
          }
          if (block.every((port, index) => ports[index] !== undefined || !used.has(port))) {
            for (let index = 0; index < wanted; index += 1) ports[index] = block[index];
          }
        }
      } else {
        for (let index = 0; index < wanted; index += 1) {
          if (ports[index] !== undefined) continue;
          let port = await freeListenPort();
          for (let attempt = 0; used.has(port) && attempt < 20; attempt += 1) port = await freeListenPort();
          ports[index] = port;
          used.add(port);
        }
      }
      const chosen = ports as number[];
      for (const port of chosen) this.reserved.add(port);
      return chosen;
    });
  }

  private folderOf(version: string): string {
    return versionFolder(this.options.stateDir, this.options.environment, version);
  }

  private recordPath(folder: string, index: number): string {
    return join(folder, `instance-${index}.json`);
  }

  private logPath(folder: string, index: number): string {
    return join(folder, `instance-${index}.log`);
  }

  /**
   * The instance records of a version folder; damaged ones are reported and skipped. A record written
   * just before a spawn whose pid never followed is resolved by the token in the process's
   * environment; when no process has it, the spawn never happened and the record is dropped (removed
   * too when `prune`, that is when the caller holds the version's lock and no spawn can be under way).
   */
  private async readRecords(folder: string, prune = true): Promise<Map<number, RunningRecord>> {
    const records = new Map<number, RunningRecord>();
    for (const name of await listFolder(folder)) {
      if (!recordPattern.test(name)) continue;
      const path = join(folder, name);
      const value = await readJson(path);
      if (value === undefined) continue;
      if (!isRecord(value)) {
        this.log.warn({ path }, 'ignoring a damaged instance record');
        continue;
      }
      const record = value.pid === null ? await this.resolvePending(value, path, prune) : (value as RunningRecord);
      if (record !== undefined) records.set(record.index, record);
    }
    return records;
  }

  private async resolvePending(record: InstanceRecord, path: string, prune: boolean): Promise<RunningRecord | undefined> {
    if (record.token === undefined) return undefined;
    // a child forked but not yet exec'd still shows its parent's environment: look twice
    const found = findProcessesByEnv(tokenVariable, record.token)[0] ?? (await sleep(100).then(() => findProcessesByEnv(tokenVariable, record.token ?? '')[0]));
    if (found !== undefined) {
      this.log.warn({ version: record.version, instance: record.index, pid: found.pid }, 'found an instance whose pid an earlier controller did not record');
      const resolved: RunningRecord = { ...record, pid: found.pid, startTime: found.startTime };
      if (prune) await writeJsonAtomically(path, resolved);
      return resolved;
    }
    if (prune) await removeFile(path);
    return undefined;
  }

  private probeTimeout(limit: number): number {
    return Math.max(1, Math.min(this.tuning.probeTimeoutMs, Math.max(limit, 250)));
  }

  private assertOpen(): void {
    if (this.closed) throw new PromoteError('the process target is closed');
  }
}

// ---- helpers ----------------------------------------------------------------------------------

function checkVersion(version: string): string {
  if (typeof version !== 'string' || version.length === 0) throw new PromoteError('a version to deploy must be a non-empty string');
  return version;
}

function cancelled(version: string, signal: AbortSignal | undefined): PromoteError {
  const reason: unknown = signal?.reason;
  return new PromoteError(`deploying version ${version} was cancelled${reason instanceof Error ? `: ${reason.message}` : ''}`, { cause: reason });
}

function newInstance(index: number, port: number, restarts: number): Instance {
  const now = new Date().toISOString();
  return {
    index,
    port,
    url: `http://127.0.0.1:${port}`,
    pid: undefined,
    startTime: undefined,
    startedAt: now,
    child: undefined,
    exit: undefined,
    state: 'starting',
    since: now,
    restarts,
    readyAt: undefined,
    livenessFailures: 0,
    consecutiveFailures: 0,
    restarting: undefined,
  };
}

function fromRecord(record: RunningRecord, state: InstanceState): Instance {
  const instance = newInstance(record.index, record.port, record.restarts);
  instance.pid = record.pid;
  instance.startTime = record.startTime;
  instance.startedAt = record.startedAt;
  instance.state = state;
  return instance;
}

function setState(instance: Instance, state: InstanceState): void {
  if (instance.state === state) return;
  instance.state = state;
  instance.since = new Date().toISOString();
}

function markReady(instance: Instance): void {
  setState(instance, 'ready');
  instance.readyAt = Date.now();
  instance.livenessFailures = 0;
}

function view(group: Group): VersionInstances | undefined {
  const urls = group.instances.filter((instance) => instance.state === 'starting' || instance.state === 'ready' || instance.state === 'unready').map((instance) => instance.url);
  return urls.length === 0 ? undefined : { version: group.version, urls };
}

function statusOf(version: string, instance: Instance): InstanceStatus {
  return {
    version,
    index: instance.index,
    url: instance.url,
    ...(instance.pid === undefined ? {} : { pid: instance.pid }),
    state: instance.state,
    restarts: instance.restarts,
    since: instance.since,
  };
}

async function settleRestarts(group: Group | undefined): Promise<void> {
  await Promise.all((group?.instances ?? []).flatMap((instance) => (instance.restarting === undefined ? [] : [instance.restarting])));
}

function isRecord(value: unknown): value is InstanceRecord {
  if (typeof value !== 'object' || value === null) return false;
  const record = value as Partial<InstanceRecord>;
  return (
    record.format === 1 &&
    typeof record.version === 'string' &&
    Number.isInteger(record.index) &&
    ((Number.isInteger(record.pid) && (record.pid ?? 0) > 0) || (record.pid === null && typeof record.token === 'string')) &&
    Number.isInteger(record.port) &&
    typeof record.url === 'string' &&
    typeof record.restarts === 'number' &&
    typeof record.launch === 'object' &&
    record.launch !== null
  );
}

