import pg from 'pg';
import { describeCause } from '../errors.js';
import type { Logger } from '../log.js';
import { getTraffic, TRAFFIC_CHANNEL } from '../store/traffic.js';
import type { TrafficConfig } from './traffic.js';

export interface TrafficWatcherOptions {
  databaseUrl: string;
  app: string;
  environment: string;
  /** receives every new routing table; throwing refuses it (the router keeps the previous one) */
  onConfig: (config: TrafficConfig) => void;
  log?: Logger;
  /** first reconnection delay; doubles up to maxBackoff */
  backoff?: number;
  maxBackoff?: number;
}

/**
 * Keeps a router's routing table in step with the store: LISTEN for changes, reload on each one, and
 * reload after every reconnection in case a change came while the connection was down. Losing the
 * database never stops the router: it keeps the last table it applied and keeps retrying.
 */
export class TrafficWatcher {
  private client: pg.Client | undefined;
  private stopped = false;
  private revision = 0;
  private retry: NodeJS.Timeout | undefined;
  private delay: number;
  private loading: Promise<void> = Promise.resolve();
  private connected = false;

  constructor(private readonly options: TrafficWatcherOptions) {
    this.delay = options.backoff ?? 250;
  }

  get isConnected(): boolean {
    return this.connected;
  }

  /** Resolves once connected and the current table (if any) is applied; rejects if the first connection fails. */
  async start(): Promise<void> {
    await this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retry) clearTimeout(this.retry);
    await this.client?.end().catch(() => undefined);
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({ connectionString: this.options.databaseUrl, application_name: 'promote-router', connectionTimeoutMillis: 7_000, keepAlive: true });
    client.on('error', (error) => this.lost(client, error));
    client.on('end', () => this.lost(client, new Error('connection ended')));
    client.on('notification', (message) => {
      if (message.channel !== TRAFFIC_CHANNEL || !message.payload) return;
      const change = JSON.parse(message.payload) as { app: string; environment: string; revision: number };
      if (change.app === this.options.app && change.environment === this.options.environment && change.revision > this.revision) this.reload();
    });
    try {
      await client.connect();
    } catch (error) {
      await client.end().catch(() => undefined);
      throw error;
    }
    this.client = client;
    await client.query(`listen ${TRAFFIC_CHANNEL}`);
    this.connected = true;
    this.delay = this.options.backoff ?? 250;
    this.reload();
    await this.loading;
  }

  private reload(): void {
    const client = this.client;
    if (!client) return;
    // serialised, so an older read never lands after a newer one
    this.loading = this.loading.then(async () => {
      try {
        const stored = await getTraffic(client, this.options.app, this.options.environment);
        if (!stored || stored.revision <= this.revision) return;
        const config = { ...(stored.config as unknown as Omit<TrafficConfig, 'revision'>), revision: stored.revision };
        this.options.onConfig(config);
        this.revision = stored.revision;
        this.options.log?.info({ revision: stored.revision }, 'applied routing table');
      } catch (error) {
        this.options.log?.error({ err: describeCause(error) }, 'could not apply the routing table; keeping the previous one');
      }
    });
  }

  private lost(client: pg.Client, error: Error): void {
    if (this.client !== client) return;
    this.client = undefined;
    this.connected = false;
    void client.end().catch(() => undefined);
    if (this.stopped) return;
    this.options.log?.warn({ err: describeCause(error), retryInMs: this.delay }, 'lost the state store; serving with the last routing table');
    this.schedule();
  }

  private schedule(): void {
    this.retry = setTimeout(() => {
      this.retry = undefined;
      this.connect().catch((error: unknown) => {
        this.options.log?.debug({ err: describeCause(error) }, 'reconnecting to the state store failed');
        this.delay = Math.min(this.delay * 2, this.options.maxBackoff ?? 5_000);
        if (!this.stopped) this.schedule();
      });
    }, this.delay);
  }
}
