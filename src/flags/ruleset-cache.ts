import { compileRuleset, type CompiledRuleset } from './evaluate.js';
import type { FlagRulesetSource, FlagScope, ServedRuleset } from './source.js';

/** One scope's ruleset as read at one revision, with what the servers derive from it, made once. */
export interface CachedRuleset {
  scope: FlagScope;
  ruleset: ServedRuleset;
  revision: number;
  /** the ruleset as JSON text, sent as is to every client polling the same revision */
  readonly json: string;
  /** compiled for the evaluator (OFREP), made on first use */
  readonly compiled: CompiledRuleset;
}

/**
 * Reads rulesets through the source once per change instead of once per request: Unleash SDKs poll
 * every few seconds from every instance, OFREP evaluates on every call and each stream client wants
 * every change. One source subscription per scope invalidates the entry; `subscribe` tells in-process
 * listeners (the change stream) about each newer revision. A safety re-read every `maxAgeMs` catches
 * a notification lost with a dropped LISTEN connection.
 */
export interface RulesetCache {
  get(scope: FlagScope): Promise<CachedRuleset>;
  /** `listener` gets every revision newer than the last one it was given; returns the unsubscribe function */
  subscribe(scope: FlagScope, listener: (entry: CachedRuleset) => void): () => void;
  /** in-process listeners of a scope, or of all scopes (for leak checks) */
  listenerCount(scope?: FlagScope): number;
  close(): Promise<void>;
}

export interface RulesetCacheOptions {
  /** an entry is re-read after this long even without a notification; default 15 s */
  maxAgeMs?: number;
  /** told about failures nobody awaits (a background re-read, a failed subscription) */
  onError?: (error: Error) => void;
}

interface ScopeState {
  scope: FlagScope;
  entry: CachedRuleset | undefined;
  readAt: number;
  loading: Promise<CachedRuleset> | undefined;
  /** highest revision the source announced */
  announced: number;
  subscription: Promise<(() => Promise<void>) | undefined> | undefined;
  listeners: Set<(entry: CachedRuleset) => void>;
  broadcast: number;
  timer: NodeJS.Timeout | undefined;
}

export function createRulesetCache(source: FlagRulesetSource, options: RulesetCacheOptions = {}): RulesetCache {
  const maxAgeMs = options.maxAgeMs ?? 15_000;
  const report = (error: unknown) => options.onError?.(error instanceof Error ? error : new Error(String(error)));
  const scopes = new Map<string, ScopeState>();
  let closed = false;

  const stateOf = (scope: FlagScope): ScopeState => {
    const key = `${scope.app}\u0000${scope.environment}`;
    let state = scopes.get(key);
    if (!state) {
      state = { scope: { app: scope.app, environment: scope.environment }, entry: undefined, readAt: 0, loading: undefined, announced: 0, subscription: undefined, listeners: new Set(), broadcast: -1, timer: undefined };
      scopes.set(key, state);
    }
    return state;
  };

  const subscribeToSource = (state: ScopeState) => {
    if (state.subscription || closed) return;
    state.subscription = source
      .onChange(state.scope, (revision) => {
        state.announced = Math.max(state.announced, revision);
        if (state.listeners.size > 0) void refresh(state);
      })
      .catch((error: unknown) => {
        // without notifications nothing may be cached: forget the attempt so the next read tries again
        state.subscription = undefined;
        report(error);
        return undefined;
      });
  };

  const load = (state: ScopeState): Promise<CachedRuleset> => {
    if (state.loading) return state.loading;
    const started = Date.now();
    const loading = (async () => {
      const subscribed = await state.subscription;
      const ruleset = await source.ruleset(state.scope);
      const entry = makeEntry(state.scope, ruleset);
      if (subscribed && (!state.entry || entry.revision >= state.entry.revision)) {
        state.entry = entry;
        state.readAt = started;
      }
      return entry;
    })();
    state.loading = loading;
    const clear = () => {
      if (state.loading === loading) state.loading = undefined;
    };
    loading.then(clear, clear);
    return loading;
  };

  const isFresh = (state: ScopeState) => state.entry !== undefined && state.entry.revision >= state.announced && Date.now() - state.readAt < maxAgeMs;

  const get = async (scope: FlagScope): Promise<CachedRuleset> => {
    const state = stateOf(scope);
    subscribeToSource(state);
    if (isFresh(state)) return state.entry!;
    let entry = await load(state);
    // a read that started before the latest announcement may miss it: read once more
    if (entry.revision < state.announced) entry = await load(state);
    return entry;
  };

  const refresh = async (state: ScopeState) => {
    try {
      const entry = await get(state.scope);
      if (entry.revision <= state.broadcast) return;
      state.broadcast = entry.revision;
      for (const listener of [...state.listeners]) {
        try {
          listener(entry);
        } catch (error) {
          report(error);
        }
      }
    } catch (error) {
      report(error);
    }
  };

  return {
    get,
    subscribe(scope, listener) {
      const state = stateOf(scope);
      subscribeToSource(state);
      state.listeners.add(listener);
      if (state.broadcast < 0 && state.entry) state.broadcast = state.entry.revision;
      if (!state.timer && !closed) {
        state.timer = setInterval(() => void refresh(state), maxAgeMs);
        state.timer.unref();
      }
      return () => {
        state.listeners.delete(listener);
        if (state.listeners.size === 0 && state.timer) {
          clearInterval(state.timer);
          state.timer = undefined;
        }
      };
    },
    listenerCount(scope) {
      if (scope) return stateOf(scope).listeners.size;
      let count = 0;
      for (const state of scopes.values()) count += state.listeners.size;
      return count;
    },
    async close() {
      closed = true;
      const unsubscribes: Array<Promise<void>> = [];
      for (const state of scopes.values()) {
        if (state.timer) clearInterval(state.timer);
        state.listeners.clear();
        const subscription = state.subscription;
        state.subscription = undefined;
        if (subscription) unsubscribes.push(subscription.then((unsubscribe) => unsubscribe?.()).catch(report));
      }
      await Promise.all(unsubscribes);
      scopes.clear();
    },
  };
}

function makeEntry(scope: FlagScope, ruleset: ServedRuleset): CachedRuleset {
  let json: string | undefined;
  let compiled: CompiledRuleset | undefined;
  return {
    scope,
    ruleset,
    revision: ruleset.revision,
    get json() {
      return (json ??= JSON.stringify(ruleset));
    },
    get compiled() {
      return (compiled ??= compileRuleset(ruleset));
    },
  };
}
