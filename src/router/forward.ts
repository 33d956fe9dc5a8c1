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
  /** upstream response timeout, ms: the response headers of all attempts together, and each gap between body chunks */
  responseTimeout: number;
  connectTimeout: number;
  /**
   * ms an attempt at a request sent again safely (bodiless GET, HEAD, OPTIONS or with an Idempotency-Key)
   * waits for the response headers before the request goes to another instance of its version; 0: never
   */
  answerTimeout: number;
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
/** how many instances one request may try (after connect failures and answer timeouts) */
const MAX_ATTEMPTS = 3;
/** ms until a request that timed out while the retry budget was spent asks again */
const BUDGET_RECHECK = 100;

export function errorCode(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? code : 'UNKNOWN';
}

/** What every attempt at one client request shares. */
interface Exchange {
  readonly request: IncomingMessage;
  readonly response: ServerResponse;
  readonly decision: Decision;
  readonly outgoing: Outgoing;
  readonly context: ForwardContext;
  /** when the client's request arrived: latency is what the client waited, across attempts */
  readonly startedAt: number;
  /** instances this request was sent to, which a retry on another instance avoids */
  readonly tried: Instance[];
}

/** Nothing reached the upstream: any request, whatever its method, may try another instance. */
function isConnectFailure(error: unknown): boolean {
  return CONNECT_FAILURES.has(errorCode(error)) || (error as { syscall?: unknown }).syscall === 'connect';
}

/**
 * Sends one request to an instance of the decided version and streams the answer back. A connect
 * failure moves on to another instance of the version; a reset before the first response byte is
 * retried once, on a fresh connection, only when the request is replayable; a bodiless replayable
 * request whose instance has not answered within the answer timeout moves on to another instance of
 * the same version (never another version: the weights or stickiness chose it); anything else is a 502
 * (or 504 on timeout) for this request alone.
 */
export function forward(request: IncomingMessage, response: ServerResponse, decision: Decision, outgoing: Outgoing, context: ForwardContext): void {
  const first = context.upstreams.choose(decision.version);
  if (!first) {
    respondWithError(response, 503, 'no-instance', `version ${decision.version} has no available instance`);
    return;
  }
  const exchange: Exchange = { request, response, decision, outgoing, context, startedAt: performance.now(), tried: [first] };
  new Attempt(exchange, first, 1, false, false).send();
}

class Attempt implements Dispatcher.DispatchHandler {
  private abort: ((error?: Error) => void) | undefined;
  private resume: (() => void) | undefined;
  private started = false;
  private finished = false;
  private answerTimer: NodeJS.Timeout | undefined;
  /** this attempt's failure to answer in time was already counted against its instance */
  private timedOut = false;
  /** the retry that carries the request on holds this attempt's share of the retry budget */
  private budgetPassedOn = false;
  private readonly request: IncomingMessage;
  private readonly response: ServerResponse;
  private readonly decision: Decision;
  private readonly outgoing: Outgoing;
  private readonly context: ForwardContext;

  constructor(
    private readonly exchange: Exchange,
    private readonly instance: Instance,
    private readonly attempt: number,
    private readonly retried: boolean,
    /** holds one of the version's retry budget, given back when this attempt ends */
    private readonly budgeted: boolean,
  ) {
    ({ request: this.request, response: this.response, decision: this.decision, outgoing: this.outgoing, context: this.context } = exchange);
  }

  send(dispatcher: Dispatcher = this.instance.pool): void {
    const { instance, outgoing, context } = this;
    context.metrics.requestStarted(instance.version, instance.url);
    instance.inFlight++;
    this.response.once('close', this.onClientClose);
    // the request timeout bounds the wait for an answer across attempts, not per attempt
    const headersTimeout = Math.max(1, Math.round(context.responseTimeout - (performance.now() - this.exchange.startedAt)));
    if (context.answerTimeout > 0 && context.answerTimeout < headersTimeout && outgoing.replayable && outgoing.body === null) {
      this.answerTimer = setTimeout(this.onAnswerTimeout, context.answerTimeout);
    }
    dispatcher.dispatch(
      {
        path: instance.basePath === '' ? outgoing.path : instance.basePath + outgoing.path,
        method: outgoing.method,
        headers: outgoing.headers,
        body: outgoing.body,
        idempotent: outgoing.replayable,
        headersTimeout,
        bodyTimeout: context.responseTimeout,
      },
      this,
    );
  }

  /**
   * The instance has not started answering in time. It counts as a failure of the instance (passive
   * ejection), and the request moves to another instance of its version when there is one and the retry
   * budget allows; otherwise it keeps waiting here, up to the request timeout. A buffered body (a POST
   * with an Idempotency-Key) is not moved: the first attempt may still be running on a slow instance, and
   * an app's idempotency check may not hold against the same key arriving twice at once.
   */
  private readonly onAnswerTimeout = (): void => {
    this.answerTimer = undefined;
    if (this.finished || this.started) return;
    this.countTimeout();
    const { upstreams, metrics } = this.context;
    const version = this.instance.version;
    if (this.attempt >= MAX_ATTEMPTS) return;
    const next = upstreams.choose(version, this.exchange.tried);
    if (!next) return;
    // a retry moving on again keeps the share of the budget it holds, or retries would wait for each other
    const inheriting = this.budgeted;
    if (!inheriting && !upstreams.reserveRetry(version)) {
      // the budget frees up as the retries under way finish (a healthy instance answers them quickly)
      this.answerTimer = setTimeout(this.onAnswerTimeout, Math.min(this.context.answerTimeout, BUDGET_RECHECK));
      return;
    }
    this.budgetPassedOn = inheriting;
    this.settle('abandoned');
    // before onConnect the abort is not known yet: onConnect aborts as soon as it is
    this.abort?.(new Error('another instance carries the request on after an answer timeout'));
    metrics.retry(version, this.instance.url);
    this.exchange.tried.push(next);
    new Attempt(this.exchange, next, this.attempt + 1, this.retried, true).send();
  };

  private countTimeout(): void {
    if (this.timedOut) return;
    this.timedOut = true;
    this.context.upstreams.failed(this.instance);
    this.context.metrics.answerTimeout(this.instance.version, this.instance.url);
  }

  private readonly onClientClose = (): void => {
    if (!this.finished && !this.response.writableFinished) this.abort?.(new Error('the client closed the connection'));
  };

  // undici's own handler interface: it hands over the raw headers, which go to writeHead as they are;
  // the newer interface would parse them into an object first, on every response
  onConnect(abort: (error?: Error) => void): void {
    this.abort = abort;
    if (this.finished) abort(new Error('another instance carries the request on after an answer timeout'));
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean {
    if (statusCode < 200) return true;
    if (this.finished) return false;
    this.started = true;
    this.clearAnswerTimer();
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
    // an attempt abandoned after an answer timeout: the next attempt answers the client
    if (this.finished) return;
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
      upstreams.failed(this.instance);
      this.context.metrics.connectError(this.instance.version, this.instance.url);
      const next = this.attempt < MAX_ATTEMPTS ? (upstreams.choose(this.instance.version, this.exchange.tried) ?? this.fallbackInstance()) : undefined;
      if (next && !(this.outgoing.body !== null && !Buffer.isBuffer(this.outgoing.body) && this.outgoing.body.readableDidRead)) {
        this.settle('abandoned');
        this.exchange.tried.push(next);
        new Attempt(this.exchange, next, this.attempt + 1, this.retried, false).send();
        return;
      }
    } else if (!this.retried && this.outgoing.replayable && RESETS.has(errorCode(error))) {
      this.settle('abandoned');
      this.context.metrics.retry(this.instance.version, this.instance.url);
      const fresh = new Client(this.instance.origin, { pipelining: 1, connect: { timeout: this.context.connectTimeout } });
      const retry = new Attempt(this.exchange, this.instance, this.attempt, true, false);
      this.response.once('close', () => void fresh.close().catch(() => undefined));
      retry.send(fresh);
      return;
    }
    const timedOut = errorCode(error) === 'UND_ERR_HEADERS_TIMEOUT';
    // the whole request timeout without an answer: a failure of the instance, like a refused connection
    if (timedOut) this.countTimeout();
    this.settle('error');
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
    this.clearAnswerTimer();
    if (this.budgeted && !this.budgetPassedOn) this.context.upstreams.retryDone(this.instance.version);
    this.instance.inFlight--;
    this.response.off('close', this.onClientClose);
    const { metrics } = this.context;
    if (status === 'abandoned') metrics.attemptAbandoned(this.instance.version, this.instance.url);
    else metrics.requestFinished(this.instance.version, this.instance.url, status, Math.round((performance.now() - this.exchange.startedAt) * 1000));
  }

  private clearAnswerTimer(): void {
    if (this.answerTimer === undefined) return;
    clearTimeout(this.answerTimer);
    this.answerTimer = undefined;
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
