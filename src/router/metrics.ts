import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { HistogramConfiguration, MetricObjectWithValues, MetricType, MetricValueWithName } from 'prom-client';
import { normalizeMicros } from './histogram.js';
import {
  CLASS_5XX_INDEX,
  ERROR_CLASS_INDEX,
  RollingWindow,
  STATUS_CLASSES,
  statusClassIndex,
  type LatencyStats,
  type SeriesPoint,
  type StatusClass,
} from './window.js';

export type { StatusClass, LatencyStats } from './window.js';
export { STATUS_CLASSES, statusClassIndex } from './window.js';

export interface RouterMetricsOptions {
  /** how many complete seconds window() can look back; default 300 */
  windowSeconds?: number;
  /** reservoir size per version per second; default 1000 */
  samplesPerSecond?: number;
  /** ms clock, injectable for tests; default Date.now */
  now?: () => number;
  /** uniform in [0, 1) for the reservoirs, injectable for tests; default a fast seeded PRNG per version */
  random?: () => number;
}

export interface WindowSummary {
  version: string;
  seconds: number;
  /** ms epoch bounds of the window: [from, to), whole seconds, `to` is the start of the current second */
  from: number;
  to: number;
  requests: number;
  byClass: Record<StatusClass, number>;
  /** (5xx + error) / requests, 0 when no requests */
  errorRate: number;
  /** requests per second over the window */
  requestRate: number;
  /** null when no request finished in the window; percentiles within 0.4 % of exact, max and mean exact */
  latencyMicros: LatencyStats | null;
  /** raw latency samples in µs (a uniform reservoir sample of each second, concatenated), for statistical tests */
  samples: number[];
  /** requests of this version in flight right now (not limited to the window) */
  inFlight: number;
}

/** Upper bounds of the Prometheus duration histogram in seconds: 100 µs to 30 s. */
export const DURATION_BUCKETS_SECONDS: readonly number[] = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
];
/** the same bounds in integer µs, compared on the hot path */
const DURATION_BUCKETS_MICROS = Float64Array.from(DURATION_BUCKETS_SECONDS, (s) => Math.round(s * 1e6));

interface VersionState {
  readonly name: string;
  readonly window: RollingWindow;
  readonly instances: Map<string, InstanceState>;
  inFlight: number;
  /** Prometheus duration histogram since start: one count per bound plus the +Inf overflow (not cumulative) */
  readonly durationBuckets: Float64Array;
  durationSumMicros: number;
  durationCount: number;
  /** shadow traffic outcomes by class; allocated on the first mirrored response */
  mirrored: Float64Array | null;
}

interface InstanceState {
  readonly name: string;
  readonly version: VersionState;
  inFlight: number;
  readonly requests: Float64Array;
  connectErrors: number;
  /** attempts that got no response headers within the answer timeout (or, without one, the request timeout) */
  answerTimeouts: number;
  retries: number;
}

/**
 * Per-version and per-instance measurements of the router, read two ways: a prom-client Registry for
 * Prometheus to scrape, and rolling per-second windows (counts, mergeable latency histograms, raw
 * latency reservoirs) for the analysis engine.
 *
 * Hot path: every method here except window(), versions() and forget() runs per proxied request. They do
 * two Map lookups and update plain numbers and typed arrays: O(1), and no allocation once a (version,
 * instance) pair and the ring slots have been seen. prom-client is not touched per request — its labelled
 * children hash the label set and allocate on every inc()/observe() (measured: 0.4-0.6 µs and steady
 * garbage per call) — instead the registered metrics read these numbers when Prometheus scrapes.
 *
 * Versions are created on first use. Call forget() when a version has left the configuration and its
 * requests have drained; an event arriving for it afterwards creates it again.
 */
export class RouterMetrics {
  readonly registry = new Registry();
  private readonly states = new Map<string, VersionState>();
  /** how many complete seconds window() can look back */
  readonly windowSeconds: number;
  private readonly samplesPerSecond: number;
  private readonly now: () => number;
  private readonly random: (() => number) | undefined;

  constructor(options: RouterMetricsOptions = {}) {
    this.windowSeconds = options.windowSeconds ?? 300;
    this.samplesPerSecond = options.samplesPerSecond ?? 1000;
    this.now = options.now ?? Date.now;
    this.random = options.random;
    // validates the options once, before any traffic
    this.newWindow();
    this.registerPrometheusMetrics();
  }

  requestStarted(version: string, instance: string): void {
    const state = this.instance(version, instance);
    state.inFlight += 1;
    state.version.inFlight += 1;
  }

  /** `status` is the upstream's HTTP status, or 'error' when the router answered 502/504 itself. */
  requestFinished(version: string, instance: string, status: number | 'error', latencyMicros: number): void {
    const state = this.instance(version, instance);
    const owner = state.version;
    if (state.inFlight > 0) {
      state.inFlight -= 1;
      owner.inFlight -= 1;
    }
    const classIndex = statusClassIndex(status);
    state.requests[classIndex]! += 1;
    owner.window.record(classIndex, latencyMicros);
    const micros = normalizeMicros(latencyMicros);
    const bounds = DURATION_BUCKETS_MICROS;
    let bucket = 0;
    while (bucket < bounds.length && micros > bounds[bucket]!) bucket++;
    owner.durationBuckets[bucket]! += 1;
    owner.durationSumMicros += micros;
    owner.durationCount += 1;
  }

  /**
   * An attempt ended without an outcome because another attempt (a retry, another instance) carries the
   * request on: in-flight -1, nothing counted. The request's outcome is recorded once, by requestFinished.
   */
  attemptAbandoned(version: string, instance: string): void {
    const state = this.instance(version, instance);
    if (state.inFlight > 0) {
      state.inFlight -= 1;
      state.version.inFlight -= 1;
    }
  }

  /** One failed attempt to connect to the instance (whether or not a retry then succeeded). */
  connectError(version: string, instance: string): void {
    this.instance(version, instance).connectErrors += 1;
  }

  /** One attempt the instance did not start answering in time (whether or not another instance then answered). */
  answerTimeout(version: string, instance: string): void {
    this.instance(version, instance).answerTimeouts += 1;
  }

  /** One automatic retry of a request against this instance. */
  retry(version: string, instance: string): void {
    this.instance(version, instance).retries += 1;
  }

  /** The outcome of a shadow (mirrored) request; not counted as served traffic. */
  mirrored(version: string, outcome: number | 'error'): void {
    const state = this.version(version);
    if (state.mirrored === null) state.mirrored = new Float64Array(STATUS_CLASSES.length);
    state.mirrored[statusClassIndex(outcome)]! += 1;
  }

  /**
   * The last `seconds` COMPLETE seconds of `version` (the current partial second is excluded).
   * `seconds` must be a whole number >= 1 (RangeError otherwise); more than windowSeconds is cut to
   * windowSeconds, and the summary's `seconds`, `from` and `to` say what was covered. An unknown version
   * gives an empty window.
   */
  window(version: string, seconds: number): WindowSummary {
    if (!Number.isInteger(seconds) || seconds < 1) throw new RangeError(`window seconds must be a whole number >= 1, got ${seconds}`);
    const state = this.states.get(version);
    const aggregate = (state?.window ?? this.newWindow()).aggregate(Math.min(seconds, this.windowSeconds));
    const { requests, byClass } = aggregate;
    const failed = byClass[STATUS_CLASSES[CLASS_5XX_INDEX]!] + byClass[STATUS_CLASSES[ERROR_CLASS_INDEX]!];
    return {
      version,
      seconds: aggregate.seconds,
      from: aggregate.from,
      to: aggregate.to,
      requests,
      byClass,
      errorRate: requests === 0 ? 0 : failed / requests,
      requestRate: requests / aggregate.seconds,
      latencyMicros: aggregate.latencyMicros,
      samples: aggregate.samples,
      inFlight: state?.inFlight ?? 0,
    };
  }

  /** Per-bucket points of `version` over the last `seconds` (cut to windowSeconds), for charts; an unknown version gives zeros. */
  series(version: string, seconds: number, step: number): SeriesPoint[] {
    return (this.states.get(version)?.window ?? this.newWindow()).series(Math.min(seconds, this.windowSeconds), step);
  }

  versions(): string[] {
    return [...this.states.keys()];
  }

  /** Drop everything kept for `version`: its window and its Prometheus series. */
  forget(version: string): void {
    this.states.delete(version);
  }

  private newWindow(): RollingWindow {
    return new RollingWindow({
      seconds: this.windowSeconds,
      samplesPerSecond: this.samplesPerSecond,
      now: this.now,
      random: this.random,
    });
  }

  private version(name: string): VersionState {
    let state = this.states.get(name);
    if (state === undefined) {
      state = {
        name,
        window: this.newWindow(),
        instances: new Map(),
        inFlight: 0,
        durationBuckets: new Float64Array(DURATION_BUCKETS_MICROS.length + 1),
        durationSumMicros: 0,
        durationCount: 0,
        mirrored: null,
      };
      this.states.set(name, state);
    }
    return state;
  }

  private instance(version: string, instance: string): InstanceState {
    const owner = this.version(version);
    let state = owner.instances.get(instance);
    if (state === undefined) {
      state = {
        name: instance,
        version: owner,
        inFlight: 0,
        requests: new Float64Array(STATUS_CLASSES.length),
        connectErrors: 0,
        answerTimeouts: 0,
        retries: 0,
      };
      owner.instances.set(instance, state);
    }
    return state;
  }

  /** Each metric rebuilds its series from the state maps when scraped, so forget() needs no bookkeeping. */
  private registerPrometheusMetrics(): void {
    const registers = [this.registry];
    const states = this.states;
    const eachInstance = (visit: (state: InstanceState) => void): void => {
      for (const version of states.values()) for (const state of version.instances.values()) visit(state);
    };

    const requests: Counter<'version' | 'instance' | 'class'> = new Counter({
      name: 'promote_router_requests_total',
      help: 'Requests the router proxied, by version, upstream instance and status class (error: no response from upstream).',
      labelNames: ['version', 'instance', 'class'],
      registers,
      collect() {
        requests.reset();
        eachInstance((state) => {
          STATUS_CLASSES.forEach((name, index) => {
            requests.inc({ version: state.version.name, instance: state.name, class: name }, state.requests[index] ?? 0);
          });
        });
      },
    });

    new CollectedDurationHistogram(states, {
      name: 'promote_router_request_duration_seconds',
      help: 'Time from receiving a request to finishing its response, by version.',
      labelNames: ['version'],
      buckets: [...DURATION_BUCKETS_SECONDS],
      registers,
    });

    const inFlight: Gauge<'version' | 'instance'> = new Gauge({
      name: 'promote_router_in_flight',
      help: 'Requests currently being proxied, by version and upstream instance.',
      labelNames: ['version', 'instance'],
      registers,
      collect() {
        inFlight.reset();
        eachInstance((state) => inFlight.set({ version: state.version.name, instance: state.name }, state.inFlight));
      },
    });

    const connectErrors: Counter<'version' | 'instance'> = new Counter({
      name: 'promote_router_upstream_connect_errors_total',
      help: 'Failed attempts to connect to an upstream instance.',
      labelNames: ['version', 'instance'],
      registers,
      collect() {
        connectErrors.reset();
        eachInstance((state) => connectErrors.inc({ version: state.version.name, instance: state.name }, state.connectErrors));
      },
    });

    const answerTimeouts: Counter<'version' | 'instance'> = new Counter({
      name: 'promote_router_upstream_answer_timeouts_total',
      help: 'Attempts an upstream instance did not start answering in time (router.timeouts.answer, or request), whether or not another instance then answered.',
      labelNames: ['version', 'instance'],
      registers,
      collect() {
        answerTimeouts.reset();
        eachInstance((state) => answerTimeouts.inc({ version: state.version.name, instance: state.name }, state.answerTimeouts));
      },
    });

    const retries: Counter<'version' | 'instance'> = new Counter({
      name: 'promote_router_retries_total',
      help: 'Automatic retries of a request away from an upstream instance: after a reset (on a fresh connection) or an answer timeout (on another instance).',
      labelNames: ['version', 'instance'],
      registers,
      collect() {
        retries.reset();
        eachInstance((state) => retries.inc({ version: state.version.name, instance: state.name }, state.retries));
      },
    });

    const mirrored: Counter<'version' | 'class'> = new Counter({
      name: 'promote_router_mirrored_requests_total',
      help: 'Shadow copies of requests sent to a mirror version, by outcome class; their responses are discarded.',
      labelNames: ['version', 'class'],
      registers,
      collect() {
        mirrored.reset();
        for (const version of states.values()) {
          const counts = version.mirrored;
          if (counts === null) continue;
          STATUS_CLASSES.forEach((name, index) => mirrored.inc({ version: version.name, class: name }, counts[index] ?? 0));
        }
      },
    });
  }
}

/**
 * A prom-client Histogram whose values come from the per-version bucket counts kept by RouterMetrics
 * instead of from observe(): prom-client has no public way to set bucket counts, so get() is replaced.
 * prom-client's Registry prefers its internal getForPromString() over get() when the method exists (and
 * the base get() calls it), so that one is routed to this get() too; the exposition tests guard this
 * against prom-client changes.
 */
class CollectedDurationHistogram extends Histogram<'version'> {
  private readonly states: ReadonlyMap<string, VersionState>;
  private readonly metricName: string;
  private readonly metricHelp: string;
  private readonly bounds: readonly number[];

  constructor(states: ReadonlyMap<string, VersionState>, config: HistogramConfiguration<'version'>) {
    super(config);
    this.states = states;
    this.metricName = config.name;
    this.metricHelp = config.help;
    this.bounds = config.buckets ?? [];
  }

  override get(): Promise<MetricObjectWithValues<MetricValueWithName<'version'>>> {
    const values: MetricValueWithName<'version'>[] = [];
    const bucketName = `${this.metricName}_bucket`;
    for (const state of this.states.values()) {
      const version = state.name;
      let cumulative = 0;
      this.bounds.forEach((le, index) => {
        cumulative += state.durationBuckets[index]!;
        const labels: Record<string, string | number> = { version, le };
        values.push({ metricName: bucketName, labels, value: cumulative });
      });
      const infinity: Record<string, string | number> = { version, le: '+Inf' };
      values.push({ metricName: bucketName, labels: infinity, value: state.durationCount });
      values.push({ metricName: `${this.metricName}_sum`, labels: { version }, value: state.durationSumMicros / 1e6 });
      values.push({ metricName: `${this.metricName}_count`, labels: { version }, value: state.durationCount });
    }
    return Promise.resolve({
      name: this.metricName,
      help: this.metricHelp,
      // the typings declare a numeric enum, prom-client itself uses the exposition type name
      type: 'histogram' as unknown as MetricType,
      aggregator: 'sum',
      collect: () => undefined,
      values,
    });
  }

  getForPromString(): Promise<MetricObjectWithValues<MetricValueWithName<'version'>>> {
    return this.get();
  }
}
