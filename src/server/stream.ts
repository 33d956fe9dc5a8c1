import type { ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import { FLAGS_CHANNEL } from '../flags/store-changes.js';
import { getRollout, getTraffic, listEvents, TRAFFIC_CHANNEL, type PromoteEvent, type Rollout } from '../store/index.js';
import { ROLLOUTS_CHANNEL } from '../store/rollout-engine.js';

/**
 * GET /api/stream: server-sent events for the dashboard. One LISTEN connection per server (not one per
 * browser) on the store's channels, started with the first subscriber, plus a tail of the audit trail by
 * seq: on every notification, and every EVENTS_POLL_MS since not every writer of events notifies.
 * Audit events carry their seq as the SSE id, so a reconnecting browser (Last-Event-ID) gets what it missed.
 */
const PING_MS = 15_000;
const EVENTS_POLL_MS = 2_000;
const RECONNECT_MS = 2_000;
/** the longest a browser waits for the store's LISTEN before its stream opens anyway */
const READY_WAIT_MS = 5_000;
/** a browser that reads this far behind is dropped (it reconnects and catches up from its Last-Event-ID) */
const MAX_BUFFERED_BYTES = 1 << 20;

export interface StreamOptions {
  pool: pg.Pool;
  app: string;
  /** ms between pings; default 15 s (tests shorten it) */
  pingMs?: number;
}

/** The rollout as GET /api/rollouts/:id answers it (its response schema keeps these fields). */
export function rolloutView(rollout: Rollout) {
  const { id, app, environment, releaseId, stableReleaseId, phase, phaseReason, currentStep, weights, createdBy, createdAt, updatedAt } = rollout;
  return { id, app, environment, releaseId, stableReleaseId, phase, phaseReason, currentStep, weights, createdBy, createdAt, updatedAt };
}

/** The audit event as GET /api/rollouts/:id/events answers it. */
export function eventView(event: PromoteEvent) {
  const { seq, type, actor, rolloutId, data, createdAt, hash } = event;
  return { seq, type, actor, rolloutId, data, createdAt, hash };
}

function frame(type: string, data: unknown, id?: number): string {
  return `${id !== undefined ? `id: ${id}\n` : ''}event: ${type}\ndata: ${JSON.stringify(data)}\n\n`;
}

interface Subscriber {
  response: ServerResponse;
  /** the last audit event seq this subscriber has been sent */
  seq: number;
}

class StreamHub {
  private readonly subscribers = new Set<Subscriber>();
  private listener: pg.Client | undefined;
  private connecting: Promise<void> | undefined;
  private closed = false;
  private pollTimer: NodeJS.Timeout | undefined;
  private pingTimer: NodeJS.Timeout | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private tailing: Promise<void> | undefined;
  private tailAgain = false;
  /** the last rollout sent per id: notifications also fire for commands that change nothing shown */
  private readonly lastRollout = new Map<number, string>();
  /** the last traffic revision sent per environment */
  private readonly lastTrafficRevision = new Map<string, number>();

  constructor(private readonly options: StreamOptions) {}

  get size(): number {
    return this.subscribers.size;
  }

  /**
   * Adds a browser. Its starting seq is read before `open` tells the browser the stream is open: an
   * event the browser causes once it sees the stream open is after that seq, so it is sent (read after
   * opening, such an event was taken as already seen and never sent).
   */
  async subscribe(response: ServerResponse, lastEventId: number | undefined, open: () => void): Promise<void> {
    const latest = await this.latestSeq();
    if (this.closed) {
      response.end();
      return;
    }
    open();
    // a browser gone while its start was read: nothing to add
    if (response.destroyed) return;
    const subscriber: Subscriber = { response, seq: lastEventId !== undefined && lastEventId <= latest ? lastEventId : latest };
    this.subscribers.add(subscriber);
    response.on('close', () => this.subscribers.delete(subscriber));
    this.start();
    // a reconnect: what the browser missed, at once
    if (subscriber.seq < latest) this.tail();
  }

  /**
   * Starts listening (if not yet) and waits for the attempt: a browser is told the stream is open only
   * once notifications reach it, so the reads it makes on (re)opening miss no change.
   */
  async ready(): Promise<void> {
    this.start();
    // a store that does not answer must not hold the stream shut: it opens, and the tail catches up
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.connecting, new Promise<void>((resolve) => (timer = setTimeout(resolve, READY_WAIT_MS)))]);
    clearTimeout(timer);
  }

  private start(): void {
    if (this.closed) return;
    this.pingTimer ??= setInterval(() => this.write(': ping\n\n'), this.options.pingMs ?? PING_MS);
    this.pollTimer ??= setInterval(() => this.tail(), EVENTS_POLL_MS);
    if (!this.listener && !this.connecting) this.connecting = this.listen().finally(() => (this.connecting = undefined));
  }

  private async listen(): Promise<void> {
    const client = new pg.Client(this.options.pool.options);
    client.on('error', () => this.lost(client));
    client.on('end', () => this.lost(client));
    client.on('notification', (message) => this.notified(message.channel, message.payload ?? ''));
    try {
      await client.connect();
      for (const channel of [ROLLOUTS_CHANNEL, TRAFFIC_CHANNEL, FLAGS_CHANNEL]) await client.query(`listen ${channel}`);
      if (this.closed) {
        await client.end();
        return;
      }
      this.listener = client;
      // anything that happened while we were not listening reaches the browsers by the tail
      this.tail();
    } catch {
      client.removeAllListeners('end');
      await client.end().catch(() => undefined);
      this.retryLater();
    }
  }

  private lost(client: pg.Client): void {
    if (this.listener !== client) return;
    this.listener = undefined;
    client.removeAllListeners('end');
    void client.end().catch(() => undefined);
    this.retryLater();
  }

  private retryLater(): void {
    if (this.closed || this.reconnectTimer) return;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (this.subscribers.size > 0 && !this.listener && !this.connecting) this.connecting = this.listen().finally(() => (this.connecting = undefined));
    }, RECONNECT_MS);
  }

  /** notifications are handled one after another, so browsers see changes in commit order */
  private handling: Promise<void> = Promise.resolve();

  private notified(channel: string, payload: string): void {
    if (this.subscribers.size === 0) return;
    this.handling = this.handling.then(() => this.handle(channel, payload)).catch(() => undefined);
  }

  private async handle(channel: string, payload: string): Promise<void> {
    const { pool, app } = this.options;
    if (channel === ROLLOUTS_CHANNEL) {
      const rollout = await getRollout(pool, Number(payload));
      if (rollout && rollout.app === app) {
        const view = rolloutView(rollout);
        const text = JSON.stringify(view);
        if (this.lastRollout.get(rollout.id) !== text) {
          this.lastRollout.set(rollout.id, text);
          this.write(frame('rollout', view));
        }
      }
      this.tail();
      return;
    }
    const scope = JSON.parse(payload) as { app?: string; environment?: string; revision?: number };
    if (scope.app !== app || !scope.environment) return;
    if (channel === FLAGS_CHANNEL) {
      this.write(frame('flags', { environment: scope.environment, revision: scope.revision }));
      this.tail();
      return;
    }
    // a burst of changes: the first read already sees the newest revision, so the notifications
    // after it would send it again (and a browser would redraw for nothing)
    const sent = this.lastTrafficRevision.get(scope.environment) ?? -1;
    if (scope.revision === undefined || scope.revision > sent) {
      const traffic = await getTraffic(pool, app, scope.environment);
      const revision = traffic?.revision ?? scope.revision;
      if (revision === undefined || revision > sent) {
        if (revision !== undefined) this.lastTrafficRevision.set(scope.environment, revision);
        const versions = (traffic?.config.versions ?? []) as Array<{ name: string; weight: number }>;
        this.write(frame('traffic', { environment: scope.environment, weights: Object.fromEntries(versions.map((version) => [version.name, version.weight])), revision }));
      }
    }
    this.tail();
  }

  private async latestSeq(): Promise<number> {
    const result = await this.options.pool.query<{ seq: string | null }>('select max(seq) as seq from promote.events');
    return Number(result.rows[0]?.seq ?? 0);
  }

  /** Sends each subscriber the app's audit events after the last one it has; one tail at a time. */
  private tail(): void {
    if (this.subscribers.size === 0) return;
    if (this.tailing) {
      this.tailAgain = true;
      return;
    }
    this.tailing = this.tailOnce()
      .catch(() => undefined)
      .finally(() => {
        this.tailing = undefined;
        if (this.tailAgain) {
          this.tailAgain = false;
          this.tail();
        }
      });
  }

  private async tailOnce(): Promise<void> {
    const from = Math.min(...[...this.subscribers].map((subscriber) => subscriber.seq));
    if (!Number.isFinite(from)) return;
    let events: PromoteEvent[];
    let after = from;
    do {
      events = await listEvents(this.options.pool, { app: this.options.app, afterSeq: after, limit: 500 });
      for (const event of events) {
        const text = frame('event', eventView(event), event.seq);
        for (const subscriber of this.subscribers) {
          if (event.seq > subscriber.seq) {
            this.send(subscriber, text);
            subscriber.seq = event.seq;
          }
        }
        after = event.seq;
      }
    } while (events.length === 500);
  }

  private write(text: string): void {
    for (const subscriber of this.subscribers) this.send(subscriber, text);
  }

  private send(subscriber: Subscriber, text: string): void {
    const response = subscriber.response;
    if (response.destroyed || response.writableEnded) return;
    if (response.writableLength > MAX_BUFFERED_BYTES) {
      response.destroy();
      return;
    }
    response.write(text);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.pingTimer);
    clearInterval(this.pollTimer);
    clearTimeout(this.reconnectTimer);
    for (const subscriber of this.subscribers) subscriber.response.end();
    this.subscribers.clear();
    await this.connecting?.catch(() => undefined);
    await this.handling;
    await this.tailing;
    const listener = this.listener;
    this.listener = undefined;
    if (listener) {
      listener.removeAllListeners('end');
      await listener.end().catch(() => undefined);
    }
  }
}

export function registerStream(app: FastifyInstance, options: StreamOptions): void {
  const hub = new StreamHub(options);
  // before the HTTP server waits for its connections to end: these never end by themselves
  app.addHook('preClose', async () => hub.close());

  app.get(
    '/api/stream',
    {
      schema: {
        summary: 'Server-sent events: rollout (phase/step/weights changes), event (each new audit event, id = its seq), traffic, flags; a ping comment every 15 s',
        querystring: { type: 'object', properties: { lastEventId: { type: 'integer', minimum: 0, description: 'as the Last-Event-ID header: resend the audit events after this seq' } }, additionalProperties: false },
        headers: { type: 'object', properties: { 'last-event-id': { type: 'string', pattern: '^[0-9]{1,15}$' } } },
      },
    },
    async (request, reply) => {
      const header = request.headers['last-event-id'];
      const query = (request.query as { lastEventId?: number }).lastEventId;
      const lastEventId = typeof header === 'string' && header !== '' ? Number(header) : query;
      reply.hijack();
      const response = reply.raw;
      await hub.ready();
      const open = () => {
        response.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache, no-transform', 'x-accel-buffering': 'no', // the socket is this stream's alone: when the server ends the stream, it closes the socket, so closing the server never waits on an idle keep-alive
          connection: 'close' });
        // reconnect after 3 s; the first bytes also tell proxies and the browser the stream is open
        response.write('retry: 3000\n: connected\n\n');
      };
      try {
        await hub.subscribe(response, lastEventId, open);
      } catch (problem) {
        if (!response.headersSent) open();
        response.end(`event: error\ndata: ${JSON.stringify({ error: `opening the event stream: ${(problem as Error).message}` })}\n\n`);
      }
    },
  );
}
