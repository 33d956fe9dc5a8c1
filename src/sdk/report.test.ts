import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStorePool } from '../../test/helpers/database.js';
import { buildServer } from '../server/app.js';
import { parseSpec, type PromoteSpec } from '../spec/index.js';
import { FEEDBACK_METRIC, summarizeReportedMetric, upsertApp } from '../store/index.js';
import { createReporter, type ReporterOptions } from './report.js';

const specText = `version: 1
app: { name: shop }
environments:
  - name: production
    database: postgres://localhost/shop
    target: { type: process, command: node server.js }
    strategy: canary
strategies:
  canary:
    type: canary
    steps:
      - promote: {}
`;

async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('the reporter apps use', () => {
  let db: pg.Pool;
  let spec: PromoteSpec;
  let api: FastifyInstance;
  let url: string;
  beforeAll(async () => {
    ({ pool: db } = await createStorePool());
    const parsed = parseSpec(specText, { file: 'promote.yaml' });
    if (!parsed.ok) throw new Error('spec');
    spec = parsed.spec;
    await upsertApp(db, { name: 'shop' });
    api = await buildServer({ pool: db, spec });
    url = await api.listen({ host: '127.0.0.1', port: 0 });
  });
  afterAll(async () => api.close());

  let versions = 0;
  /** each test reports as a version of its own, so their rows never mix */
  const reporter = (options: Partial<ReporterOptions> = {}) => {
    const version = `3.0.${versions++}`;
    const errors: string[] = [];
    const made = createReporter({ url, app: 'shop', environment: 'production', version, flushIntervalMs: 60_000, onError: (error) => errors.push(error.message), ...options });
    const summary = (metric: string) => summarizeReportedMetric(db, { app: 'shop', environment: 'production', version, metric, windowMs: 3_600_000 });
    return { made, errors, summary };
  };

  it('posts counters, observations and feedback on flush', async () => {
    const { made, errors, summary } = reporter();
    made.count('dual_write.failure');
    made.count('dual_write.failure', 2);
    made.observe('experiment.latency_ms', 12.5);
    made.feedback(4, { user: 'u-1', comment: 'nice' });
    expect(made.stats()).toEqual({ pending: 4, dropped: 0, sent: 0 });
    await made.flush();
    expect(errors).toEqual([]);
    expect(made.stats()).toEqual({ pending: 0, dropped: 0, sent: 4 });
    expect(await summary('dual_write.failure')).toMatchObject({ count: 2, sum: 3 });
    expect(await summary('experiment.latency_ms')).toMatchObject({ values: [12.5] });
    expect(await summary(FEEDBACK_METRIC)).toMatchObject({ values: [4] });
    await made.close();
  });

  it('posts batches of maxBatch, a full batch at once and the rest on the timer', async () => {
    const { made, summary } = reporter({ maxBatch: 3, flushIntervalMs: 100 });
    for (let index = 0; index < 7; index++) made.observe('gate.fallback', index);
    // two full batches go at once; the seventh report waits for the timer
    await until(async () => (await summary('gate.fallback')).count === 7, 'all seven reports');
    expect((await summary('gate.fallback')).values).toEqual([0, 1, 2, 3, 4, 5, 6]);
    await made.close();
  });

  it('keeps a failed batch for the next flush, up to the cap, dropping the oldest', async () => {
    const down = await buildServer({ pool: db, spec });
    const address = await down.listen({ host: '127.0.0.1', port: 0 });
    await down.close(); // nothing listens there now
    const { made, errors, summary } = reporter({ url: address, maxPending: 10, maxBatch: 4 });
    for (let index = 0; index < 15; index++) made.observe('dual_write.failure', index);
    made.feedback(1);
    await made.flush();
    expect(made.stats()).toEqual({ pending: 11, dropped: 5, sent: 0 });
    expect(errors.at(-1)).toMatch(/^promote reporter: POST \/feedback failed: .* \(kept for the next flush\)$/);
    // the server comes back on the same address
    const again = await buildServer({ pool: db, spec });
    await again.listen({ host: '127.0.0.1', port: Number(new URL(address).port) });
    try {
      await made.flush();
      expect(made.stats()).toEqual({ pending: 0, dropped: 5, sent: 11 });
      expect((await summary('dual_write.failure')).values).toEqual([5, 6, 7, 8, 9, 10, 11, 12, 13, 14]);
      expect((await summary(FEEDBACK_METRIC)).values).toEqual([1]);
    } finally {
      await made.close();
      await again.close();
    }
  });

  it('drops what the server refuses for good, and bad reports, without ever throwing', async () => {
    const { made, errors } = reporter({ environment: 'qa' });
    made.count('dual_write.failure');
    await made.flush();
    expect(made.stats()).toEqual({ pending: 0, dropped: 1, sent: 0 });
    expect(errors).toEqual(['promote reporter: POST /api/metrics answered 404: {"error":"app \\"shop\\" has no environment \\"qa\\"; it has production"} (1 report(s) dropped)']);
    const quiet = reporter({ onError: () => { throw new Error('the app handler breaks too'); } }).made;
    expect(() => {
      quiet.count('Not A Name');
      quiet.observe('latency', Number.NaN);
      quiet.observe('latency', '5' as unknown as number);
      quiet.count('promote:feedback');
      quiet.feedback(Number.POSITIVE_INFINITY);
      quiet.feedback(3, null as unknown as { user?: string });
    }).not.toThrow();
    expect(quiet.stats()).toEqual({ pending: 1, dropped: 5, sent: 0 });
    await quiet.close();
    expect(quiet.stats()).toEqual({ pending: 0, dropped: 5, sent: 1 });
  });

  it('flushes on close and takes nothing after it', async () => {
    const { made, summary } = reporter();
    made.count('experiment.mismatch', 2);
    made.feedback(5, { comment: '🚀'.repeat(1200) });
    await made.close();
    expect(made.stats()).toEqual({ pending: 0, dropped: 0, sent: 2 });
    made.count('experiment.mismatch');
    expect(made.stats()).toEqual({ pending: 0, dropped: 1, sent: 2 });
    expect(await summary('experiment.mismatch')).toMatchObject({ count: 1, sum: 2 });
    const comment = await db.query<{ comment: string }>(`select context->>'comment' as comment from promote.reported_metrics where metric = $1 and value = 5`, [FEEDBACK_METRIC]);
    expect(Array.from(comment.rows[0]!.comment)).toHaveLength(1000);
  });
});
