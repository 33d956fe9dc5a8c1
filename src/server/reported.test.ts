import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStorePool } from '../../test/helpers/database.js';
import { parseSpec } from '../spec/index.js';
import { FEEDBACK_METRIC, summarizeReportedMetric, upsertApp } from '../store/index.js';
import { buildServer } from './app.js';

const specText = `version: 1
app: { name: shop }
environments:
  - name: staging
    database: postgres://localhost/shop
    target: { type: process, command: node server.js }
    strategy: canary
  - name: production
    database: postgres://localhost/shop
    target: { type: process, command: node server.js }
    strategy: canary
strategies:
  canary:
    type: canary
    steps:
      - setWeight: 50
      - promote: {}
`;

const where = { app: 'shop', environment: 'production', version: '2.0.0' };

describe('POST /feedback and POST /api/metrics', () => {
  let db: pg.Pool;
  let api: FastifyInstance;
  let base: string;
  beforeAll(async () => {
    ({ pool: db } = await createStorePool());
    const parsed = parseSpec(specText, { file: 'promote.yaml' });
    if (!parsed.ok) throw new Error('spec');
    await upsertApp(db, { name: 'shop' });
    api = await buildServer({ pool: db, spec: parsed.spec });
    base = await api.listen({ host: '127.0.0.1', port: 0 });
  });
  afterAll(async () => api.close());

  const post = async (path: string, body: unknown) => {
    const response = await request(`${base}${path}`, { method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body), headers: { 'content-type': 'application/json' } });
    return { status: response.statusCode, body: (await response.body.json()) as { recorded?: number; error?: string } };
  };
  const summary = (metric: string, version = '2.0.0') => summarizeReportedMetric(db, { ...where, version, metric, windowMs: 3_600_000 });

  it('records a feedback score with its user and comment', async () => {
    expect(await post('/feedback', { ...where, score: 4, user: 'u-17', comment: 'checkout felt faster' })).toEqual({ status: 201, body: { recorded: 1 } });
    expect(await post('/feedback', { ...where, score: 2 })).toEqual({ status: 201, body: { recorded: 1 } });
    expect(await summary(FEEDBACK_METRIC)).toMatchObject({ count: 2, mean: 3, values: [4, 2] });
    const row = await db.query<{ context: unknown }>(`select context from promote.reported_metrics where metric = $1 and value = 4`, [FEEDBACK_METRIC]);
    expect(row.rows[0]!.context).toEqual({ user: 'u-17', comment: 'checkout felt faster' });
  });

  it('records a batch of metrics, with or without their time', async () => {
    const at = new Date(Date.now() - 10 * 60_000).toISOString();
    const sent = await post('/api/metrics', { ...where, metrics: [{ name: 'dual_write.failure', value: 1 }, { name: 'dual_write.failure', value: 2, at }, { name: 'experiment:checkout.mismatch', value: 1 }] });
    expect(sent).toEqual({ status: 201, body: { recorded: 3 } });
    expect(await summary('dual_write.failure')).toMatchObject({ count: 2, sum: 3, values: [2, 1] });
    const full = await post('/api/metrics', { ...where, metrics: Array.from({ length: 1000 }, (_, index) => ({ name: 'gate.fallback', value: index, at })) });
    expect(full).toEqual({ status: 201, body: { recorded: 1000 } });
  });

  it('refuses bad input with a 400 naming the field', async () => {
    const cases: Array<[string, unknown, RegExp]> = [
      ['/feedback', { app: 'shop', environment: 'production', score: 3 }, /^version is required$/],
      ['/feedback', { ...where, score: null }, /^score must be a finite number, got null$/],
      ['/feedback', { ...where, score: '3' }, /^score must be a finite number, got string$/],
      ['/feedback', { ...where, score: 'NaN' }, /score must be a finite number/],
      ['/feedback', `{"app":"shop","environment":"production","version":"2.0.0","score":1e999}`, /^score must be a finite number, got Infinity$/],
      ['/feedback', { ...where, score: 3, stars: 5 }, /^unknown field stars$/],
      ['/feedback', { ...where, score: 3, comment: 'x'.repeat(1001) }, /^comment must NOT have more than 1000 characters$/],
      ['/feedback', { ...where, score: 3, comment: 'nul \u0000' }, /^comment must not contain a NUL character or a broken UTF-16 surrogate$/],
      ['/feedback', { ...where, score: 3, user: 'half \ud800' }, /^user must not contain a NUL/],
      ['/feedback', { ...where, version: '', score: 3 }, /^version must NOT have fewer than 1 characters$/],
      ['/feedback', [], /body must be object/],
      ['/feedback', { ...where, environment: 'Prod', score: 3 }, /^environment must be 1 to 63 lowercase letters, digits and dashes, starting with a letter$/],
      ['/api/metrics', { ...where, metrics: [] }, /^metrics must NOT have fewer than 1 items$/],
      ['/api/metrics', { ...where, metrics: Array.from({ length: 1001 }, () => ({ name: 'm', value: 1 })) }, /^metrics must NOT have more than 1000 items$/],
      ['/api/metrics', { ...where, metrics: [{ name: 'ok', value: 1 }, { name: 'Bad Name', value: 1 }] }, /^metrics\[1\]\.name must be 1 to 100 of a-z 0-9 _ \. : - starting with a letter$/],
      ['/api/metrics', { ...where, metrics: [{ name: 'ok', value: 1 }, { name: 'ok', value: null }] }, /^metrics\[1\]\.value must be a finite number, got null$/],
      ['/api/metrics', { ...where, metrics: [{ name: 'ok', value: true }] }, /^metrics\[0\]\.value must be a finite number, got boolean$/],
      ['/api/metrics', { ...where, metrics: [{ name: 'ok' }] }, /^metrics\[0\]\.value is required$/],
      ['/api/metrics', { ...where, metrics: [{ name: 'ok', value: 1, unit: 'ms' }] }, /^unknown field metrics\[0\]\.unit$/],
      ['/api/metrics', { ...where, metrics: [{ name: 'ok', value: 1, at: 'yesterday' }] }, /^metrics\[0\]\.at must match format "date-time"$/],
      ['/api/metrics', { ...where, metrics: [{ name: 'ok', value: 1, at: new Date(Date.now() - 2 * 3_600_000).toISOString() }] }, /^metrics\[0\]\.at .* must be within the last hour and not in the future/],
      ['/api/metrics', { ...where, metrics: [{ name: 'ok', value: 1, at: new Date(Date.now() + 60_000).toISOString() }] }, /must be within the last hour and not in the future/],
      ['/api/metrics', { ...where, metrics: [{ name: FEEDBACK_METRIC, value: 5 }] }, /^metrics\[0\]\.name "promote:feedback": names starting with "promote:" are reserved/],
    ];
    for (const [path, body, message] of cases) {
      const { status, body: answer } = await post(path, body);
      expect({ path, body: JSON.stringify(body).slice(0, 120), status }).toEqual({ path, body: JSON.stringify(body).slice(0, 120), status: 400 });
      expect(answer.error).toMatch(message);
    }
    expect((await summary('ok')).count).toBe(0);
  });

  it('answers 404 for an app or environment this server does not run', async () => {
    expect(await post('/feedback', { ...where, app: 'other', score: 3 })).toEqual({ status: 404, body: { error: 'unknown app "other": this Promote server runs app "shop"' } });
    expect(await post('/api/metrics', { ...where, environment: 'prod', metrics: [{ name: 'm', value: 1 }] })).toEqual({ status: 404, body: { error: 'app "shop" has no environment "prod"; it has staging, production' } });
  });

  it('publishes both routes in the OpenAPI document', async () => {
    const document = (await (await request(`${base}/openapi.json`)).body.json()) as { paths: Record<string, { post?: { requestBody?: unknown } }> };
    expect(document.paths['/feedback']?.post?.requestBody).toBeDefined();
    expect(document.paths['/api/metrics']?.post?.requestBody).toBeDefined();
  });

  it('never answers a random JSON body with a 500', async () => {
    // mostly well-formed fields, so the bodies reach the deeper checks, the store and the database too
    const weird = fc.constantFrom('', '\u0000', 'a\u0000b', '\ud800', '\udc00x', 'Prod', 'promote:feedback', '9999-99-99T99:99:99Z', new Date(Date.now() + 3_600_000).toISOString());
    const anyJson = fc.oneof(fc.jsonValue({ maxDepth: 2 }), weird, fc.string({ unit: 'binary', maxLength: 20 }));
    const usually = <T,>(good: fc.Arbitrary<T>) => fc.oneof({ arbitrary: good, weight: 6 }, { arbitrary: anyJson, weight: 1 });
    const number = fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.integer({ min: 1, max: 5 }));
    const metric = fc.record({ name: usually(fc.constantFrom('m', 'dual_write.failure', 'gate.fallback')), value: usually(number), at: usually(fc.date({ min: new Date(Date.now() - 7_200_000), max: new Date(Date.now() + 600_000), noInvalidDate: true }).map((date) => date.toISOString())) }, { requiredKeys: ['name', 'value'] });
    const required = { app: usually(fc.constant('shop')), environment: usually(fc.constantFrom('production', 'staging', 'qa')), version: usually(fc.string({ unit: 'binary', minLength: 1, maxLength: 130 })) };
    const optional = { user: usually(fc.string({ unit: 'binary', maxLength: 210 })), comment: usually(fc.string({ unit: 'binary', maxLength: 1010 })) };
    const extra = fc.oneof({ arbitrary: fc.constant({}), weight: 9 }, { arbitrary: fc.record({ extra: anyJson }), weight: 1 });
    const merged = (...parts: Array<fc.Arbitrary<object>>) => fc.tuple(...parts).map((each) => Object.assign({}, ...each) as unknown);
    const feedback = merged(fc.record(required), fc.record({ score: usually(number) }), fc.record(optional, { requiredKeys: [] }), extra);
    const metrics = merged(fc.record(required), fc.record({ metrics: usually(fc.array(metric, { minLength: 1, maxLength: 5 })) }), extra);
    const call = fc.oneof(
      { arbitrary: fc.tuple(fc.constantFrom('/feedback', '/api/metrics'), fc.jsonValue()), weight: 1 },
      { arbitrary: fc.tuple(fc.constant('/feedback'), feedback), weight: 3 },
      { arbitrary: fc.tuple(fc.constant('/api/metrics'), metrics), weight: 3 },
    );
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(call, async ([path, sent]) => {
        const response = await api.inject({ method: 'POST', url: path, payload: JSON.stringify(sent) ?? 'null', headers: { 'content-type': 'application/json' } });
        expect(response.statusCode, response.body).toBeLessThan(500);
        statuses.set(response.statusCode, (statuses.get(response.statusCode) ?? 0) + 1);
      }),
      { numRuns: 300 },
    );
    // the bodies reached every outcome, not only the JSON schema's 400
    expect([...statuses.keys()].sort()).toEqual([201, 400, 404]);
  });
});
