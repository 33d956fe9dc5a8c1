import { register as globalRegistry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { RouterMetrics, type RouterMetricsOptions } from './metrics.js';

const A = 'http://127.0.0.1:4101';
const B = 'http://127.0.0.1:4102';

function metricsWithClock(options: Omit<RouterMetricsOptions, 'now'> = {}) {
  const clock = { ms: 1_700_000_000_000 };
  const metrics = new RouterMetrics({ ...options, now: () => clock.ms });
  return { clock, metrics };
}

/** `name{labels} value` lines of the exposition, as a map from series to value */
async function series(metrics: RouterMetrics): Promise<Map<string, number>> {
  const text = await metrics.registry.metrics();
  const map = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    map.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return map;
}

describe('RouterMetrics window', () => {
  it('counts by class, error rate and request rate over complete seconds', () => {
    const { clock, metrics } = metricsWithClock();
    // 10 seconds of traffic on v2: 18 x 200, 1 x 404, 1 x 503 and 0 or 1 x error each second
    for (let s = 0; s < 10; s++) {
      for (let i = 0; i < 18; i++) metrics.requestFinished('v2', A, 200, 1000 + i);
      metrics.requestFinished('v2', B, 404, 500);
      metrics.requestFinished('v2', B, 503, 2000);
      if (s % 2 === 0) metrics.requestFinished('v2', A, 'error', 30_000_000);
      clock.ms += 1000;
    }
    metrics.requestFinished('v1', A, 200, 100);
    clock.ms += 1000;

    const w = metrics.window('v2', 10);
    expect(w.version).toBe('v2');
    expect(w.seconds).toBe(10);
    expect(w.to - w.from).toBe(10_000);
    // the last complete second of v2's traffic is one second before `to` (one idle second of v2 since)
    expect(w.requests).toBe(9 * 20 + 4);
    expect(w.byClass).toEqual({ '1xx': 0, '2xx': 9 * 18, '3xx': 0, '4xx': 9, '5xx': 9, error: 4 });
    expect(w.errorRate).toBeCloseTo((9 + 4) / (9 * 20 + 4), 12);
    expect(w.requestRate).toBeCloseTo((9 * 20 + 4) / 10, 12);
    expect(w.latencyMicros?.max).toBe(30_000_000);
    expect(w.samples).toHaveLength(9 * 20 + 4);

    const v1 = metrics.window('v1', 1);
    expect(v1.requests).toBe(1);
    expect(v1.errorRate).toBe(0);
    expect(v1.latencyMicros).toEqual({ p50: 100, p90: 100, p95: 100, p99: 100, max: 100, mean: 100 });
    expect(metrics.versions().sort()).toEqual(['v1', 'v2']);
  });

  it('gives an empty window for a version without traffic and cuts long windows to what is kept', () => {
    const { metrics } = metricsWithClock({ windowSeconds: 60 });
    const empty = metrics.window('canary', 30);
    expect(empty).toMatchObject({ version: 'canary', seconds: 30, requests: 0, errorRate: 0, requestRate: 0, latencyMicros: null, samples: [], inFlight: 0 });
    expect(metrics.versions()).toEqual([]);
    const cut = metrics.window('canary', 3600);
    expect(cut.seconds).toBe(60);
    expect(cut.to - cut.from).toBe(60_000);
    expect(() => metrics.window('canary', 0)).toThrow(RangeError);
    expect(() => metrics.window('canary', 2.5)).toThrow(RangeError);
  });

  it('tracks requests in flight per version and instance', async () => {
    const { metrics } = metricsWithClock();
    metrics.requestStarted('v1', A);
    metrics.requestStarted('v1', A);
    metrics.requestStarted('v1', A);
    metrics.requestStarted('v1', B);
    metrics.requestStarted('v2', A);
    expect(metrics.window('v1', 1).inFlight).toBe(4);
    metrics.requestFinished('v1', A, 200, 10);
    metrics.attemptAbandoned('v1', B); // handed over to another attempt: not counted as a request
    expect(metrics.window('v1', 1).inFlight).toBe(2);
    expect(metrics.window('v2', 1).inFlight).toBe(1);
    let s = await series(metrics);
    expect(s.get(`promote_router_in_flight{version="v1",instance="${A}"}`)).toBe(2);
    expect(s.get(`promote_router_in_flight{version="v1",instance="${B}"}`)).toBe(0);
    expect(s.get(`promote_router_in_flight{version="v2",instance="${A}"}`)).toBe(1);
    expect(s.get(`promote_router_requests_total{version="v1",instance="${B}",class="2xx"}`)).toBe(0);

    // a finish without a start never drives the gauge below zero
    metrics.requestFinished('v2', B, 200, 10);
    metrics.requestFinished('v2', B, 200, 10);
    s = await series(metrics);
    expect(s.get(`promote_router_in_flight{version="v2",instance="${B}"}`)).toBe(0);
    expect(metrics.window('v2', 1).inFlight).toBe(1);
  });
});

describe('RouterMetrics Prometheus exposition', () => {
  it('exposes every series with its labels and values', async () => {
    const { metrics } = metricsWithClock();
    metrics.requestStarted('v1', A);
    metrics.requestFinished('v1', A, 200, 150); // 0.00015 s: le 0.00025
    metrics.requestStarted('v1', A);
    metrics.requestFinished('v1', A, 200, 100); // exactly on the 0.0001 bound: buckets are <=
    metrics.requestStarted('v1', B);
    metrics.requestFinished('v1', B, 502, 40_000_000); // beyond 30 s: only +Inf
    metrics.requestFinished('v1', B, 'error', 3_000);
    metrics.requestFinished('v1', B, 101, 20_000);
    metrics.connectError('v1', B);
    metrics.connectError('v1', B);
    metrics.retry('v1', A);
    metrics.mirrored('v2', 200);
    metrics.mirrored('v2', 500);
    metrics.mirrored('v2', 'error');

    const text = await metrics.registry.metrics();
    expect(text).toContain('# TYPE promote_router_requests_total counter');
    expect(text).toContain('# TYPE promote_router_request_duration_seconds histogram');
    expect(text).toContain('# HELP promote_router_request_duration_seconds ');
    expect(text).toContain('# TYPE promote_router_in_flight gauge');
    expect(text).toContain('# TYPE promote_router_upstream_connect_errors_total counter');
    expect(text).toContain('# TYPE promote_router_retries_total counter');
    expect(text).toContain('# TYPE promote_router_mirrored_requests_total counter');

    const s = await series(metrics);
    const requests = (version: string, instance: string, cls: string) => s.get(`promote_router_requests_total{version="${version}",instance="${instance}",class="${cls}"}`);
    expect(requests('v1', A, '2xx')).toBe(2);
    expect(requests('v1', A, '5xx')).toBe(0);
    expect(requests('v1', B, '5xx')).toBe(1);
    expect(requests('v1', B, 'error')).toBe(1);
    expect(requests('v1', B, '1xx')).toBe(1);
    expect(requests('v1', B, '2xx')).toBe(0);
    // mirrored traffic is not served traffic
    expect(requests('v2', A, '2xx')).toBeUndefined();
    expect([...s.keys()].filter((k) => k.startsWith('promote_router_requests_total{version="v2"'))).toEqual([]);

    const bucket = (le: string) => s.get(`promote_router_request_duration_seconds_bucket{version="v1",le="${le}"}`);
    expect(bucket('0.0001')).toBe(1);
    expect(bucket('0.00025')).toBe(2);
    expect(bucket('0.0025')).toBe(2);
    expect(bucket('0.005')).toBe(3);
    expect(bucket('0.025')).toBe(4);
    expect(bucket('30')).toBe(4);
    expect(bucket('+Inf')).toBe(5);
    expect(s.get('promote_router_request_duration_seconds_count{version="v1"}')).toBe(5);
    expect(s.get('promote_router_request_duration_seconds_sum{version="v1"}')).toBeCloseTo((150 + 100 + 40_000_000 + 3_000 + 20_000) / 1e6, 9);
    const bounds = [...s.keys()].filter((k) => k.startsWith('promote_router_request_duration_seconds_bucket{version="v1"'));
    expect(bounds).toHaveLength(18); // 17 bounds from 100 µs to 30 s, and +Inf

    expect(s.get(`promote_router_upstream_connect_errors_total{version="v1",instance="${B}"}`)).toBe(2);
    expect(s.get(`promote_router_upstream_connect_errors_total{version="v1",instance="${A}"}`)).toBe(0);
    expect(s.get(`promote_router_retries_total{version="v1",instance="${A}"}`)).toBe(1);
    expect(s.get('promote_router_mirrored_requests_total{version="v2",class="2xx"}')).toBe(1);
    expect(s.get('promote_router_mirrored_requests_total{version="v2",class="5xx"}')).toBe(1);
    expect(s.get('promote_router_mirrored_requests_total{version="v2",class="error"}')).toBe(1);
    expect(s.get('promote_router_mirrored_requests_total{version="v2",class="4xx"}')).toBe(0);
    expect(s.get('promote_router_mirrored_requests_total{version="v1",class="2xx"}')).toBeUndefined();
    expect(s.get(`promote_router_in_flight{version="v1",instance="${A}"}`)).toBe(0);

    // counters keep counting across scrapes
    metrics.requestFinished('v1', A, 200, 150);
    const again = await series(metrics);
    expect(again.get(`promote_router_requests_total{version="v1",instance="${A}",class="2xx"}`)).toBe(3);
    expect(again.get('promote_router_request_duration_seconds_count{version="v1"}')).toBe(6);

    // the JSON form works for the histogram too
    const json = await metrics.registry.getMetricsAsJSON();
    const histogram = json.find((m) => m.name === 'promote_router_request_duration_seconds');
    expect(histogram?.values.some((v) => v.labels.version === 'v1' && (v.labels as Record<string, unknown>).le === '+Inf' && v.value === 6)).toBe(true);
  });

  it('uses its own registry, so several instances coexist and the global registry stays clean', async () => {
    const one = new RouterMetrics();
    const two = new RouterMetrics();
    one.requestFinished('v1', A, 200, 10);
    two.requestFinished('v9', A, 200, 10);
    expect(await one.registry.metrics()).not.toContain('v9');
    expect(await two.registry.metrics()).toContain('version="v9"');
    expect(await globalRegistry.metrics()).not.toContain('promote_router');
  });
});

describe('RouterMetrics.forget', () => {
  it("drops a version's window and its Prometheus series, leaving the others", async () => {
    const { clock, metrics } = metricsWithClock();
    for (const version of ['v1', 'v2']) {
      metrics.requestStarted(version, A);
      metrics.requestFinished(version, A, 200, 1000);
      metrics.connectError(version, A);
      metrics.retry(version, A);
      metrics.mirrored(version, 200);
    }
    clock.ms += 1000;
    expect(metrics.window('v1', 1).requests).toBe(1);

    metrics.forget('v1');
    expect(metrics.versions()).toEqual(['v2']);
    expect(metrics.window('v1', 1).requests).toBe(0);
    expect(metrics.window('v2', 1).requests).toBe(1);
    const text = await metrics.registry.metrics();
    expect(text).not.toContain('version="v1"');
    for (const name of [
      'promote_router_requests_total',
      'promote_router_request_duration_seconds_bucket',
      'promote_router_in_flight',
      'promote_router_upstream_connect_errors_total',
      'promote_router_retries_total',
      'promote_router_mirrored_requests_total',
    ]) {
      expect(text).toContain(`${name}{version="v2"`);
    }
  });
});
