import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { Client, type Dispatcher } from 'undici';
import { clientResponseHeaders } from './headers.js';
import type { RouterMetrics } from './metrics.js';
import type { Decision } from './pick.js';
import type { Instance, Upstreams } from './upstreams.js';

export interface ForwardContext {
  upstreams: Upstreams;
  metrics: RouterMetrics;
  /** upstream response timeout, ms */
  responseTimeout: number;
  connectTimeout: number;
  /** add X-Promote-Version to responses */
  revealVersion: boolean;
  /** the stable version, where a weighted request goes when its own version cannot take a connection */
  stable: () => string | undefined;
}

/** The parts of one client request that every attempt at forwarding it reuses. */
export interface Outgoing {
  method: string;
  path: string;
  headers: string[];
  /** the client's body stream, a buffered copy (replayable), or null when there is none */
  body: IncomingMessage | Buffer | null;
  /** may be sent again after the upstream reset a reused connection before answering */
  replayable: boolean;
}

const CONNECT_FAILURES = new Set(['ECONNREFUSED', 'UND_ERR_CONNECT_TIMEOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EADDRNOTAVAIL']);
const RESETS = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED']);
/** how many other instances a request that could not connect may try */
const MAX_CONNECT_ATTEMPTS = 3;

export function errorCode(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? code : 'UNKNOWN';
}

/** Nothing reached the upstream: any request, whatever its method, may try another instance. */
function isConnectFailure(error: unknown): boolean {
  return CONNECT_FAILURES.has(errorCode(error)) || (error as { syscall?: unknown }).syscall === 'connect';
}

/**
 * Sends one request to an instance of the decided version and streams the answer back. A connect
 * failure moves on to another instance of the version; a reset before the first response byte is
 * retried once, on a fresh connection, only when the request is replayable; anything else is a 502
 * (or 504 on timeout) for this request alone.
 */
export function forward(request: IncomingMessage, response: ServerResponse, decision: Decision, outgoing: Outgoing, context: ForwardContext): void {
  const first = context.upstreams.choose(decision.version);
  if (!first) {
    respondWithError(response, 503, 'no-instance', `version ${decision.version} has no available instance`);
    return;
  }
  new Attempt(request, response, decision, outgoing, context, first, 1, false, performance.now()).send();
}

class Attempt implements Dispatcher.DispatchHandler {
  private abort: ((error?: Error) => void) | undefined;
  private resume: (() => void) | undefined;
  private started = false;
  private finished = false;

  constructor(
    private readonly request: IncomingMessage,
    private readonly response: ServerResponse,
    private readonly decision: Decision,
    private readonly outgoing: Outgoing,
    private readonly context: ForwardContext,
    private readonly instance: Instance,
    private readonly attempt: number,
    private readonly retried: boolean,
    /** when the client's request arrived: latency is what the client waited, across attempts */
    private readonly startedAt: number,
  ) {}

  send(dispatcher: Dispatcher = this.instance.pool): void {
    const { instance, outgoing } = this;
    this.context.metrics.requestStarted(instance.version, instance.url);
    instance.inFlight++;
    this.response.once('close', this.onClientClose);
    dispatcher.dispatch(
      {
        path: instance.basePath === '' ? outgoing.path : instance.basePath + outgoing.path,
        method: outgoing.method,
        headers: outgoing.headers,
        body: outgoing.body,
        idempotent: outgoing.replayable,
        headersTimeout: this.context.responseTimeout,
        bodyTimeout: this.context.responseTimeout,
      },
      this,
    );
  }

  private readonly onClientClose = (): void => {
    if (!this.finished && !this.response.writableFinished) this.abort?.(new Error('the client closed the connection'));
  };

  // undici's own handler interface: it hands over the raw headers, which go to writeHead as they are;
  // the newer interface would parse them into an object first, on every response
  onConnect(abort: (error?: Error) => void): void {
    this.abort = abort;
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean {
    if (statusCode < 200) return true;
    this.started = true;
    this.resume = resume;
    this.context.upstreams.succeeded(this.instance);
    if (this.response.headersSent || this.response.destroyed) return true;
    const out = clientResponseHeaders(rawHeaders);
    const { responseHeaders, setCookie } = this.decision;
    if (responseHeaders) for (const name in responseHeaders) out.push(name, responseHeaders[name]!);
    if (setCookie) out.push('set-cookie', setCookie);
    if (this.context.revealVersion) out.push('x-promote-version', this.instance.version);
    this.response.writeHead(statusCode, statusText, out);
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.response.destroyed) return true;
    if (this.response.write(chunk)) return true;
    // the client reads slower than the upstream writes: pause the upstream until the client drains
    this.response.once('drain', this.onDrain);
    return false;
  }

  private readonly onDrain = (): void => {
    this.resume?.();
  };

  onComplete(): void {
    this.settle(this.response.statusCode);
    this.response.end();
  }

  onError(error: Error): void {
    const { upstreams } = this.context;
    const clientGone = this.response.destroyed || (this.request.destroyed && !this.request.complete);
    if (clientGone) {
      this.settle(499);
      return;
    }
    if (this.started) {
      // the status line is gone already: all that is left is to cut the response short
      this.settle('error');
      this.response.destroy(error);
      return;
    }
    if (isConnectFailure(error)) {
      upstreams.connectFailed(this.instance);
      this.context.metrics.connectError(this.instance.version, this.instance.url);
      const next = this.attempt < MAX_CONNECT_ATTEMPTS ? (upstreams.choose(this.instance.version, this.instance) ?? this.fallbackInstance()) : undefined;
      if (next && !(this.outgoing.body !== null && !Buffer.isBuffer(this.outgoing.body) && this.outgoing.body.readableDidRead)) {
        this.settle('abandoned');
        new Attempt(this.request, this.response, this.decision, this.outgoing, this.context, next, this.attempt + 1, this.retried, this.startedAt).send();
        return;
      }
    } else if (!this.retried && this.outgoing.replayable && RESETS.has(errorCode(error))) {
      this.settle('abandoned');
      this.context.metrics.retry(this.instance.version, this.instance.url);
      const fresh = new Client(this.instance.origin, { pipelining: 1, connect: { timeout: this.context.connectTimeout } });
      const retry = new Attempt(this.request, this.response, this.decision, this.outgoing, this.context, this.instance, this.attempt, true, this.startedAt);
      this.response.once('close', () => void fresh.close().catch(() => undefined));
      retry.send(fresh);
      return;
    }
    this.settle('error');
    const timedOut = errorCode(error) === 'UND_ERR_HEADERS_TIMEOUT';
    respondWithError(this.response, timedOut ? 504 : 502, errorCode(error).toLowerCase(), timedOut ? 'the upstream did not answer in time' : 'the upstream failed to answer');
  }

  /**
   * Nothing was sent, so a request the weights (not a tester or an API route) sent to a version with no
   * instance left may be served by stable instead: the circuit breaker, for the requests already on their way.
   */
  private fallbackInstance(): Instance | undefined {
    const stable = this.context.stable();
    if (stable === undefined || stable === this.instance.version) return undefined;
    if (this.decision.reason !== 'weight' && this.decision.reason !== 'sticky') return undefined;
    return this.context.upstreams.choose(stable);
  }

  /** Records the outcome once; 'abandoned' when another attempt carries the request on. */
  private settle(status: number | 'error' | 'abandoned'): void {
    if (this.finished) return;
    this.finished = true;
    this.instance.inFlight--;
    this.response.off('close', this.onClientClose);
    const { metrics } = this.context;
    if (status === 'abandoned') metrics.attemptAbandoned(this.instance.version, this.instance.url);
    else metrics.requestFinished(this.instance.version, this.instance.url, status, Math.round((performance.now() - this.startedAt) * 1000));
  }
}

export function respondWithError(response: ServerResponse, status: number, code: string, message: string): void {
  if (response.headersSent || response.destroyed) {
    response.destroy();
    return;
  }
  const body = `${message}\n`;
  response.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body), 'x-promote-error': code });
  response.end(body);
}
