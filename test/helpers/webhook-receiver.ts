/**
 * A webhook receiver on loopback for notification tests: it records every request (headers and raw
 * body, as a real receiver must verify them) and answers as the test scripts it, request by request:
 * a status (with headers), a dropped connection, or no answer at all.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterFile } from './cleanup.js';

export type ReceiverAnswer = number | { status: number; headers?: Record<string, string>; body?: string } | 'drop' | 'hang';

export interface ReceivedRequest {
  headers: IncomingHttpHeaders;
  body: string;
  /** webhook-id */
  id: string;
  at: number;
  answer: ReceiverAnswer;
}

export interface WebhookReceiver {
  url: string;
  port: number;
  requests: ReceivedRequest[];
  /** the requests the receiver accepted (answered 2xx), in arrival order; a repeat would show twice */
  accepted(): ReceivedRequest[];
  close(): Promise<void>;
}

/** `answer(request, attemptOfThisId)` decides each answer; attempts count from 1 per message id. */
export async function startWebhookReceiver(answer: (request: { id: string; body: string }, attempt: number) => ReceiverAnswer = () => 200, options: { port?: number } = {}): Promise<WebhookReceiver> {
  const requests: ReceivedRequest[] = [];
  const attempts = new Map<string, number>();
  const hanging = new Set<() => void>();
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const id = String(request.headers['webhook-id'] ?? '');
      const attempt = (attempts.get(id) ?? 0) + 1;
      attempts.set(id, attempt);
      const decided = answer({ id, body }, attempt);
      requests.push({ headers: request.headers, body, id, at: Date.now(), answer: decided });
      if (decided === 'drop') {
        request.socket.destroy();
        return;
      }
      if (decided === 'hang') {
        const end = () => response.destroy();
        hanging.add(end);
        response.on('close', () => hanging.delete(end));
        return;
      }
      const { status, headers = {}, body: text = 'ok' } = typeof decided === 'number' ? { status: decided } : decided;
      response.writeHead(status, { 'content-type': 'text/plain', ...headers }).end(text);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    for (const end of hanging) end();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  afterFile(`closing the webhook receiver on port ${port}`, close);
  return {
    url: `http://127.0.0.1:${port}/hook`,
    port,
    requests,
    accepted: () =>
      requests.filter((each) => {
        const status = typeof each.answer === 'number' ? each.answer : typeof each.answer === 'object' ? each.answer.status : 0;
        return status >= 200 && status < 300;
      }),
    close,
  };
}
