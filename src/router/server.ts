import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { wrapError } from '../errors.js';
import type { Logger } from '../log.js';
import { errorCode, forward, respondWithError, type ForwardContext, type Outgoing } from './forward.js';
import { upstreamRequestHeaders } from './headers.js';
import { ActiveHealth, type ActiveHealthOptions } from './health.js';
import { RouterMetrics } from './metrics.js';
import { compileTraffic, pick, type CompiledTraffic, type Decision } from './pick.js';
import { NodeRequestFacts } from './request-facts.js';
import type { TrafficConfig } from './traffic.js';
import { proxyUpgrade } from './upgrade.js';
import { Upstreams } from './upstreams.js';

export interface RouterTimeouts {
  /** connecting to an upstream instance */
  connect: number;
  /** an upstream's response headers, and each gap between body chunks; also the client's whole request */
  request: number;
  /**
   * how long one attempt at a bodiless GET, HEAD or OPTIONS (or a request with an Idempotency-Key)
   * waits for an instance to start answering before the request goes to another instance of its
   * version; 0 never moves it (default DEFAULT_ANSWER_TIMEOUT)
   */
  answer?: number;
  /**
   * how long an idle client connection is kept open; longer than the idle timeout of the load
   * balancers in front (60 s is common), so a client never sends on a connection we are closing
   */
  idle: number;
}

export interface RouterOptions {
  host: string;
  port: number;
  timeouts: RouterTimeouts;
  health?: ActiveHealthOptions;
  metrics?: RouterMetrics;
  log?: Logger;
  /** answer with X-Promote-Version (default true) */
  revealVersion?: boolean;
  /** a POST with Idempotency-Key and a body up to this size is buffered so it can be replayed (default 1 MiB) */
  replayableBodyLimit?: number;
  /** called when a version loses or regains its last available instance (circuit breaker) */
  onAvailabilityChange?: (change: { version: string; available: boolean }) => void;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
/** the answer timeout when none is given: router.timeouts.answer's default in promote.yaml */
export const DEFAULT_ANSWER_TIMEOUT = 10_000;

/**
 * The data plane: picks a version per request from the routing table, forwards to one of its
 * instances and measures the outcome. A new routing table applies to requests that arrive after it;
 * requests already in flight finish where they started.
 */
export class Router {
  readonly metrics: RouterMetrics;
  private readonly upstreams: Upstreams;
  private readonly health: ActiveHealth | undefined;
  private readonly server: Server;
  private readonly forwardContext: ForwardContext;
  private config: TrafficConfig | undefined;
  private compiled: CompiledTraffic | undefined;
  private available = new Set<string>();
  private known = new Set<string>();
  private readonly sockets = new Set<Socket>();

  constructor(private readonly options: RouterOptions) {
    this.metrics = options.metrics ?? new RouterMetrics();
    this.upstreams = new Upstreams({
      timeouts: { connect: options.timeouts.connect, response: options.timeouts.request },
      onAvailabilityChange: () => this.recompile(),
    });
    this.health = options.health ? new ActiveHealth(this.upstreams, options.health) : undefined;
    this.forwardContext = {
      upstreams: this.upstreams,
      metrics: this.metrics,
      responseTimeout: options.timeouts.request,
      connectTimeout: options.timeouts.connect,
      answerTimeout: options.timeouts.answer ?? DEFAULT_ANSWER_TIMEOUT,
      revealVersion: options.revealVersion ?? true,
      stable: () => this.config?.stable,
    };
    this.server = createServer(
      {
        keepAliveTimeout: options.timeouts.idle,
        requestTimeout: options.timeouts.request,
        // slowloris: a client trickling its headers is cut off after this, checked every second
        headersTimeout: Math.min(20_000, options.timeouts.request),
        connectionsCheckingInterval: 1_000,
      },
      (request, response) => this.handle(request, response),
    );
    this.server.on('upgrade', (request: IncomingMessage, socket: Socket, head: Buffer) => this.handleUpgrade(request, socket, head));
    this.server.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) => rejectMalformed(error, socket));
    this.server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
  }

  /** Applies a routing table; an invalid one is refused and the current one stays in force. */
  apply(config: TrafficConfig): void {
    if (this.config && config.revision < this.config.revision) return;
    const compiled = compileTraffic(config, undefined);
    this.upstreams.sync(config.versions);
    this.config = config;
    this.compiled = compiled;
    this.recompile();
  }

  /** Resolves once instances that left the routing table have drained: safe to stop them now. */
  async retired(): Promise<void> {
    await this.upstreams.retired();
  }

  get revision(): number | undefined {
    return this.config?.revision;
  }

  async listen(): Promise<AddressInfo> {
    try {
      await new Promise<void>((resolve, reject) => {
        this.server.once('error', reject);
        this.server.listen(this.options.port, this.options.host, () => {
          this.server.off('error', reject);
          resolve();
        });
      });
    } catch (error) {
      throw wrapError(`starting the router on ${this.options.host}:${this.options.port}`, error);
    }
    this.health?.start();
    return this.server.address() as AddressInfo;
  }

  /** Stops taking connections, lets in-flight requests finish (up to `graceMs`), then closes upstream pools. */
  async close(graceMs = 30_000): Promise<void> {
    this.health?.stop();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeIdleConnections();
    const deadline = setTimeout(() => {
      for (const socket of this.sockets) socket.destroy();
    }, graceMs);
    deadline.unref();
    await closed;
    clearTimeout(deadline);
    await this.upstreams.close();
  }

  state() {
    return {
      revision: this.config?.revision,
      config: this.config,
      available: [...this.available],
      instances: this.upstreams.instances().map((instance) => ({
        version: instance.version,
        url: instance.url,
        inFlight: instance.inFlight,
        ready: instance.ready,
        ejectedUntil: instance.ejectedUntil > Date.now() ? new Date(instance.ejectedUntil).toISOString() : null,
        consecutiveFailures: instance.consecutiveFailures,
      })),
    };
  }

  private recompile(): void {
    if (!this.config) return;
    const available = this.upstreams.available();
    for (const version of this.config.versions) {
      // a version new to the table is not a change of availability; one that lost or regained its instances is
      if (!this.known.has(version.name)) continue;
      const was = this.available.has(version.name);
      const is = available.has(version.name);
      if (was !== is) this.options.onAvailabilityChange?.({ version: version.name, available: is });
    }
    this.known = new Set(this.config.versions.map((version) => version.name));
    this.available = available;
    this.compiled = compileTraffic(this.config, available);
  }

  private handle(request: IncomingMessage, response: ServerResponse): void {
    const compiled = this.compiled;
    if (!compiled) {
      respondWithError(response, 503, 'no-routing-table', 'the router has no routing table yet');
      return;
    }
    const decision = pick(compiled, new NodeRequestFacts(request), Math.random);
    const method = request.method ?? 'GET';
    const headers = upstreamRequestHeaders(request);
    const length = request.headers['content-length'];
    const hasBody = (length !== undefined && length !== '0') || request.headers['transfer-encoding'] !== undefined;
    const idempotencyKey = request.headers['idempotency-key'] !== undefined;
    if (decision.mirrorTo) this.mirror(decision, method, headers);
    const limit = this.options.replayableBodyLimit ?? 1024 * 1024;
    if (hasBody && idempotencyKey && length !== undefined && Number(length) <= limit) {
      bufferBody(request, limit, (body) => {
        if (body) forward(request, response, decision, { method, path: decision.path, headers, body, replayable: true }, this.forwardContext);
        else respondWithError(response, 400, 'bad-body', 'the request body did not match its Content-Length');
      });
      return;
    }
    const outgoing: Outgoing = { method, path: decision.path, headers, body: hasBody ? request : null, replayable: !hasBody && (SAFE_METHODS.has(method) || idempotencyKey) };
    forward(request, response, decision, outgoing, this.forwardContext);
  }

  /** Shadow traffic: a copy of a bodiless request goes to the mirror version; its answer is measured and dropped. */
  private mirror(decision: Decision, method: string, headers: string[]): void {
    const version = decision.mirrorTo!;
    const instance = this.upstreams.choose(version);
    if (!instance) return;
    instance.pool
      .request({ path: instance.basePath + decision.path, method, headers: [...headers, 'x-promote-mirror', '1'], headersTimeout: this.options.timeouts.request, bodyTimeout: this.options.timeouts.request })
      .then(async (result) => {
        await result.body.dump();
        this.metrics.mirrored(version, result.statusCode);
      })
      .catch(() => this.metrics.mirrored(version, 'error'));
  }

  private handleUpgrade(request: IncomingMessage, socket: Socket, head: Buffer): void {
    const compiled = this.compiled;
    if (!compiled) {
      socket.end('HTTP/1.1 503 Service Unavailable\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
      return;
    }
    const decision = pick(compiled, new NodeRequestFacts(request), Math.random);
    const instance = this.upstreams.choose(decision.version);
    if (!instance) {
      socket.end('HTTP/1.1 503 Service Unavailable\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
      return;
    }
    proxyUpgrade(request, socket, head, instance, decision, this.metrics);
  }
}

function bufferBody(request: IncomingMessage, limit: number, done: (body: Buffer | undefined) => void): void {
  const chunks: Buffer[] = [];
  let size = 0;
  request.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (size <= limit) chunks.push(chunk);
  });
  request.once('end', () => done(size <= limit && request.complete ? Buffer.concat(chunks) : undefined));
  request.once('error', () => done(undefined));
}

/** A request the HTTP parser rejected: answer it and close that connection only. */
function rejectMalformed(error: NodeJS.ErrnoException, socket: Socket): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const code = errorCode(error);
  const status = code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : '400 Bad Request';
  socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
}

