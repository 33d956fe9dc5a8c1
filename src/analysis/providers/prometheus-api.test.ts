/**
 * The HTTP side of the prometheus provider against a loopback stand-in for the API, for what a real
 * Prometheus does not do on demand: check credentials, hang, answer through a broken proxy, return
 * +Inf or a string. The real Prometheus is in prometheus.test.ts.
 */
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { analysisTemplateSchema } from '../../spec/schema-analysis.js';
import { ProviderError, type MeasureRequest } from '../types.js';
import { createProvider } from './index.js';
import { escapePromQL, fillPromQL } from './prometheus.js';

const seen: Array<{ path: string; params: URLSearchParams; headers: IncomingMessage['headers'] }> = [];
const vector = (value: string) => ({ resultType: 'vector', result: [{ metric: { job: 'app' }, value: [1_700_000_000, value] }] });
const answers: Record<string, unknown> = {
  ok: vector('0.5'),
  nan: vector('NaN'),
  inf: vector('+Inf'),
  scalar: { resultType: 'scalar', result: [1_700_000_000, '3'] },
  text: { resultType: 'string', result: [1_700_000_000, 'hello'] },
  mixed: { resultType: 'matrix', result: [{ metric: {}, values: [[1, '1'], [2, 'NaN'], [3, '3'], [4, '+Inf']] }] },
};
const server = createServer((request, response) => {
  const url = new URL(request.url ?? '/', 'http://prometheus');
  const query = url.searchParams.get('query') ?? '';
  seen.push({ path: url.pathname, params: url.searchParams, headers: request.headers });
  if (query === 'slow') return; // never answers
  if (query === 'proxy') {
    response.writeHead(502, { 'content-type': 'text/html' });
    return response.end('<html><h1>502 Bad Gateway</h1></html>');
  }
  response.writeHead(200, { 'content-type': 'application/json' });
  const warnings = query === 'warned' ? { warnings: ['results truncated due to limit'] } : {};
  response.end(JSON.stringify({ status: 'success', data: answers[query] ?? vector('1'), ...warnings }));
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const port = (server.address() as AddressInfo).port;
const address = `http://127.0.0.1:${port}`;
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

function provider(fields: Record<string, unknown>) {
  return createProvider(analysisTemplateSchema.shape.provider.parse({ type: 'prometheus', address, ...fields }), { configDir: '/' });
}
const request = (signal = new AbortController().signal): MeasureRequest => ({ app: 'shop', environment: 'production', version: 'v2', signal });

describe('prometheus provider over HTTP', () => {
  it('sends a bearer token or basic credentials, and shows neither', async () => {
    const bearer = await provider({ query: 'ok', auth: { bearerToken: 'tok-SECRET' } }).measure(request());
    expect(seen.at(-1)!.headers.authorization).toBe('Bearer tok-SECRET');
    const basic = await provider({ query: 'ok', auth: { basic: { username: 'grafana', password: 'pw-SECRET' } } }).measure(request());
    expect(seen.at(-1)!.headers.authorization).toBe(`Basic ${Buffer.from('grafana:pw-SECRET').toString('base64')}`);
    const failed = await provider({ query: 'proxy', auth: { bearerToken: 'tok-SECRET' } })
      .measure(request())
      .then(() => 'measured', (error: Error) => error.message);
    expect(failed).toBe(`prometheus ${address}: query "proxy": answered 502: <html><h1>502 Bad Gateway</h1></html>`);
    expect(JSON.stringify([bearer.source, basic.source, failed])).not.toMatch(/SECRET|Z3JhZmFuYT/);
  });

  it('sends the credentials of the address as basic authentication and shows the address without the password', async () => {
    const data = await provider({ address: `http://reader:pw-SECRET@127.0.0.1:${port}/`, query: 'ok' }).measure(request());
    expect(seen.at(-1)!.headers.authorization).toBe(`Basic ${Buffer.from('reader:pw-SECRET').toString('base64')}`);
    expect(data.source.address).toBe(`http://reader:***@127.0.0.1:${port}`);
    await expect(provider({ address: `http://reader:pw-SECRET@127.0.0.1:${port}`, query: 'proxy' }).measure(request())).rejects.toThrow(`prometheus http://reader:***@127.0.0.1:${port}: query`);
  });

  it('asks an instant query at now, and a range query from now - range to now by step, with its timeout', async () => {
    const before = Date.now() / 1000;
    await provider({ query: 'ok', timeout: '5s' }).measure(request());
    let params = seen.at(-1)!.params;
    expect(seen.at(-1)!.path).toBe('/api/v1/query');
    expect(Number(params.get('time'))).toBeGreaterThanOrEqual(Math.floor(before));
    expect(params.get('timeout')).toBe('5');

    await provider({ query: 'mixed', range: '5m', step: '30s' }).measure(request());
    params = seen.at(-1)!.params;
    expect(seen.at(-1)!.path).toBe('/api/v1/query_range');
    expect(Number(params.get('end')) - Number(params.get('start'))).toBeCloseTo(300, 6);
    expect(params.get('step')).toBe('30');
  });

  it('reads scalars, drops NaN and infinite points of a range, treats an instant NaN as no data, and keeps warnings', async () => {
    expect((await provider({ query: 'scalar' }).measure(request())).value).toBe(3);
    const range = await provider({ query: 'mixed', range: '1m', step: '15s' }).measure(request());
    expect(range).toMatchObject({ samples: [1, 3], value: 2, support: 2, source: { points: 4, dropped: 2 } });
    const nan = await provider({ query: 'nan' }).measure(request());
    expect(nan.value).toBeUndefined();
    expect(nan.source).toMatchObject({ value: 'NaN', series: ['{job="app"}'] });
    expect((await provider({ query: 'warned' }).measure(request())).source.warnings).toEqual(['results truncated due to limit']);
  });

  it('refuses +Inf and results that are not a number', async () => {
    await expect(provider({ query: 'inf' }).measure(request())).rejects.toThrow(/the query returned \+Inf; expected a finite number/);
    await expect(provider({ query: 'text' }).measure(request())).rejects.toThrow(/returned a string; expected one number/);
    await expect(provider({ query: 'ok', range: '1m' }).measure(request())).rejects.toThrow(/the range query returned a vector; expected a matrix/);
  });

  it('gives up after the timeout, and at once when the measurement is aborted', async () => {
    let started = performance.now();
    const late = provider({ query: 'slow', timeout: '200ms' }).measure(request());
    await expect(late).rejects.toBeInstanceOf(ProviderError);
    await expect(late).rejects.toThrow(`prometheus ${address}: query "slow": no answer within 200ms`);
    expect(performance.now() - started).toBeLessThan(2_000);

    const abort = new AbortController();
    started = performance.now();
    const pending = provider({ query: 'slow', range: '1m' }).measure(request(abort.signal));
    setTimeout(() => abort.abort(), 50);
    await expect(pending).rejects.toThrow(`prometheus ${address}: range query over 60s of "slow": aborted`);
    expect(performance.now() - started).toBeLessThan(1_000);
  });

  it('escapes placeholder values for PromQL strings', () => {
    expect(escapePromQL(`a"b'c\\d\ne`)).toBe(`a\\"b\\'c\\\\d\\ne`);
    expect(fillPromQL('up{app="{{app}}",env="{{environment}}",version="{{version}}",x="{{other}}"}', { app: 'shop', environment: 'prod"', version: 'v2' })).toBe(
      'up{app="shop",env="prod\\"",version="v2",x="{{other}}"}',
    );
  });
});
