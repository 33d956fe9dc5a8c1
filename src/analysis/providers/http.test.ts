import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PromoteError } from '../../errors.js';
import { analysisTemplateSchema } from '../../spec/schema-analysis.js';
import { freePort } from '../../system/processes.js';
import { ProviderError, type MeasureRequest } from '../types.js';
import { createProvider } from './index.js';

const seen: IncomingMessage[] = [];
const server = createServer((request, response) => {
  seen.push(request);
  const url = new URL(request.url ?? '/', 'http://stats');
  const json = (status: number, body: unknown) => {
    response.writeHead(status, { 'content-type': 'application/json' });
    response.end(JSON.stringify(body));
  };
  if (url.pathname.startsWith('/stats/')) return json(200, { data: { errorRate: 0.02, version: decodeURIComponent(url.pathname.slice(7)), env: url.searchParams.get('env') } });
  if (url.pathname === '/samples') return json(200, { latencies: [10, 20, '30'] });
  if (url.pathname === '/down') return json(503, { message: 'backend is down, try later' });
  if (url.pathname === '/html') {
    response.writeHead(200, { 'content-type': 'text/html' });
    return response.end('<html><body>login</body></html>');
  }
  if (url.pathname === '/basic') {
    const expected = `Basic ${Buffer.from('reader:s3cret').toString('base64')}`;
    return request.headers.authorization === expected ? json(200, { value: 1 }) : json(401, { error: 'unauthorized' });
  }
  if (url.pathname === '/slow') return; // never answers
  json(404, { error: 'no such page' });
});
let base: string;

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

function provider(fields: Record<string, unknown>) {
  return createProvider(analysisTemplateSchema.shape.provider.parse({ type: 'http', ...fields }), { configDir: '/' });
}
const request = (signal = new AbortController().signal): MeasureRequest => ({ app: 'shop', environment: 'production', version: 'v 2', signal });

describe('http provider', () => {
  it('GETs the URL with placeholders and headers filled, and picks the number', async () => {
    const data = await provider({ url: `${base}/stats/{{version}}?env={{environment}}`, jsonPath: '$.data.errorRate', headers: { Authorization: 'Bearer t0ken', 'X-App': '{{app}}' } }).measure(request());
    expect(data.value).toBe(0.02);
    const last = seen.at(-1)!;
    expect(last.url).toBe('/stats/v%202?env=production');
    expect(last.headers.authorization).toBe('Bearer t0ken');
    expect(last.headers['x-app']).toBe('shop');
    expect(data.source).toEqual({ url: `${base}/stats/v%202?env=production`, status: 200, jsonPath: '$.data.errorRate', headers: ['Authorization', 'X-App'], value: 0.02 });
    expect(JSON.stringify(data.source)).not.toContain('t0ken');
  });

  it('turns an array of numbers into samples with their mean as the value', async () => {
    const data = await provider({ url: `${base}/samples`, jsonPath: 'latencies' }).measure(request());
    expect(data).toMatchObject({ samples: [10, 20, 30], value: 20, support: 3 });
  });

  it('says what it found when the path holds no number', async () => {
    await expect(provider({ url: `${base}/stats/x`, jsonPath: '$.data.version' }).measure(request())).rejects.toThrow(
      `http GET ${base}/stats/x: $.data.version is the string "x"; expected a number`,
    );
    await expect(provider({ url: `${base}/stats/x`, jsonPath: '$.data.error_rate' }).measure(request())).rejects.toThrow(/nothing at \$\.data\.error_rate: \$\.data has no key "error_rate"/);
  });

  it('refuses a status other than 2xx, and a body that is not JSON, with an excerpt', async () => {
    const down = provider({ url: `${base}/down`, jsonPath: '$.value' }).measure(request());
    await expect(down).rejects.toBeInstanceOf(ProviderError);
    await expect(down).rejects.toThrow(`http GET ${base}/down: answered 503: {"message":"backend is down, try later"}`);
    await expect(provider({ url: `${base}/html`, jsonPath: '$.value' }).measure(request())).rejects.toThrow(/answered 200 with a body that is not JSON .*<html><body>login/);
  });

  it('sends user and password of the URL as basic authentication and never shows the password', async () => {
    const data = await provider({ url: `http://reader:s3cret@127.0.0.1:${new URL(base).port}/basic`, jsonPath: '$.value' }).measure(request());
    expect(data.value).toBe(1);
    expect(data.source.url).toBe(`http://reader:***@127.0.0.1:${new URL(base).port}/basic`);
    const failed = await provider({ url: `http://reader:n0tright@127.0.0.1:${new URL(base).port}/basic`, jsonPath: '$.value' })
      .measure(request())
      .then(() => 'measured', (error: Error) => error.message);
    expect(failed).toBe(`http GET http://reader:***@127.0.0.1:${new URL(base).port}/basic: answered 401: {"error":"unauthorized"}`);
  });

  it('gives up after the timeout, and at once when the measurement is aborted', async () => {
    let started = performance.now();
    await expect(provider({ url: `${base}/slow`, jsonPath: '$.value', timeout: '200ms' }).measure(request())).rejects.toThrow(`http GET ${base}/slow: no answer within 200ms`);
    expect(performance.now() - started).toBeLessThan(2_000);

    const abort = new AbortController();
    started = performance.now();
    const pending = provider({ url: `${base}/slow`, jsonPath: '$.value', timeout: '30s' }).measure(request(abort.signal));
    setTimeout(() => abort.abort(), 50);
    await expect(pending).rejects.toThrow(`http GET ${base}/slow: aborted`);
    expect(performance.now() - started).toBeLessThan(1_000);
  });

  it('names the URL when nothing listens there, or when it is no URL once filled in', async () => {
    const url = `http://127.0.0.1:${await freePort()}/stats`;
    await expect(provider({ url, jsonPath: '$.value' }).measure(request())).rejects.toThrow(new RegExp(`^http GET ${url}: .*ECONNREFUSED`));
    // the request's version is "v 2": no host name can hold it
    await expect(provider({ url: 'http://{{version}}.metrics.internal/stats', jsonPath: '$.value' }).measure(request())).rejects.toThrow(/^http GET http:\/\/v%202\.metrics\.internal\/stats: invalid URL/);
  });

  it('refuses a jsonPath that does not parse when promote.yaml loads, and when the provider is created, with the position', () => {
    const message = /invalid JSON path "\$\.data\[x\]": expected \[number\] or \['key'\] at character 7/;
    const loaded = analysisTemplateSchema.shape.provider.safeParse({ type: 'http', url: `${base}/stats/x`, jsonPath: '$.data[x]' });
    expect(loaded.error?.issues.map((issue) => [issue.path.join('.'), issue.message])).toEqual([['jsonPath', expect.stringMatching(message)]]);
    // a spec built without the schema still meets the provider's own check
    const unchecked = { type: 'http' as const, url: `${base}/stats/x`, jsonPath: '$.data[x]', timeout: 1_000 };
    expect(() => createProvider(unchecked, { configDir: '/' })).toThrow(PromoteError);
    expect(() => createProvider(unchecked, { configDir: '/' })).toThrow(message);
  });
});
