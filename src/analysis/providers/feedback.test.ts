import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { createStorePool } from '../../../test/helpers/database.js';
import { analysisTemplateSchema } from '../../spec/schema-analysis.js';
import { FEEDBACK_METRIC, recordReportedMetrics, upsertApp } from '../../store/index.js';
import { ProviderError, type MeasureRequest } from '../types.js';
import { createFeedbackProvider, type FeedbackProviderSpec } from './feedback.js';

const feedbackSpec = (provider: Record<string, unknown> = {}) =>
  analysisTemplateSchema.parse({ provider: { type: 'feedback', ...provider }, judge: { type: 'compare', test: 'mannWhitney', direction: 'decrease' } }).provider as FeedbackProviderSpec;
const request = (version: string, environment = 'production'): MeasureRequest => ({ app: 'shop', environment, version, signal: new AbortController().signal });

describe('the feedback provider', () => {
  let pool: pg.Pool;
  let url: string;
  beforeAll(async () => {
    ({ pool, url } = await createStorePool());
    await upsertApp(pool, { name: 'shop' });
    const score = (version: string, value: number, minutesAgo: number, environment = 'production') => ({ app: 'shop', environment, version, metric: FEEDBACK_METRIC, value, reportedAt: new Date(Date.now() - minutesAgo * 60_000), context: { user: `u${value}` } });
    await recordReportedMetrics(pool, [
      score('2.0.0', 2, 4), score('2.0.0', 1, 3), score('2.0.0', 3, 1), score('2.0.0', 5, 20),
      score('1.0.0', 5, 2), score('1.0.0', 4, 1),
      score('2.0.0', 5, 1, 'staging'),
      // an SDK metric of the same version is not feedback
      { app: 'shop', environment: 'production', version: '2.0.0', metric: 'feedback', value: 5 },
    ]);
  });

  it('gives the mean score of the window as value and the scores as samples, per version', async () => {
    const spec = feedbackSpec();
    expect(spec).toEqual({ type: 'feedback', window: 300_000 });
    const provider = createFeedbackProvider(spec, { pool, app: 'shop' });
    expect(provider.kind).toBe('feedback');
    const canary = await provider.measure(request('2.0.0'));
    expect(canary).toMatchObject({ value: 2, samples: [2, 1, 3], support: 3 });
    expect(canary.source).toMatchObject({ provider: 'feedback', metric: FEEDBACK_METRIC, environment: 'production', version: '2.0.0', window: '5m', count: 3, min: 1, max: 3 });
    expect(await provider.measure(request('1.0.0'))).toMatchObject({ value: 4.5, samples: [5, 4], support: 2 });
    expect(await provider.measure(request('2.0.0', 'staging'))).toMatchObject({ value: 5, support: 1 });
    expect((await createFeedbackProvider(feedbackSpec({ window: '30m' }), { pool, app: 'shop' }).measure(request('2.0.0'))).samples).toEqual([5, 2, 1, 3]);
  });

  it('says "no data" without scores or below minSamples: support, no value, no samples', async () => {
    expect(await createFeedbackProvider(feedbackSpec(), { pool, app: 'shop' }).measure(request('3.0.0'))).toEqual({ support: 0, source: expect.objectContaining({ count: 0 }) as unknown });
    const below = await createFeedbackProvider(feedbackSpec({ minSamples: 3 }), { pool, app: 'shop' }).measure(request('1.0.0'));
    expect(below).toEqual({ support: 2, source: expect.objectContaining({ minSamples: 3, count: 2, mean: 4.5 }) as unknown });
  });

  it('turns a failed read into a ProviderError', async () => {
    const closed = new pg.Pool({ connectionString: url });
    await closed.end();
    const attempt = createFeedbackProvider(feedbackSpec(), { pool: closed, app: 'shop' }).measure(request('2.0.0'));
    await expect(attempt).rejects.toThrow(ProviderError);
    await expect(attempt).rejects.toThrow(/^feedback scores: summarizing reported metric promote:feedback of version 2.0.0 of app "shop" in production: /);
  });
});
