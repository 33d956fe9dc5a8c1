import { Pool } from 'undici';
import { PromoteError } from '../errors.js';
import type { VersionTraffic } from './traffic.js';

export interface UpstreamTimeouts {
  /** TCP connect */
  connect: number;
  /** from the request being sent to the response headers, and between body chunks */
  response: number;
}

export interface UpstreamOptions {
  timeouts: UpstreamTimeouts;
  /** consecutive failures (connection refused, no answer in time) that take an instance out of rotation */
  failureThreshold?: number;
  /** first ejection; each further one doubles, up to maxEjection */
  baseEjection?: number;
  maxEjection?: number;
  /** called when the set of versions with a usable instance may have changed */
  onAvailabilityChange: () => void;
  now?: () => number;
}

/** One running instance of a version, with its keep-alive pool and its health as this router sees it. */
export class Instance {
  readonly pool: Pool;
  inFlight = 0;
  consecutiveFailures = 0;
  ejections = 0;
  ejectedUntil = 0;
  /** set by active health checks; an instance is trusted until a check says otherwise */
  ready = true;

  /** a path the instance is mounted under (http://host/api -> /api), prepended to every request path */
  readonly basePath: string;
  readonly origin: string;

  constructor(
    readonly version: string,
    readonly url: string,
    options: UpstreamTimeouts,
  ) {
    const parsed = new URL(url);
    this.origin = parsed.origin;
    this.basePath = parsed.pathname.replace(/\/+$/, '');
    this.pool = new Pool(parsed.origin, {
      pipelining: 1,
      connect: { timeout: options.connect },
      headersTimeout: options.response,
      bodyTimeout: options.response,
      // undici closes idle sockets before a Node upstream (5 s) does, and also honours the upstream's
      // Keep-Alive: timeout hint minus one second: the router never writes to a socket being closed
      keepAliveTimeout: 4_000,
      keepAliveTimeoutThreshold: 1_000,
    });
  }

  usable(now: number): boolean {
    return this.ready && this.ejectedUntil <= now;
  }
}

/**
 * The instances of every version in the routing table. Instances that leave the table stop getting
 * new requests at once but keep their connections until their in-flight requests have finished.
 */
export class Upstreams {
  private readonly byVersion = new Map<string, Instance[]>();
  private readonly cursor = new Map<string, number>();
  private readonly retiring = new Set<Promise<void>>();
  private readonly failureThreshold: number;
  private readonly baseEjection: number;
  private readonly maxEjection: number;
  private readonly now: () => number;
  private readonly timers = new Set<NodeJS.Timeout>();
  /** retries after an answer timeout currently in flight, per version: the retry budget's count */
  private readonly retrying = new Map<string, number>();

  constructor(private readonly options: UpstreamOptions) {
    this.failureThreshold = options.failureThreshold ?? 3;
    this.baseEjection = options.baseEjection ?? 1_000;
    this.maxEjection = options.maxEjection ?? 30_000;
    this.now = options.now ?? Date.now;
  }

  sync(versions: readonly VersionTraffic[]): void {
    const wanted = new Map<string, Set<string>>();
    for (const version of versions) wanted.set(version.name, new Set(version.upstreams.map(normalizeUrl)));
    for (const [version, instances] of this.byVersion) {
      const keep = wanted.get(version);
      const remaining = instances.filter((instance) => keep?.has(instance.url) ?? false);
      for (const instance of instances) if (!remaining.includes(instance)) this.retire(instance);
      if (remaining.length > 0) this.byVersion.set(version, remaining);
      else this.byVersion.delete(version);
    }
    for (const [version, urls] of wanted) {
      const instances = this.byVersion.get(version) ?? [];
      for (const url of urls) {
        if (!instances.some((instance) => instance.url === url)) instances.push(new Instance(version, url, this.options.timeouts));
      }
      this.byVersion.set(version, instances);
    }
  }

  /** Round robin over the usable instances of a version; `skip` excludes ones this request already tried. */
  choose(version: string, skip?: Instance | readonly Instance[]): Instance | undefined {
    const instances = this.byVersion.get(version);
    if (!instances || instances.length === 0) return undefined;
    const now = this.now();
    const start = this.cursor.get(version) ?? 0;
    for (let offset = 0; offset < instances.length; offset++) {
      const index = (start + offset) % instances.length;
      const instance = instances[index]!;
      const skipped = skip === undefined ? false : Array.isArray(skip) ? skip.includes(instance) : skip === instance;
      if (!skipped && instance.usable(now)) {
        this.cursor.set(version, index + 1);
        return instance;
      }
    }
    return undefined;
  }

  available(): Set<string> {
    const now = this.now();
    const result = new Set<string>();
    for (const [version, instances] of this.byVersion) if (instances.some((instance) => instance.usable(now))) result.add(version);
    return result;
  }

  instances(): Instance[] {
    return [...this.byVersion.values()].flat();
  }

  /**
   * A retry after an answer timeout adds load to a version that may be slow as a whole (its database, say),
   * so, like Envoy's retry budget, at most 20 % of the version's requests in flight (and at least 3) may
   * be such retries at once; the others keep waiting for their first instance. True when one is granted:
   * give it back with `retryDone`.
   */
  reserveRetry(version: string): boolean {
    const retrying = this.retrying.get(version) ?? 0;
    let inFlight = 0;
    for (const instance of this.byVersion.get(version) ?? []) inFlight += instance.inFlight;
    if (retrying >= Math.max(MIN_RETRY_CONCURRENCY, Math.floor(inFlight * RETRY_BUDGET_SHARE))) return false;
    this.retrying.set(version, retrying + 1);
    return true;
  }

  retryDone(version: string): void {
    const retrying = (this.retrying.get(version) ?? 1) - 1;
    if (retrying > 0) this.retrying.set(version, retrying);
    else this.retrying.delete(version);
  }

  /** One failure of an instance seen by a real request: it could not connect, or it did not answer in time. */
  failed(instance: Instance): void {
    instance.consecutiveFailures++;
    if (instance.consecutiveFailures < this.failureThreshold || instance.ejectedUntil > this.now()) return;
    const ejection = Math.min(this.maxEjection, this.baseEjection * 2 ** instance.ejections);
    instance.ejections++;
    instance.ejectedUntil = this.now() + ejection;
    this.options.onAvailabilityChange();
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.options.onAvailabilityChange();
    }, ejection + 1);
    timer.unref();
    this.timers.add(timer);
  }

  /** A response (or a passing health check) clears the failure count and ends an ejection early. */
  succeeded(instance: Instance): void {
    if (instance.consecutiveFailures === 0 && instance.ejections === 0) return;
    const wasEjected = instance.ejectedUntil > this.now();
    instance.consecutiveFailures = 0;
    instance.ejections = 0;
    instance.ejectedUntil = 0;
    if (wasEjected) this.options.onAvailabilityChange();
  }

  setReady(instance: Instance, ready: boolean): void {
    if (instance.ready === ready) return;
    instance.ready = ready;
    this.options.onAvailabilityChange();
  }

  private retire(instance: Instance): void {
    // close() lets queued and running requests finish, then ends the idle keep-alive sockets
    const closing = instance.pool.close().catch(() => undefined);
    this.retiring.add(closing);
    void closing.finally(() => this.retiring.delete(closing));
  }

  /** Resolves when every instance taken out of rotation so far has finished its requests and closed its connections. */
  async retired(): Promise<void> {
    await Promise.all([...this.retiring]);
  }

  async close(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    for (const instances of this.byVersion.values()) for (const instance of instances) this.retire(instance);
    this.byVersion.clear();
    await Promise.all([...this.retiring]);
  }
}

/** the retry budget: a share of the version's requests in flight, but never fewer than this many */
const RETRY_BUDGET_SHARE = 0.2;
const MIN_RETRY_CONCURRENCY = 3;

function normalizeUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}${parsed.pathname.replace(/\/+$/, '')}`;
  } catch (error) {
    throw new PromoteError(`upstream "${url}" is not a URL`, { cause: error });
  }
}
