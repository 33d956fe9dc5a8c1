/**
 * The `external` target: the team's own tooling runs the versions. Promote fills the placeholders of
 * the `deploy` / `undeploy` commands and of the upstream URLs, runs the commands, and waits until
 * every URL takes connections.
 *
 * A small record per version (`<stateDir>/<environment>/<version>/external.json`) remembers that the
 * deploy command ran, so a restarted controller neither runs it again for a version that is up nor
 * forgets to run `undeploy` for one whose deploy was interrupted.
 */
import { join } from 'node:path';
import { PromoteError, describeCause, redactSecrets } from '../errors.js';
import { createLogger, type Logger } from '../log.js';
import { formatDuration } from '../spec/duration.js';
import type { ExternalTargetSpec } from '../spec/schema.js';
import { commandEnv, describeExit, fillCommand, runLogged, type VersionContext } from './command.js';
import { folderName, formatTail, listFolder, logTail, removeFile, versionFolder } from './files.js';
import { readJson, writeJsonAtomically } from '../system/files.js';
import { KeyedMutex } from './lock.js';
import { probeHttp, probeTcp, sleep, type ProbeResult } from './probe.js';
import type { DeployRequest, InstanceStatus, Target, TargetOptions, VersionInstances } from './target.js';

/** Knobs the spec does not (yet) expose; tests shorten them. */
export interface ExternalTuning {
  /** how long the URLs may take to accept connections after the deploy command (default 60 s) */
  readyTimeoutMs?: number;
  /** time between two connection attempts (default 500 ms) */
  readyIntervalMs?: number;
  /** when set, readiness is GET <url><path> answering 2xx/3xx instead of a TCP connection */
  readinessPath?: string;
  /** longest run of a deploy or undeploy command before it is stopped (default 30 min) */
  commandTimeoutMs?: number;
}

export interface ExternalTargetOptions extends TargetOptions {
  tuning?: ExternalTuning;
}

interface ExternalRecord {
  format: 1;
  version: string;
  /** 'deploying' while the deploy command runs or after it failed: teardown still runs undeploy */
  state: 'deploying' | 'deployed';
  urls: string[];
  since: string;
}

const recordName = 'external.json';

export function createExternalTarget(spec: ExternalTargetSpec, options: ExternalTargetOptions): Target {
  return new ExternalTarget(spec, options);
}

class ExternalTarget implements Target {
  private readonly log: Logger;
  private readonly tuning: Required<Omit<ExternalTuning, 'readinessPath'>> & { readinessPath: string | undefined };
  private readonly lock = new KeyedMutex();
  private closed = false;

  constructor(
    private readonly spec: ExternalTargetSpec,
    private readonly options: ExternalTargetOptions,
  ) {
    this.log = (options.log ?? createLogger({ level: 'silent' })).child({ target: 'external', environment: options.environment });
    const tuning = options.tuning ?? {};
    this.tuning = {
      readyTimeoutMs: tuning.readyTimeoutMs ?? 60_000,
      readyIntervalMs: tuning.readyIntervalMs ?? 500,
      readinessPath: tuning.readinessPath,
      commandTimeoutMs: tuning.commandTimeoutMs ?? 30 * 60_000,
    };
  }

  async deploy(request: DeployRequest, signal?: AbortSignal): Promise<VersionInstances> {
    this.assertOpen();
    const version = checkVersion(request.version);
    return this.lock.run(version, async () => {
      const context = this.context(version);
      const urls = this.urlsOf(context);
      const recordPath = this.recordPath(version);
      const record = await this.readRecord(version);
      if (record?.state === 'deployed') {
        const probes = await Promise.all(urls.map((url) => this.probe(url, Math.min(2_000, this.tuning.readyTimeoutMs))));
        if (probes.every((probe) => probe.ok)) return { version, urls };
        this.log.warn({ version }, 'a deployed version does not answer; deploying it again');
      }
      const since = new Date().toISOString();
      if (this.spec.deploy !== undefined) {
        await writeJsonAtomically(recordPath, { format: 1, version, state: 'deploying', urls, since } satisfies ExternalRecord);
        await this.runHook('deploy', this.spec.deploy, context, request, signal);
      }
      try {
        await this.waitReachable(version, urls, signal);
      } catch (error) {
        if (this.spec.deploy !== undefined && this.spec.undeploy !== undefined && !signal?.aborted) {
          // the deploy command ran for this call: take the version away again
          try {
            await this.runHook('undeploy', this.spec.undeploy, context, request, undefined);
            await removeFile(recordPath);
          } catch (undeployError) {
            this.log.error({ version, error: describeCause(undeployError) }, 'undeploying after a failed deploy failed too');
          }
        }
        throw error;
      }
      await writeJsonAtomically(recordPath, { format: 1, version, state: 'deployed', urls, since } satisfies ExternalRecord);
      this.log.info({ version, upstreams: urls }, 'version ready');
      return { version, urls };
    });
  }

  async teardown(version: string): Promise<void> {
    this.assertOpen();
    checkVersion(version);
    await this.lock.run(version, async () => {
      const record = await this.readRecord(version);
      if (record === undefined) return;
      if (this.spec.undeploy !== undefined) {
        await this.runHook('undeploy', this.spec.undeploy, this.context(version), undefined, undefined);
      }
      await removeFile(this.recordPath(version));
      this.log.info({ version }, 'version torn down');
    });
  }

  async instances(version: string): Promise<VersionInstances | undefined> {
    this.assertOpen();
    checkVersion(version);
    const record = await this.readRecord(version);
    return record?.state === 'deployed' ? { version, urls: record.urls } : undefined;
  }

  async status(): Promise<InstanceStatus[]> {
    this.assertOpen();
    const statuses: InstanceStatus[] = [];
    const environmentFolder = join(this.options.stateDir, folderName(this.options.environment));
    for (const name of await listFolder(environmentFolder)) {
      const value = await readJson(join(environmentFolder, name, recordName));
      if (!isRecord(value)) continue;
      const probes = await Promise.all(value.urls.map((url) => this.probe(url, 1_000)));
      value.urls.forEach((url, index) => {
        const state = value.state === 'deploying' ? 'starting' : probes[index]?.ok ? 'ready' : 'unready';
        statuses.push({ version: value.version, index, url, state, restarts: 0, since: value.since });
      });
    }
    return statuses.sort((a, b) => a.version.localeCompare(b.version) || a.index - b.index);
  }

  // eslint-disable-next-line @typescript-eslint/require-await -- part of the Target interface; nothing to wait for
  async close(): Promise<void> {
    this.closed = true;
  }

  // ---- helpers ----------------------------------------------------------------------------------

  private context(version: string): VersionContext {
    return { app: this.options.app, environment: this.options.environment, version };
  }

  private urlsOf(context: VersionContext): string[] {
    const templates = this.spec.urls ?? (this.spec.url === undefined ? [] : [this.spec.url]);
    return templates.map((template) => fillCommand(template, context).replace(/\/+$/, ''));
  }

  private recordPath(version: string): string {
    return join(versionFolder(this.options.stateDir, this.options.environment, version), recordName);
  }

  private async readRecord(version: string): Promise<ExternalRecord | undefined> {
    const value = await readJson(this.recordPath(version));
    if (value === undefined) return undefined;
    if (!isRecord(value)) {
      this.log.warn({ version }, 'damaged external target record; treating the version as being deployed');
      return { format: 1, version, state: 'deploying', urls: [], since: new Date().toISOString() };
    }
    return value;
  }

  /** Runs deploy or undeploy; a non-zero exit fails with the command's last output lines. */
  private async runHook(
    which: 'deploy' | 'undeploy',
    template: string,
    context: VersionContext,
    request: DeployRequest | undefined,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    const command = fillCommand(template, context);
    const folder = versionFolder(this.options.stateDir, this.options.environment, context.version);
    const logPath = join(folder, `${which}.log`);
    const doing = `running the ${which} command of version ${context.version}`;
    this.log.info({ version: context.version, command: redactSecrets(command) }, `running the ${which} command`);
    const started = Date.now();
    let outcome;
    try {
      outcome = await runLogged({
        command,
        cwd: this.options.configDir,
        env: commandEnv(context, { request: request?.env, artifact: request?.artifact }),
        logPath,
        header: `${which} of version ${context.version}: ${command}`,
        doing,
        timeoutMs: this.tuning.commandTimeoutMs,
        ...(signal === undefined ? {} : { signal }),
      });
    } catch (error) {
      if (signal?.aborted) {
        throw new PromoteError(`${which} of version ${context.version} was cancelled; the command was stopped`, { cause: error });
      }
      throw error;
    }
    const tail = await logTail(logPath);
    if (outcome.timedOut || outcome.code !== 0) {
      const what = outcome.timedOut ? `did not finish within ${formatDuration(this.tuning.commandTimeoutMs)} and was stopped` : describeExit(outcome);
      throw new PromoteError(`the ${which} command of version ${context.version} ${what}: ${redactSecrets(command)}\n${formatTail(logPath, tail)}`, {
        hint: `the whole output is in ${logPath}`,
      });
    }
    this.log.info({ version: context.version, ms: Date.now() - started }, `${which} command succeeded`);
    if (tail.length > 0) this.log.debug({ version: context.version, output: tail.join('\n') }, `${which} command output`);
  }

  private probe(url: string, timeoutMs: number, signal?: AbortSignal): Promise<ProbeResult> {
    if (this.tuning.readinessPath !== undefined) return probeHttp(url + this.tuning.readinessPath, timeoutMs, signal);
    const parsed = new URL(url);
    const port = parsed.port === '' ? (parsed.protocol === 'https:' ? 443 : 80) : Number(parsed.port);
    const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1');
    return probeTcp(host, port, timeoutMs, signal);
  }

  private async waitReachable(version: string, urls: string[], signal: AbortSignal | undefined): Promise<void> {
    const timeout = this.tuning.readyTimeoutMs;
    const deadline = Date.now() + timeout;
    const waiting = new Map(urls.map((url) => [url, 'not tried yet']));
    for (;;) {
      if (signal?.aborted) throw new PromoteError(`deploying version ${version} was cancelled while waiting for its URLs`, { cause: signal.reason });
      await Promise.all(
        [...waiting.keys()].map(async (url) => {
          const probe = await this.probe(url, Math.max(1, Math.min(5_000, deadline - Date.now())), signal);
          if (probe.ok) waiting.delete(url);
          else waiting.set(url, probe.detail);
        }),
      );
      if (waiting.size === 0) return;
      const left = deadline - Date.now();
      if (left <= 0) {
        const what = this.tuning.readinessPath === undefined ? 'accept connections' : `answer GET ${this.tuning.readinessPath} with 2xx/3xx`;
        throw new PromoteError(
          `version ${version} is not reachable: ${[...waiting].map(([url, detail]) => `${url} (${detail})`).join(', ')} did not ${what} within ${formatDuration(timeout)}`,
          { hint: 'check the url/urls template of the external target and that the deploy command really starts the version' },
        );
      }
      try {
        await sleep(Math.min(this.tuning.readyIntervalMs, left), signal);
      } catch {
        // the loop's first line reports the cancellation
      }
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new PromoteError('the external target is closed');
  }
}

function checkVersion(version: string): string {
  if (typeof version !== 'string' || version.length === 0) throw new PromoteError('a version must be a non-empty string');
  return version;
}

function isRecord(value: unknown): value is ExternalRecord {
  if (typeof value !== 'object' || value === null) return false;
  const record = value as Partial<ExternalRecord>;
  return record.format === 1 && typeof record.version === 'string' && (record.state === 'deploying' || record.state === 'deployed') && Array.isArray(record.urls);
}
