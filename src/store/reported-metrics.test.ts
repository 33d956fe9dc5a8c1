import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { createStorePool } from '../../test/helpers/database.js';
import { PromoteError } from '../errors.js';
import { upsertApp } from './apps.js';
import { FEEDBACK_METRIC, MAX_SUMMARY_VALUES, recordReportedMetrics, summarizeReportedMetric, type ReportedMetricInput } from './reported-metrics.js';

const MINUTE = 60_000;
const base = { app: 'shop', environment: 'production', version: '1.1.0' } as const;

describe('reported metrics', () => {
  let pool: pg.Pool;
  let url: string;
  beforeAll(async () => {
    ({ pool, url } = await createStorePool());
    await upsertApp(pool, { name: 'shop' });
  });

  const summary = (metric: string, extra: { version?: string; windowMs?: number; sinceMs?: number } = {}) =>
    summarizeReportedMetric(pool, { ...base, metric, windowMs: 5 * MINUTE, ...extra });

  it('records a batch in one statement and summarizes one version and metric', async () => {
    const recorded = await recordReportedMetrics(pool, [
      { ...base, metric: 'dual_write.failure', value: 1 },
      { ...base, metric: 'dual_write.failure', value: 3, context: { table: 'orders' } },
      { ...base, metric: 'experiment:mismatch', value: 1 },
      { ...base, version: '1.0.0', metric: 'dual_write.failure', value: 100 },
      { ...base, environment: 'staging', metric: 'dual_write.failure', value: 100 },
    ]);
    expect(recorded).toBe(5);
    expect(await summary('dual_write.failure')).toEqual({ count: 2, sum: 4, mean: 2, min: 1, max: 3, values: [1, 3] });
    expect(await summary('experiment:mismatch')).toMatchObject({ count: 1, sum: 1 });
    expect(await summary('dual_write.failure', { version: '1.0.0' })).toMatchObject({ count: 1, sum: 100 });
    const context = await pool.query<{ context: unknown }>(`select context from promote.reported_metrics where value = 3`);
    expect(context.rows[0]!.context).toEqual({ table: 'orders' });
  });

  it('summarizes nothing as zero count and no mean', async () => {
    expect(await summary('gate.fallback')).toEqual({ count: 0, sum: 0, mean: null, min: null, max: null, values: [] });
  });

  it('counts only reports inside the window and after sinceMs, values oldest first', async () => {
    const now = Date.now();
    await recordReportedMetrics(pool, [
      { ...base, metric: FEEDBACK_METRIC, value: 5, reportedAt: new Date(now - 2 * MINUTE), context: { user: 'u1', comment: 'fast!' } },
      { ...base, metric: FEEDBACK_METRIC, value: 1, reportedAt: new Date(now - 10 * MINUTE) },
      { ...base, metric: FEEDBACK_METRIC, value: 4, reportedAt: new Date(now - 1 * MINUTE) },
      { ...base, metric: FEEDBACK_METRIC, value: 2, reportedAt: new Date(now - 3 * MINUTE) },
    ]);
    expect(await summary(FEEDBACK_METRIC)).toEqual({ count: 3, sum: 11, mean: 11 / 3, min: 2, max: 5, values: [2, 5, 4] });
    expect(await summary(FEEDBACK_METRIC, { windowMs: 15 * MINUTE })).toMatchObject({ count: 4, values: [1, 2, 5, 4] });
    expect(await summary(FEEDBACK_METRIC, { windowMs: 15 * MINUTE, sinceMs: now - 150_000 })).toMatchObject({ count: 2, values: [5, 4] });
  });

  it('keeps only the newest values but counts every report', async () => {
    const now = Date.now();
    const many: ReportedMetricInput[] = Array.from({ length: MAX_SUMMARY_VALUES + 5 }, (_, index) => ({ ...base, metric: 'latency.db', value: index, reportedAt: new Date(now - 60_000 + index) }));
    expect(await recordReportedMetrics(pool, many.slice(0, 5))).toBe(5);
    expect(await recordReportedMetrics(pool, many.slice(5))).toBe(MAX_SUMMARY_VALUES);
    await expect(recordReportedMetrics(pool, many)).rejects.toThrow(`${MAX_SUMMARY_VALUES + 5} reported metrics in one batch; at most 10000`);
    const result = await summary('latency.db');
    expect(result.count).toBe(MAX_SUMMARY_VALUES + 5);
    expect(result.values).toHaveLength(MAX_SUMMARY_VALUES);
    expect(result.values[0]).toBe(5);
    expect(result.values.at(-1)).toBe(MAX_SUMMARY_VALUES + 4);
    expect(result.min).toBe(0);
  });

  it('refuses a report of an app the store does not know, naming it, and records none of the batch', async () => {
    const attempt = recordReportedMetrics(pool, [
      { ...base, metric: 'orphan.metric', value: 1 },
      { ...base, app: 'ghost', metric: 'orphan.metric', value: 1 },
    ]);
    await expect(attempt).rejects.toThrow(PromoteError);
    await expect(attempt).rejects.toThrow('cannot record reported metrics: app "ghost" is not recorded in the state store');
    expect((await summary('orphan.metric')).count).toBe(0);
  });

  it('refuses bad reports before they reach SQL, saying which one and why', async () => {
    const bad: Array<[Partial<ReportedMetricInput>, RegExp]> = [
      [{ metric: 'Bad Name' }, /metric name of report 2 must be 1 to 100 of a-z/],
      [{ metric: '' }, /metric name/],
      [{ metric: `a${'b'.repeat(100)}` }, /metric name/],
      [{ value: Number.NaN }, /value of report 2 \(m\) must be a finite number, got NaN/],
      [{ value: Number.POSITIVE_INFINITY }, /finite number, got Infinity/],
      [{ value: '3' as unknown as number }, /finite number/],
      [{ version: '' }, /version of report 2 must be 1 to 128 characters/],
      [{ version: 'a\u0000b' }, /version/],
      [{ environment: 'Prod!' }, /environment name "Prod!" is not valid/],
      [{ reportedAt: new Date(Number.NaN) }, /time of report 2 \(m\) must be a valid date/],
      [{ context: [] as unknown as Record<string, unknown> }, /context of report 2 must be a JSON object/],
      [{ context: { big: 'x'.repeat(5000) } }, /context of report 2 is 5010 bytes of JSON; at most 4096/],
      [{ context: { n: Number.NaN } }, /context of report 2 is not plain JSON/],
      [{ context: { comment: 'nul \u0000 here' } }, /NUL character or a broken UTF-16 surrogate/],
      [{ context: { comment: 'half \ud800 pair' } }, /broken UTF-16 surrogate/],
    ];
    for (const [change, message] of bad) {
      await expect(recordReportedMetrics(pool, [{ ...base, metric: 'm', value: 1 }, { ...base, metric: 'm', value: 1, ...change }]), JSON.stringify(change)).rejects.toThrow(message);
    }
    expect((await summary('m')).count).toBe(0);
    await expect(recordReportedMetrics(pool, [])).resolves.toBe(0);
    // a well-formed surrogate pair (an emoji) is fine
    await expect(recordReportedMetrics(pool, [{ ...base, metric: 'm', value: 1, context: { comment: 'love it 🚀' } }])).resolves.toBe(1);
    await expect(summarizeReportedMetric(pool, { ...base, metric: 'm', windowMs: 0 })).rejects.toThrow(/window of reported metrics must be a whole number/);
  });

  it('wraps a database failure with what it was doing', async () => {
    const closed = new pg.Pool({ connectionString: url });
    await closed.end();
    const attempt = summarizeReportedMetric(closed, { ...base, metric: 'm', windowMs: MINUTE });
    await expect(attempt).rejects.toThrow(/^summarizing reported metric m of version 1.1.0 of app "shop" in production: /);
  });
});
