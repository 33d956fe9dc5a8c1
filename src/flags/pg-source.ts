import pg from 'pg';
import type { FlagRulesetSource, FlagScope, ServedRuleset } from './source.js';
import { FLAGS_CHANNEL, currentRevision } from './store-changes.js';
import { clientRuleset } from './store-ruleset.js';

/** The flag source over the Postgres store; `close()` ends its LISTEN connection. */
export interface PostgresFlagSource extends FlagRulesetSource {
  close(): Promise<void>;
}

export interface PostgresFlagSourceOptions {
  /** first wait before reconnecting a dropped LISTEN connection; doubles up to 5 s (default 100 ms) */
  reconnectDelayMs?: number;
  /** told about connection trouble; the source itself never throws from the background */
  onError?: (error: Error) => void;
}

/** application_name of the LISTEN connection, so operators (and tests) can find it in pg_stat_activity. */
export const FLAG_LISTENER_NAME = 'promote-flags-listener';
const MAX_RECONNECT_DELAY_MS = 5_000;

interface Subscription {
  scope: FlagScope;
  listeners: Set<(revision: number) => void>;
  /** the newest revision announced to the listeners (or seen when they subscribed) */
  revision: number;
}

const keyOf = (scope: FlagScope) => `${scope.app}\u0000${scope.environment}`;

/**
 * Reads rulesets from the store and turns its NOTIFYs into change callbacks. One dedicated connection
 * LISTENs for every scope, opened with the first subscription and closed with the last. When it drops,
 * it reconnects with backoff and then compares each scope's revision with the last one announced, so a
 * change committed while it was away is still delivered (once).
 */
export function createPostgresFlagSource(pool: pg.Pool, options: PostgresFlagSourceOptions = {}): PostgresFlagSource {
  const subscriptions = new Map<string, Subscription>();
  const baseDelay = options.reconnectDelayMs ?? 100;
  let client: pg.Client | undefined;
  let connecting: Promise<void> | undefined;
  let reconnectTimer: NodeJS.Timeout | undefined;
  let delay = baseDelay;
  let closed = false;

  const report = (error: unknown) => options.onError?.(error instanceof Error ? error : new Error(String(error)));

  const announce = (subscription: Subscription, revision: number) => {
    if (revision <= subscription.revision) return;
    subscription.revision = revision;
    for (const listener of [...subscription.listeners]) {
      try {
        listener(revision);
      } catch (error) {
        report(error);
      }
    }
  };

  const onNotification = (message: pg.Notification) => {
    if (message.channel !== FLAGS_CHANNEL || !message.payload) return;
    let payload: { app?: unknown; environment?: unknown; revision?: unknown };
    try {
      payload = JSON.parse(message.payload) as typeof payload;
    } catch {
      return;
    }
    if (typeof payload.app !== 'string' || typeof payload.environment !== 'string' || typeof payload.revision !== 'number') return;
    const subscription = subscriptions.get(keyOf({ app: payload.app, environment: payload.environment }));
    if (subscription) announce(subscription, payload.revision);
  };

  const dropped = (lost: pg.Client, error?: Error) => {
    if (client !== lost) return;
    client = undefined;
    lost.removeAllListeners('notification');
    lost.end().catch(() => undefined);
    if (error) report(error);
    scheduleReconnect();
  };

  const scheduleReconnect = () => {
    if (closed || subscriptions.size === 0 || reconnectTimer || client) return;
    reconnectTimer = setTimeout(() => {
      reconnectTimer = undefined;
      connect()
        .then(catchUp)
        .catch((reason: unknown) => {
          report(reason);
          delay = Math.min(delay * 2, MAX_RECONNECT_DELAY_MS);
          scheduleReconnect();
        });
    }, delay);
    reconnectTimer.unref();
  };

  const connect = (): Promise<void> => {
    if (client) return Promise.resolve();
    connecting ??= (async () => {
      const next = new pg.Client({ ...(pool.options as pg.ClientConfig), application_name: FLAG_LISTENER_NAME });
      next.on('error', (error) => dropped(next, error));
      next.on('end', () => dropped(next));
      next.on('notification', onNotification);
      try {
        await next.connect();
        await next.query(`listen ${FLAGS_CHANNEL}`);
      } catch (error) {
        next.removeAllListeners();
        next.on('error', () => undefined);
        await next.end().catch(() => undefined);
        throw error;
      }
      if (closed) {
        await next.end().catch(() => undefined);
        return;
      }
      client = next;
      delay = baseDelay;
    })().finally(() => {
      connecting = undefined;
    });
    return connecting;
  };

  /** After a reconnect: whatever changed while nobody listened is announced now. */
  const catchUp = async () => {
    for (const subscription of subscriptions.values()) {
      announce(subscription, await currentRevision(pool, subscription.scope));
    }
  };

  return {
    ruleset(scope: FlagScope): Promise<ServedRuleset> {
      return clientRuleset(pool, scope);
    },

    async onChange(scope, listener) {
      const key = keyOf(scope);
      let subscription = subscriptions.get(key);
      if (!subscription) {
        subscription = { scope: { app: scope.app, environment: scope.environment }, listeners: new Set(), revision: 0 };
        subscriptions.set(key, subscription);
      }
      subscription.listeners.add(listener);
      try {
        await connect();
        // read after LISTEN: a change committed from here on is either counted in this revision or notified
        const revision = await currentRevision(pool, scope);
        if (subscription.listeners.size === 1) subscription.revision = Math.max(subscription.revision, revision);
      } catch (error) {
        subscription.listeners.delete(listener);
        if (subscription.listeners.size === 0) subscriptions.delete(key);
        throw error;
      }
      return async () => {
        subscription.listeners.delete(listener);
        if (subscription.listeners.size === 0 && subscriptions.get(key) === subscription) subscriptions.delete(key);
        if (subscriptions.size === 0) await stop();
      };
    },

    async close() {
      closed = true;
      subscriptions.clear();
      await stop();
    },
  };

  async function stop(): Promise<void> {
    if (reconnectTimer) clearTimeout(reconnectTimer);
    reconnectTimer = undefined;
    await connecting?.catch(() => undefined);
    const current = client;
    client = undefined;
    if (current) {
      current.removeAllListeners('notification');
      current.removeAllListeners('end');
      await current.end().catch(() => undefined);
    }
  }
}
