import { scopeFromAuthorization } from '../flags/client-token.js';
import { compileRuleset, evaluateFlag, type CompiledRuleset, type EvaluationErrorCode, type FlagEvaluation } from '../flags/evaluate.js';
import { isMigrationStage, type MigrationStage } from '../flags/migration-stages.js';
import type { FlagContext, VariantResult } from '../flags/model.js';
import type { ServedRuleset } from '../flags/source.js';
import { readCacheFile, writeCacheFile } from './flags-cache-file.js';
import { startTransport, type Transport } from './flags-transport.js';

/**
 * Promote's flags client: evaluates flags locally (no request per evaluation) over the ruleset the
 * server streams, and keeps answering from the last ruleset it had when the server is gone. It never
 * throws into application code: an unknown or broken flag, or no ruleset yet, answers the caller's
 * default, and `evaluate` says why (reason ERROR with an error code).
 */
export interface FlagsClientOptions {
  /** base URL of the Promote server, e.g. http://promote.internal:7070 */
  url: string;
  /** client token `<app>:<environment>.<secret>`: which app's flags in which environment */
  token: string;
  /** the last ruleset is saved here, and read at start when the server cannot be reached */
  cacheFile?: string;
  /** a request (stream connect, poll) gives up after this long; default 5 s */
  fetchTimeoutMs?: number;
  /** polling interval while the stream is down; default 10 s */
  pollIntervalMs?: number;
  /** longest wait between stream reconnects; default 30 s */
  reconnectMaxMs?: number;
  /** told about every failure; never required, never awaited */
  onError?: (error: Error) => void;
}

/** NOT_READY: no ruleset yet; READY: current; STALE: serving the last ruleset while the server is unreachable; ERROR: no ruleset and no server. */
export type FlagsStatus = 'NOT_READY' | 'READY' | 'STALE' | 'ERROR';
export type FlagsErrorCode = EvaluationErrorCode | 'PROVIDER_NOT_READY';
export interface FlagDetails extends Omit<FlagEvaluation, 'errorCode'> {
  errorCode?: FlagsErrorCode;
}

export interface FlagsClient {
  /** resolves once the client has a ruleset ('server' or 'cache') or the first attempt failed ('none'); never rejects */
  ready(): Promise<'server' | 'cache' | 'none'>;
  isEnabled(name: string, context?: FlagContext, defaultValue?: boolean): boolean;
  getVariant(name: string, context?: FlagContext, defaultVariant?: VariantResult): VariantResult;
  evaluate(name: string, context?: FlagContext): FlagDetails;
  /** a migration flag's stage for this context; 'off' when the flag is unknown, off or has no stage */
  migrationStage(name: string, context?: FlagContext): MigrationStage;
  status(): FlagsStatus;
  /** the revision of the ruleset in use */
  revision(): number | undefined;
  /** the ruleset in use (Unleash's client format), e.g. to list the flags */
  ruleset(): ServedRuleset | undefined;
  on(event: 'change', listener: (revision: number) => void): () => void;
  on(event: 'error', listener: (error: Error) => void): () => void;
  on(event: 'status', listener: (status: FlagsStatus) => void): () => void;
  close(): Promise<void>;
}

const DEFAULT_VARIANT: VariantResult = { name: 'disabled', enabled: false, featureEnabled: false };

export function createFlagsClient(options: FlagsClientOptions): FlagsClient {
  const listeners = { change: new Set<(revision: number) => void>(), error: new Set<(error: Error) => void>(), status: new Set<(status: FlagsStatus) => void>() };
  const scope = scopeFromAuthorization(options.token, '');
  const defaults: FlagContext = scope.ok ? { ...(scope.scope.app ? { appName: scope.scope.app } : {}), environment: scope.scope.environment } : {};
  let current: { ruleset: ServedRuleset; compiled: CompiledRuleset } | undefined;
  let state: FlagsStatus = 'NOT_READY';
  let closed = false;
  let settle: (how: 'server' | 'cache' | 'none') => void = () => undefined;
  const readiness = new Promise<'server' | 'cache' | 'none'>((resolve) => (settle = resolve));
  let saving: Promise<void> = Promise.resolve();

  const emit = <E extends keyof typeof listeners>(event: E, value: Parameters<Parameters<(typeof listeners)[E]['add']>[0]>[0]) => {
    for (const listener of [...listeners[event]]) {
      try {
        (listener as (value: unknown) => void)(value);
      } catch {
        // a listener's failure is the listener's; the client goes on
      }
    }
  };
  const setStatus = (next: FlagsStatus) => {
    if (next === state) return;
    state = next;
    emit('status', next);
  };
  const fail = (error: Error) => {
    try {
      options.onError?.(error);
    } catch {
      // as above
    }
    emit('error', error);
  };

  const adopt = (ruleset: ServedRuleset, from: 'server' | 'cache'): boolean => {
    if (!ruleset || typeof ruleset !== 'object' || !Array.isArray(ruleset.features)) {
      fail(new Error(`the ${from === 'server' ? 'server' : 'cache file'} sent something that is not a ruleset (no features list)`));
      return false;
    }
    const revision = Number.isSafeInteger(ruleset.revision) ? ruleset.revision : 0;
    if (current && from === 'server' && revision === current.ruleset.revision && state === 'READY') return true;
    current = { ruleset: { ...ruleset, revision }, compiled: compileRuleset(ruleset) };
    emit('change', revision);
    return true;
  };

  let transport: Transport | undefined;
  const cached = options.cacheFile ? readCacheFile(options.cacheFile) : Promise.resolve(undefined);

  if (!scope.ok) {
    fail(new Error(`the flags client's token: ${scope.message}`));
    setStatus('ERROR');
    settle('none');
  } else {
    transport = startTransport(
      {
        url: options.url,
        token: options.token,
        fetchTimeoutMs: options.fetchTimeoutMs ?? 5000,
        pollIntervalMs: options.pollIntervalMs ?? 10_000,
        idleTimeoutMs: 45_000,
        reconnectMinMs: 200,
        reconnectMaxMs: options.reconnectMaxMs ?? 30_000,
        pollAfterFailures: 2,
      },
      {
        revision: () => current?.ruleset.revision,
        connected: () => {
          if (current) setStatus('READY');
        },
        ruleset: (ruleset) => {
          if (closed || !adopt(ruleset, 'server')) return;
          setStatus('READY');
          settle('server');
          if (options.cacheFile) {
            const file = options.cacheFile;
            saving = saving.then(() => writeCacheFile(file, current!.ruleset)).catch((error: unknown) => fail(new Error(`saving the flags cache file ${file}: ${(error as Error).message}`)));
          }
        },
        failure: (error, via) => {
          if (closed) return;
          fail(error);
          if (current) return setStatus('STALE');
          void cached.then((fromFile) => {
            if (closed || current) return;
            if (fromFile && adopt(fromFile, 'cache')) {
              setStatus('STALE');
              settle('cache');
            } else if (via === 'poll') {
              // the stream failed first; only when the poll that follows fails too is the server unreachable
              setStatus('ERROR');
              settle('none');
            }
          });
        },
      },
    );
  }

  const evaluate = (name: string, context?: FlagContext): FlagDetails => {
    if (!current) return { flag: name, enabled: false, variant: DEFAULT_VARIANT, reason: 'ERROR', errorCode: 'PROVIDER_NOT_READY', errorMessage: `no ruleset yet (${state === 'ERROR' ? 'the server could not be reached and there is no cache file' : 'still connecting'})` };
    try {
      return evaluateFlag(current.compiled, name, context ? { ...defaults, ...context } : defaults);
    } catch (error) {
      return { flag: name, enabled: false, variant: DEFAULT_VARIANT, reason: 'ERROR', errorCode: 'GENERAL', errorMessage: (error as Error).message };
    }
  };

  return {
    ready: () => readiness,
    isEnabled(name, context, defaultValue = false) {
      const details = evaluate(name, context);
      return details.errorCode ? defaultValue : details.enabled;
    },
    getVariant(name, context, defaultVariant = DEFAULT_VARIANT) {
      const details = evaluate(name, context);
      return details.errorCode ? defaultVariant : details.variant;
    },
    evaluate,
    migrationStage(name, context) {
      const details = evaluate(name, context);
      if (details.errorCode || !details.enabled || !details.variant.enabled) return 'off';
      return isMigrationStage(details.variant.name) ? details.variant.name : 'off';
    },
    status: () => state,
    revision: () => current?.ruleset.revision,
    ruleset: () => current?.ruleset,
    on(event: 'change' | 'error' | 'status', listener: (value: never) => void) {
      const set = listeners[event] as Set<unknown>;
      set.add(listener);
      return () => void set.delete(listener);
    },
    async close() {
      closed = true;
      transport?.close();
      settle('none');
      await saving;
    },
  };
}
