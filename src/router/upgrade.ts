import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Duplex } from 'node:stream';
import { errorCode } from './forward.js';
import { upstreamRequestHeaders } from './headers.js';
import type { RouterMetrics } from './metrics.js';
import type { Decision } from './pick.js';
import type { Instance } from './upstreams.js';

/**
 * WebSocket (or any Upgrade) pass-through: the upstream's 101 is relayed and the two sockets are
 * joined byte for byte. The connection stays on the version it was opened on, whatever the weights
 * do afterwards; it ends when either side closes.
 */
export function proxyUpgrade(request: IncomingMessage, client: Socket, head: Buffer, instance: Instance, decision: Decision, metrics: RouterMetrics): void {
  const started = performance.now();
  metrics.requestStarted(instance.version, instance.url);
  client.on('error', () => client.destroy());
  instance.pool
    .upgrade({
      path: instance.basePath + decision.path,
      method: request.method ?? 'GET',
      headers: upstreamRequestHeaders(request),
      protocol: String(request.headers.upgrade ?? 'websocket'),
    })
    .then(({ headers, socket: upstream }) => {
      metrics.requestFinished(instance.version, instance.url, 101, Math.round((performance.now() - started) * 1000));
      if (client.destroyed) {
        upstream.destroy();
        return;
      }
      let response = 'HTTP/1.1 101 Switching Protocols\r\n';
      for (const [name, value] of Object.entries(headers)) {
        for (const item of Array.isArray(value) ? value : [value]) if (item !== undefined) response += `${name}: ${item}\r\n`;
      }
      client.write(`${response}\r\n`);
      if (head.length > 0) upstream.write(head);
      join(client, upstream);
    })
    .catch((error: unknown) => {
      metrics.requestFinished(instance.version, instance.url, 'error', Math.round((performance.now() - started) * 1000));
      if (!client.destroyed) client.end(`HTTP/1.1 502 Bad Gateway\r\nconnection: close\r\nx-promote-error: ${errorCode(error).toLowerCase()}\r\ncontent-length: 0\r\n\r\n`);
    });
}

function join(client: Socket, upstream: Duplex): void {
  const closeBoth = () => {
    client.destroy();
    upstream.destroy();
  };
  client.on('error', closeBoth).on('close', closeBoth);
  upstream.on('error', closeBoth).on('close', closeBoth);
  client.pipe(upstream);
  upstream.pipe(client);
}
