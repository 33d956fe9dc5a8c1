import type { ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import type { CachedRuleset } from './ruleset-cache.js';
import { requireClientToken, scopeOf, type FlagServingContext } from './serving.js';

export interface FlagStreamOptions {
  /** a comment line this often keeps proxies from closing an idle stream; default 15 s */
  heartbeatMs?: number;
  /** the reconnect delay suggested to EventSource clients; default 1 s */
  retryMs?: number;
  /** a client this far behind (bytes buffered) is cut off: it reconnects and gets the current ruleset; default 16 MiB */
  maxBufferedBytes?: number;
}

/**
 * Promote's change stream (server-sent events) for its own SDK: the scope's full ruleset on connect
 * and after every change (`event: ruleset`, `id:` the revision, `data:` the ServedRuleset as JSON),
 * and a comment line every heartbeat. A client reconnecting with `Last-Event-ID` equal to the current
 * revision gets `event: unchanged` instead of the whole ruleset again. Full rulesets rather than deltas:
 * a ruleset is small next to the cost of a client that misapplied a delta.
 */
export function registerFlagStream(app: FastifyInstance, context: FlagServingContext, options: FlagStreamOptions = {}): void {
  const heartbeatMs = options.heartbeatMs ?? 15_000;
  const retryMs = options.retryMs ?? 1000;
  const maxBuffered = options.maxBufferedBytes ?? 16 * 1024 * 1024;
  const open = new Set<ServerResponse>();
  requireClientToken(app, context);

  // streams never end on their own: the server's close would wait for them forever
  app.addHook('preClose', (done) => {
    for (const response of open) response.end();
    done();
  });

  app.get(
    '/api/flags/stream',
    {
      schema: {
        summary: "Server-sent events: the scope's ruleset on connect and after every change, heartbeats as comments",
        headers: { type: 'object', properties: { 'last-event-id': { type: 'string', description: 'the revision the client has' } } },
      },
    },
    async (request, reply) => {
      const scope = scopeOf(request);
      // subscribe before the first read, so a change between the two is not lost
      const pending: CachedRuleset[] = [];
      let streaming = false;
      const unsubscribe = context.cache.subscribe(scope, (entry) => (streaming ? send(entry) : pending.push(entry)));
      let first: CachedRuleset;
      try {
        first = await context.cache.get(scope);
      } catch (error) {
        unsubscribe();
        throw error;
      }

      reply.hijack();
      const response = reply.raw;
      response.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache, no-transform', connection: 'keep-alive', 'x-accel-buffering': 'no' });
      open.add(response);
      const heartbeat = setInterval(() => write(': heartbeat\n\n'), heartbeatMs);
      heartbeat.unref();
      let closed = false;
      const close = () => {
        if (closed) return;
        closed = true;
        clearInterval(heartbeat);
        unsubscribe();
        open.delete(response);
      };
      response.on('close', close);
      request.raw.on('close', close);
      const write = (text: string) => {
        if (closed) return;
        if (response.writableLength > maxBuffered) {
          response.destroy();
          return;
        }
        response.write(text);
      };

      let sent = -1;
      function send(entry: CachedRuleset) {
        if (entry.revision <= sent) return;
        sent = entry.revision;
        write(`event: ruleset\nid: ${entry.revision}\ndata: ${entry.json}\n\n`);
      }
      const lastEventId = Number(request.headers['last-event-id']);
      if (Number.isSafeInteger(lastEventId) && lastEventId === first.revision) {
        sent = first.revision;
        write(`retry: ${retryMs}\nevent: unchanged\nid: ${first.revision}\ndata: {"revision":${first.revision}}\n\n`);
      } else {
        write(`retry: ${retryMs}\n`);
        send(first);
      }
      streaming = true;
      for (const entry of pending.splice(0)) send(entry);
    },
  );
}
