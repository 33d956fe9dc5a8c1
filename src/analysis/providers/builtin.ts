/**
 * The router's own measurements, the provider that needs no setup: it reads one version's rolling
 * window from the router admin port (`GET /window?version=&seconds=`, see src/router/admin.ts) and
 * turns it into the one metric a template asks for. No request in the window is "no data" (support 0,
 * no value), never an error: a canary at 1% on a quiet night is not broken.
 */
import type { WindowSummary } from '../../router/metrics.js';
import type { ProviderSpec } from '../../spec/schema.js';
import type { MeasureRequest, MetricData, Provider } from '../types.js';
import { ProviderError } from '../types.js';
import { excerpt, httpGet, parseJsonBody } from './http-get.js';

export type BuiltinProviderSpec = Extract<ProviderSpec, { type: 'builtin' }>;

/** The admin port refuses longer windows; the router keeps 300 s unless configured otherwise. */
const maxWindowSeconds = 3600;
/** reading the window is local and cheap: a router that takes longer is as good as down */
const timeoutMs = 5_000;

/** `routerAdmin` is the environment's `router.admin` (host:port) or a base URL. */
export function createBuiltinProvider(spec: BuiltinProviderSpec, routerAdmin: string): Provider {
  const base = adminBaseUrl(routerAdmin);
  const configured = Math.min(Math.max(Math.ceil(spec.window / 1000), 1), maxWindowSeconds);
  // whole seconds since the analysis started, at least one, at most the configured window
  const lookBack = (since: number | undefined) => (since === undefined ? configured : Math.min(configured, Math.max(1, Math.floor((Date.now() - since) / 1000))));
  return {
    kind: 'builtin',
    async measure(request: MeasureRequest): Promise<MetricData> {
      const seconds = lookBack(request.since);
      const path = `/window?version=${encodeURIComponent(request.version)}&seconds=${seconds}`;
      const doing = `builtin ${spec.metric}: reading the router window of version ${request.version} (${seconds}s) from ${base}`;
      const answer = await httpGet({ url: `${base}${path}`, timeoutMs, signal: request.signal, doing, maxBytes: 256 * 1024 * 1024 });
      if (answer.status !== 200) throw new ProviderError(`${doing}: the router admin answered ${answer.status}: ${excerpt(answer.text)}`);
      const windows = parseJsonBody(answer, doing);
      const summary = Array.isArray(windows) ? (windows[0] as unknown) : undefined;
      if (!isWindowSummary(summary)) throw new ProviderError(`${doing}: unexpected answer (is this a Promote router admin port?): ${excerpt(answer.text)}`);
      return metricData(spec.metric, summary, `${base}${path}`);
    },
  };
}

/** One metric out of a window: values in ms, counts as they are. Exported for the tests' cross-checks. */
export function metricData(metric: BuiltinProviderSpec['metric'], window: WindowSummary, url: string): MetricData {
  const latencyMs = window.latencyMicros === null ? null : Object.fromEntries(Object.entries(window.latencyMicros).map(([name, micros]) => [name, micros / 1000]));
  const source: Record<string, unknown> = {
    url,
    version: window.version,
    metric,
    seconds: window.seconds,
    from: new Date(window.from).toISOString(),
    to: new Date(window.to).toISOString(),
    requests: window.requests,
    byClass: window.byClass,
    errorRate: window.errorRate,
    requestRate: window.requestRate,
    latencyMs,
    samples: window.samples.length,
  };
  const data: MetricData = { support: window.requests, source };
  if (window.requests === 0) return data;
  switch (metric) {
    case 'request_rate':
      return { ...data, value: window.requestRate };
    case 'error_rate':
      // the router's errorRate counts 5xx and "error" (no answer from the upstream) among all requests
      return { ...data, value: window.errorRate, events: window.byClass['5xx'] + window.byClass.error, total: window.requests };
    case 'latency':
      return { ...data, value: latencyMs?.mean, samples: window.samples.map((micros) => micros / 1000) };
    default: {
      const percentile = latencyMs?.[metric.slice('latency_'.length)];
      return percentile === undefined ? data : { ...data, value: percentile };
    }
  }
}

/** host:port (a listen address: 0.0.0.0 and [::] mean this machine) or an http(s) URL. */
export function adminBaseUrl(address: string): string {
  if (/^https?:\/\//.test(address)) return address.replace(/\/+$/, '');
  const match = /^(.*):(\d+)$/.exec(address);
  let host = match?.[1] ?? address;
  if (host === '0.0.0.0' || host === '') host = '127.0.0.1';
  if (host === '[::]' || host === '::') host = '[::1]';
  return `http://${host}${match ? `:${match[2]}` : ''}`;
}

function isWindowSummary(value: unknown): value is WindowSummary {
  if (typeof value !== 'object' || value === null) return false;
  const window = value as Partial<WindowSummary>;
  return (
    typeof window.requests === 'number' &&
    typeof window.errorRate === 'number' &&
    typeof window.requestRate === 'number' &&
    typeof window.byClass === 'object' &&
    window.byClass !== null &&
    Array.isArray(window.samples) &&
    (window.latencyMicros === null || typeof window.latencyMicros === 'object')
  );
}
