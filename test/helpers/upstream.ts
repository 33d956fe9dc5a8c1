import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterFile } from './cleanup.js';

export interface UpstreamRecord {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

export interface TestUpstream {
  version: string;
  url: string;
  port: number;
  server: Server;
  /** every request that reached this instance */
  received: UpstreamRecord[];
  /** what /healthz answers: 200 when true, 503 when false */
  ready: boolean;
  close(): Promise<void>;
  /** start again on the same port (an instance restart) */
  restart(): Promise<void>;
}

/**
 * A real HTTP server standing in for one instance of an app version. It answers with what it saw, and
 * has routes for the awkward cases: streaming, slowness, garbage, resets and WebSocket-style upgrades.
 */
export async function startUpstream(version: string, options: { port?: number; closeAfterTest?: boolean } = {}): Promise<TestUpstream> {
  const received: UpstreamRecord[] = [];
  const upgraded = new Set<Socket>();
  const handler = (request: IncomingMessage, response: ServerResponse) => {
    const url = new URL(request.url ?? '/', 'http://upstream');
    if (url.pathname === '/healthz') {
      response.writeHead(upstream.ready ? 200 : 503, { 'content-length': 0 });
      response.end();
      return;
    }
    if (url.pathname === '/stream') {
      // answers as it reads: proves bodies stream both ways without buffering the whole message
      response.writeHead(200, { 'content-type': 'application/octet-stream', 'x-version': version });
      request.on('data', (chunk: Buffer) => response.write(chunk));
      request.on('end', () => response.end());
      return;
    }
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks).toString();
      received.push({ method: request.method ?? '', url: request.url ?? '', headers: request.headers, body });
      if (url.pathname === '/garbage') {
        request.socket.end('HTTP/1.1 2OO NOT A STATUS\r\n\r\n');
        return;
      }
      if (url.pathname === '/reset') {
        request.socket.destroy();
        return;
      }
      const send = () => {
        // the file's tests may be over and the server closed while a delayed answer waited
        if (response.destroyed || server.address() === null) return;
        const status = Number(url.searchParams.get('status') ?? '200');
        const text = JSON.stringify({ version, port: (server.address() as AddressInfo).port, method: request.method, url: request.url, headers: request.headers, body });
        response.writeHead(status, { 'content-type': 'application/json', 'x-version': version, 'set-cookie': 'upstream=1; Path=/' });
        response.end(text);
      };
      const delay = Number(url.searchParams.get('delay') ?? '0');
      if (delay > 0) setTimeout(send, delay);
      else send();
    });
  };
  let server = createServer(handler);
  const wire = (target: Server) => {
    target.on('upgrade', (request: IncomingMessage, socket: Socket) => {
      upgraded.add(socket);
      socket.once('close', () => upgraded.delete(socket));
      received.push({ method: request.method ?? '', url: request.url ?? '', headers: request.headers, body: '' });
      socket.write(`HTTP/1.1 101 Switching Protocols\r\nupgrade: ${request.headers.upgrade}\r\nconnection: upgrade\r\nx-version: ${version}\r\n\r\n`);
      socket.on('data', (chunk: Buffer) => socket.write(Buffer.concat([Buffer.from(`${version}:`), chunk])));
    });
  };
  wire(server);
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const upstream: TestUpstream = {
    version,
    port,
    url: `http://127.0.0.1:${port}`,
    server,
    received,
    ready: true,
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // a graceful stop: requests in progress finish, idle keep-alive connections close, upgraded ones end
      server.closeIdleConnections();
      for (const socket of upgraded) socket.destroy();
      await closed;
    },
    restart: async () => {
      server = createServer(handler);
      wire(server);
      upstream.server = server;
      await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    },
  };
  if (options.closeAfterTest !== false) {
    afterFile(`closing upstream ${version}`, async () => {
      server.closeAllConnections();
      // upgraded connections left the server's books: they hold it open until destroyed
      for (const socket of upgraded) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    });
  }
  return upstream;
}
