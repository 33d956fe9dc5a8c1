/**
 * The notification worker that runs beside each controller: it follows the audit trail, queues what
 * each webhook asked for, and sends due deliveries with retries (exponential backoff with jitter,
 * Retry-After honoured), giving up after the webhook's `retries` and recording why. Any number of
 * controllers may run it at once: queueing is serialised by the cursor's row lock, sending by
 * `skip locked` claims (src/notify/queue.ts).
 */
import type pg from 'pg';
import { describeCause } from '../errors.js';
import type { Logger } from '../log.js';
import type { NotificationsSpec, WebhookSpec } from '../spec/schema-notifications.js';
import { claimDeliveries, queueNotifications, recordAttempt, type Delivery } from './queue.js';
import { requestBody } from './payload.js';
import { attemptDelivery, redactWebhook, retryDelay } from './send.js';

export interface NotifierOptions {
  pool: pg.Pool;
  app: string;
  notifications: NotificationsSpec;
  log?: Logger;
  /** time between looks at the audit trail when there is nothing to do (default 1 s) */
  pollMs?: number;
  /** backoff of the first retry (default 1 s), doubling up to maxDelayMs (default 5 min) */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** jitter source; seeded in tests */
  random?: () => number;
  /** deliveries of one webhook attempted at once (each a different rollout's); default 4 */
  concurrency?: number;
}

/** Beyond an attempt's timeout, how long its claim stays before another controller may try again. */
const LEASE_MARGIN_MS = 30_000;

export class Notifier {
  private readonly pool: pg.Pool;
  private readonly webhooks: readonly WebhookSpec[];
  private readonly stopping = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private started = false;
  private closing = false;
  private readonly random: () => number;

  constructor(private readonly options: NotifierOptions) {
    this.pool = options.pool;
    this.webhooks = options.notifications.webhooks;
    this.random = options.random ?? Math.random;
  }

  get enabled(): boolean {
    return this.webhooks.length > 0;
  }

  start(): void {
    if (!this.enabled || this.started || this.closing) return;
    this.started = true;
    this.schedule(0);
  }

  /**
   * Stops the loop. With `flushMs`, first sends what is queued or due for up to that long, so a
   * `promote deploy --wait` that ends at Healthy still tells its webhooks; attempts under way when
   * time is up are cut short and do not count (the next controller makes them).
   */
  async stop(options: { flushMs?: number } = {}): Promise<void> {
    this.closing = true;
    clearTimeout(this.timer);
    const flushMs = this.started ? (options.flushMs ?? 0) : 0;
    const cut = setTimeout(() => this.stopping.abort(), flushMs);
    if (flushMs === 0) this.stopping.abort();
    try {
      await this.running;
      while (!this.stopping.signal.aborted) {
        const busy = await this.round().catch(() => false);
        if (!busy) break;
      }
    } finally {
      clearTimeout(cut);
      this.stopping.abort();
    }
  }

  /** One round: queue new notifications, then send what is due. True when there may be more to do at once. */
  async round(): Promise<boolean> {
    let busy = false;
    for (const webhook of this.webhooks) {
      if (this.stopping.signal.aborted) return false;
      const { queued, more } = await queueNotifications(this.pool, this.options.app, webhook, { dashboardUrl: this.options.notifications.dashboardUrl });
      const claimed = await claimDeliveries(this.pool, this.options.app, webhook.name, { limit: this.options.concurrency ?? 4, leaseMs: webhook.timeout + LEASE_MARGIN_MS });
      await Promise.all(claimed.map((delivery) => this.attempt(webhook, delivery)));
      busy ||= more || queued > 0 || claimed.length > 0;
    }
    return busy;
  }

  private schedule(delayMs: number): void {
    this.timer = setTimeout(() => {
      this.running = this.round()
        .catch((error: unknown) => {
          // the store away, say: the next round tries again; nothing is lost, the cursor did not move
          this.options.log?.warn({ error: describeCause(error) }, 'notifications: a round failed; retrying');
          return false;
        })
        .then((busy) => {
          if (!this.closing) this.schedule(busy ? 0 : (this.options.pollMs ?? 1000));
        });
    }, delayMs);
  }

  private async attempt(webhook: WebhookSpec, delivery: Delivery): Promise<void> {
    const result = await attemptDelivery(webhook, delivery.id, requestBody(delivery.payload, webhook.format), { signal: this.stopping.signal });
    if (this.stopping.signal.aborted && result.outcome !== 'delivered') {
      await recordAttempt(this.pool, this.options.app, delivery, { status: 'released' });
      return;
    }
    const what = { webhook: webhook.name, kind: delivery.kind, rollout: delivery.rolloutId, id: delivery.id, attempt: delivery.attempts };
    if (result.outcome === 'delivered') {
      await recordAttempt(this.pool, this.options.app, delivery, { status: 'delivered', httpStatus: result.status! });
      this.options.log?.debug({ ...what, status: result.status }, 'notification delivered');
      return;
    }
    const error = result.error ?? 'unknown failure';
    if (result.outcome === 'refused' || delivery.attempts > webhook.retries) {
      const why = result.outcome === 'refused' ? `not retried: ${error}` : `gave up after ${delivery.attempts} attempts: ${error}`;
      await recordAttempt(this.pool, this.options.app, delivery, { status: 'failed', httpStatus: result.status, error: why });
      this.options.log?.warn({ ...what, status: result.status }, redactWebhook(webhook, `notification not delivered, ${why}`));
      return;
    }
    const delayMs = Math.max(retryDelay(delivery.attempts, this.random, { baseMs: this.options.baseDelayMs ?? 1000, maxMs: this.options.maxDelayMs ?? 300_000 }), result.retryAfterMs ?? 0);
    await recordAttempt(this.pool, this.options.app, delivery, { status: 'retry', httpStatus: result.status, error, delayMs });
    this.options.log?.info({ ...what, status: result.status, retryInMs: delayMs }, error);
  }
}
