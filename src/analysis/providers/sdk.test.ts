import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { createStorePool } from '../../../test/helpers/database.js';
import { analysisTemplateSchema } from '../../spec/schema-analysis.js';
import { recordReportedMetrics, upsertApp } from '../../store/index.js';
import { ProviderError, type MeasureRequest } from '../types.js';
import { createSdkProvider, type SdkProviderSpec } from './sdk.js';

const sdkSpec = (provider: Record<string, unknown>) =>
  analysisTemplateSchema.parse({ provider: { type: 'sdk', ...provider }, judge: { type: 'threshold', condition: 'value < 1' } }).provider as SdkProviderSpec;
const request = (version: string): MeasureRequest => ({ app: 'shop', environment: 'production', version, signal: new AbortController().signal });

describe('the sdk provider', () => {
  let pool: pg.Pool;
  let url: string;
  beforeAll(async () => {
    ({ pool, url } = await createStorePool());
    await upsertApp(pool, { name: 'shop' });
    const at = (minutesAgo: number) => new Date(Date.now() - minutesAgo * 60_000);
    const report = (version: string, value: number, minutesAgo: number, metric = 'dual_write.failure') => ({ app: 'shop', environment: 'production', version, metric, value, reportedAt: at(minutesAgo) });
    await recordReportedMetrics(pool, [
      report('2.0.0', 1, 1), report('2.0.0', 4, 2), report('2.0.0', 2, 3), report('2.0.0', 50, 30),
      report('2.0.0', 7, 1, 'gate.fallback'),
      report('1.0.0', 1, 1),
    ]);
  });

  it('reads the window with defaults: sum over the last 5 minutes, values as samples, count as support', async () => {
    const spec = sdkSpec({ metric: 'dual_write.failure' });
    expect(spec).toEqual({ type: 'sdk', metric: 'dual_write.failure', aggregate: 'sum', window: 300_000 });
    const data = await createSdkProvider(spec, { pool, app: 'shop' }).measure(request('2.0.0'));
    expect(data).toMatchObject({ value: 7, samples: [2, 4, 1], support: 3 });
    expect(data.source).toMatchObject({ provider: 'sdk', metric: 'dual_write.failure', aggregate: 'sum', version: '2.0.0', window: '5m', count: 3, sum: 7, mean: 7 / 3, min: 1, max: 4, valuesKept: 3 });
    expect(await createSdkProvider(spec, { pool, app: 'shop' }).measure(request('1.0.0'))).toMatchObject({ value: 1, support: 1 });
  });

  it('aggregates by count, mean or max, over the window configured', async () => {
    const measure = async (provider: Record<string, unknown>) => (await createSdkProvider(sdkSpec({ metric: 'dual_write.failure', ...provider }), { pool, app: 'shop' }).measure(request('2.0.0'))).value;
    expect(await measure({ aggregate: 'count' })).toBe(3);
    expect(await measure({ aggregate: 'mean' })).toBeCloseTo(7 / 3, 12);
    expect(await measure({ aggregate: 'max' })).toBe(4);
    expect(await measure({ aggregate: 'max', window: '1h' })).toBe(50);
    expect(await measure({ aggregate: 'sum', window: '90s' })).toBe(1);
  });

  it('says "no data" below minSamples, and a real zero for sum and count of nothing reported', async () => {
    const below = await createSdkProvider(sdkSpec({ metric: 'dual_write.failure', minSamples: 4 }), { pool, app: 'shop' }).measure(request('2.0.0'));
    expect(below).toEqual({ support: 3, source: expect.objectContaining({ minSamples: 4, count: 3 }) as unknown });
    const nothing = createSdkProvider(sdkSpec({ metric: 'experiment.mismatch' }), { pool, app: 'shop' });
    expect(await nothing.measure(request('2.0.0'))).toMatchObject({ value: 0, samples: [], support: 0 });
    const noMax = await createSdkProvider(sdkSpec({ metric: 'experiment.mismatch', aggregate: 'max' }), { pool, app: 'shop' }).measure(request('2.0.0'));
    expect(noMax.value).toBeUndefined();
    expect(noMax.support).toBe(0);
  });

  it('refuses a metric name the app could never report, at validation time', () => {
    const parsed = analysisTemplateSchema.safeParse({ provider: { type: 'sdk', metric: 'Dual Write' }, judge: { type: 'threshold', condition: 'value < 1' } });
    expect(parsed.success).toBe(false);
    expect(analysisTemplateSchema.safeParse({ provider: { type: 'sdk', metric: 'x', aggregate: 'p99' }, judge: { type: 'threshold', condition: 'value < 1' } }).success).toBe(false);
  });

  it('turns a failed read into a ProviderError saying what it asked', async () => {
    const closed = new pg.Pool({ connectionString: url });
    await closed.end();
    const attempt = createSdkProvider(sdkSpec({ metric: 'gate.fallback' }), { pool: closed, app: 'shop' }).measure(request('2.0.0'));
    await expect(attempt).rejects.toThrow(ProviderError);
    await expect(attempt).rejects.toThrow(/^sdk metric gate.fallback: summarizing reported metric gate.fallback of version 2.0.0 of app "shop" in production: /);
    const aborted = new AbortController();
    aborted.abort();
    await expect(createSdkProvider(sdkSpec({ metric: 'gate.fallback' }), { pool, app: 'shop' }).measure({ ...request('2.0.0'), signal: aborted.signal })).rejects.toThrow(/over the last 5m: aborted$/);
    await expect(createSdkProvider(sdkSpec({ metric: 'gate.fallback' }), { pool, app: 'other' }).measure(request('2.0.0'))).rejects.toThrow(/this provider measures app "other"/);
  });
});
