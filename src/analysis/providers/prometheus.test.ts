/**
 * Against a real Prometheus (Debian's package; .ci/run installs it) scraping a real router's admin
 * /metrics every second, with traffic through the router to two versions, one of them failing some
 * requests. Prometheus is a child process of this file: killed in afterAll, and on exit, whatever failed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { request as send } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRouter, table } from '../../../test/helpers/router.js';
import { scratchFolder } from '../../../test/helpers/scratch.js';
import { startUpstream } from '../../../test/helpers/upstream.js';
import { RouterAdmin } from '../../router/admin.js';
import { analysisTemplateSchema } from '../../spec/schema-analysis.js';
import { freeListenPort } from '../../system/processes.js';
import { ProviderError, type MeasureRequest } from '../types.js';
import { createProvider } from './index.js';

const prometheusBin = process.env.PROMETHEUS_BIN ?? '/usr/bin/prometheus';
const errorRatio = 'sum(promote_router_requests_total{version="{{version}}",class=~"5xx|error"}) / sum(promote_router_requests_total{version="{{version}}"})';
const requests = 'sum(promote_router_requests_total{version="{{version}}"})';

// servers and the scratch folder at the top level: vitest drops an afterAll registered inside a hook
const folder = await scratchFolder('promote-prometheus-');
const [v1, v2] = [await startUpstream('v1'), await startUpstream('v2')];
const router = await startRouter(table([['v2', 50, [v2.url]], ['v1', 50, [v1.url]]], { canary: 'v2', override: { header: 'X-Promote-Version', cookie: 'promote_version' } }));
const routerUrl = router.url;
const admin = new RouterAdmin(router.router, { host: '127.0.0.1', port: 0 });
const adminPort = (await admin.listen()).port;
afterAll(() => admin.close());

const port = await freeListenPort();
const address = `http://127.0.0.1:${port}`;
const config = join(folder, 'prometheus.yml');
const args = ['--config.file', config, '--storage.tsdb.path', join(folder, 'data'), '--web.listen-address', `127.0.0.1:${port}`, '--log.level', 'warn'];
let child: ChildProcess | undefined;
let exited: Promise<void> = Promise.resolve();
// a failed or interrupted run must not leave Prometheus behind: stopped after the tests, killed if the worker exits first
const killOnExit = () => child?.kill('SIGKILL');
process.once('exit', killOnExit);
afterAll(async () => {
  await stopPrometheus();
  process.off('exit', killOnExit);
});

async function startPrometheus(): Promise<void> {
  const log: string[] = [];
  const started = spawn(prometheusBin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  child = started;
  exited = new Promise((resolve) => started.once('exit', () => resolve()));
  started.stderr.on('data', (chunk: Buffer) => log.push(...chunk.toString().trim().split('\n')));
  const ready = await until(async () => (await get('/-/ready')).status === 200, 15_000, () => started.exitCode !== null);
  if (!ready) throw new Error(`Prometheus did not become ready on ${address}:\n${log.slice(-20).join('\n')}`);
}

async function stopPrometheus(): Promise<void> {
  const running = child;
  if (running === undefined || running.exitCode !== null || running.signalCode !== null) return;
  running.kill('SIGTERM');
  const timer = setTimeout(() => running.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

// a missing Prometheus fails every test with this message (a failing hook would count them as skipped)
const missing = existsSync(prometheusBin)
  ? undefined
  : `no Prometheus at ${prometheusBin}: these tests need a real one. .ci/run installs it (apt-get install -y prometheus); or set PROMETHEUS_BIN`;
const withPrometheus = (name: string, body: () => Promise<void>) =>
  it(name, async () => {
    if (missing !== undefined) throw new Error(missing);
    await body();
  });

beforeAll(async () => {
  if (missing !== undefined) return;
  // v1: 30 answered; v2: 30 answered and 10 failed with 500
  await Promise.all([through('v1', '/', 30), through('v2', '/', 30), through('v2', '/?status=500', 10)]);
  await writeFile(config, `global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: router\n    static_configs:\n      - targets: ['127.0.0.1:${adminPort}']\n`);
  await startPrometheus();
  // the first scrape that saw the traffic
  const scraped = await until(async () => (await instant('sum(promote_router_requests_total{version="v2"})')) === '40', 15_000);
  if (!scraped) throw new Error(`Prometheus did not scrape the router admin at 127.0.0.1:${adminPort} within 15s`);
});

async function through(version: string, path: string, times: number): Promise<void> {
  for (let i = 0; i < times; i++) await (await send(`${routerUrl}${path}`, { headers: { 'x-promote-version': version } })).body.dump();
}

async function get(path: string): Promise<{ status: number; body: string }> {
  const response = await send(`${address}${path}`, { reset: true });
  return { status: response.statusCode, body: await response.body.text() };
}

/** The value of a one-series instant query as Prometheus prints it, straight from the API. */
async function instant(query: string): Promise<string | undefined> {
  const body = JSON.parse((await get(`/api/v1/query?query=${encodeURIComponent(query)}`)).body) as { data?: { result?: Array<{ value: [number, string] }> } };
  return body.data?.result?.[0]?.value[1];
}

async function until(check: () => Promise<boolean>, ms: number, giveUp: () => boolean = () => false): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline && !giveUp()) {
    if (await check().catch(() => false)) return true;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return false;
}

function provider(fields: Record<string, unknown>) {
  return createProvider(analysisTemplateSchema.shape.provider.parse({ type: 'prometheus', address, ...fields }), { configDir: '/' });
}
const measureOf = (version: string): MeasureRequest => ({ app: 'shop', environment: 'production', version, signal: new AbortController().signal });

describe('prometheus provider against a real Prometheus', () => {
  withPrometheus('an instant query gives the value of its one series: the per-version error ratio', async () => {
    const v2 = await provider({ query: errorRatio }).measure(measureOf('v2'));
    expect(v2.value).toBe(0.25);
    expect(v2.source).toMatchObject({ address, endpoint: '/api/v1/query', query: errorRatio.replaceAll('{{version}}', 'v2'), resultType: 'vector', seriesCount: 1, series: ['{}'], value: '0.25' });
    expect((await provider({ query: errorRatio }).measure(measureOf('v1'))).value).toBe(0);
  });

  withPrometheus('no series is no data; placeholders are escaped for PromQL strings', async () => {
    const data = await provider({ query: requests }).measure(measureOf('v"9\\'));
    expect(data).toEqual({ support: 0, source: expect.objectContaining({ seriesCount: 0, query: 'sum(promote_router_requests_total{version="v\\"9\\\\"})' }) as unknown });
  });

  withPrometheus('several series are a ProviderError that lists their labels', async () => {
    await expect(provider({ query: 'promote_router_requests_total{version="{{version}}"}' }).measure(measureOf('v2'))).rejects.toThrow(
      /: the query must return one series, it returned 6 \(differing in class\): \{class="1xx"\}, \{class="2xx"\}, \{class="3xx"\}, …; aggregate them/,
    );
  });

  withPrometheus("bad PromQL is a ProviderError with the query and Prometheus's own message", async () => {
    const query = 'sum(rate(promote_router_requests_total[1m])';
    const raw = JSON.parse((await get(`/api/v1/query?query=${encodeURIComponent(query)}`)).body) as { errorType: string; error: string };
    expect(raw.error).toContain('parse error');
    const failed = await provider({ query }).measure(measureOf('v2')).catch((error: unknown) => error);
    expect(failed).toBeInstanceOf(ProviderError);
    expect((failed as Error).message).toBe(`prometheus ${address}: query ${JSON.stringify(query)} failed: ${raw.errorType}: ${raw.error}`);
  });

  withPrometheus('a range query gives the values of its series as samples, NaN dropped', async () => {
    await through('v2', '/', 20);
    expect(await until(async () => (await instant('sum(promote_router_requests_total{version="v2"})')) === '60', 10_000)).toBe(true);
    const data = await provider({ query: requests, range: '30s', step: '1s' }).measure(measureOf('v2'));
    const samples = data.samples!;
    expect(samples).toContain(40);
    expect(samples.at(-1)).toBe(60);
    expect(samples.every((value, index) => index === 0 || value >= samples[index - 1]!)).toBe(true);
    expect(data.value).toBeCloseTo(samples.reduce((sum, value) => sum + value, 0) / samples.length, 9);
    expect(data.support).toBe(samples.length);
    expect(data.source).toMatchObject({ endpoint: '/api/v1/query_range', step: 1, points: samples.length, dropped: 0, resultType: 'matrix' });

    const nothingToDivide = 'sum(promote_router_requests_total{version="{{version}}",class="1xx"}) / sum(promote_router_requests_total{version="{{version}}",class="1xx"})';
    const empty = await provider({ query: nothingToDivide, range: '10s', step: '1s' }).measure(measureOf('v2'));
    expect(empty).toMatchObject({ samples: [], support: 0 });
    expect(empty.value).toBeUndefined();
    expect(empty.source.dropped).toBeGreaterThan(0);
  });

  withPrometheus('an outage is a ProviderError, and measuring works again once Prometheus is back on the same port and data', async () => {
    await stopPrometheus();
    const during = await provider({ query: errorRatio }).measure(measureOf('v2')).catch((error: unknown) => error);
    expect(during).toBeInstanceOf(ProviderError);
    expect((during as Error).message).toMatch(new RegExp(`^prometheus ${address}: query ".*": connect ECONNREFUSED`));

    await startPrometheus();
    let after: number | undefined;
    await until(async () => (after = (await provider({ query: errorRatio }).measure(measureOf('v2'))).value) !== undefined, 10_000);
    expect(after).toBeCloseTo(10 / 60, 9);
  });
});
