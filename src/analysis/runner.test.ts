import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { createStorePool } from '../../test/helpers/database.js';
import { scratchFolder } from '../../test/helpers/scratch.js';
import { analysisTemplateSchema } from '../spec/schema-analysis.js';
import type { AnalysisTemplateSpec } from '../spec/index.js';
import { listMeasurements, rolloutMeasurements } from '../store/analysis.js';
import { createRelease, createRollout, syncEnvironments, upsertApp } from '../store/index.js';
import { judge } from './judges/index.js';
import { createProvider } from './providers/index.js';
import { runAnalysis, type AnalysisRunOptions } from './runner.js';

/**
 * The runner with real parts: the command provider reads a number from a file the test changes, the
 * real judges judge it, and every measurement lands in a real database.
 */
let db: pg.Pool;
let folder: string;
let rolloutId: number;
let actions = 0;

beforeAll(async () => {
  ({ pool: db } = await createStorePool());
  folder = await scratchFolder('promote-runner-');
  await upsertApp(db, { name: 'shop' });
  await syncEnvironments(db, 'shop', ['staging']);
  const { release } = await createRelease(db, { app: 'shop', version: 'v2', digest: `sha256:${'1'.repeat(64)}`, migrationChecksums: {} });
  rolloutId = (await createRollout(db, { app: 'shop', environment: 'staging', releaseId: release.id, strategy: {} })).id;
});

/** a template whose provider prints the content of `file` (a number, or a failing command) */
function template(file: string, overrides: Record<string, unknown> = {}): AnalysisTemplateSpec {
  return analysisTemplateSchema.parse({
    provider: { type: 'command', run: `cat ${file}`, timeout: '5s' },
    judge: { type: 'threshold', condition: 'value < 0.05' },
    interval: '50ms',
    count: 3,
    ...overrides,
  });
}

function options(templates: Array<[string, AnalysisTemplateSpec]>, extra: Partial<AnalysisRunOptions> = {}): AnalysisRunOptions & { actionId: string } {
  const actionId = `r${rolloutId}.a1.s${++actions}.startAnalysis`;
  return {
    actionId,
    measurements: rolloutMeasurements(db, rolloutId, actionId),
    app: 'shop',
    environment: 'staging',
    candidate: 'v2',
    baseline: 'v1',
    templates: templates.map(([name, spec]) => ({ name, spec })),
    score: { pass: 100, marginal: 100 },
    provider: (_name, spec) => createProvider(spec.provider, { configDir: folder }),
    judge,
    signal: new AbortController().signal,
    ...extra,
  };
}

const value = async (name: string, text: string) => {
  await writeFile(join(folder, name), text);
  return name;
};

describe('runAnalysis', () => {
  it('passes after count good measurements and records each with its evidence', async () => {
    const run = options([['errors', template(await value('good', '0.01'))]]);
    const result = await runAnalysis(run);
    expect(result).toMatchObject({ verdict: 'Successful', score: 100, templates: [{ template: 'errors', verdict: 'Successful', measurements: 3 }] });
    const recorded = await listMeasurements(db, rolloutId, { actionId: run.actionId });
    expect(recorded.map((each) => [each.seq, each.verdict, each.reason])).toEqual([
      [1, 'Successful', expect.stringMatching(/0\.01/)],
      [2, 'Successful', expect.stringMatching(/0\.01/)],
      [3, 'Successful', expect.stringMatching(/0\.01/)],
    ]);
    expect(recorded[0]!.candidate).toMatchObject({ version: 'v2', value: 0.01 });
    expect((recorded[0]!.candidate as { source: unknown }).source).toEqual(expect.objectContaining({}));
    expect(result.templates[0]!.evidence).toEqual({ first: recorded[0]!.id, last: recorded[2]!.id });
  });

  it('fails at once when a measurement fails beyond the failure limit, without waiting for the others', async () => {
    const started = Date.now();
    const result = await runAnalysis(options([
      ['errors', template(await value('bad', '0.2'))],
      ['slow', template(await value('good', '0.01'), { interval: '10s', count: 3 })],
    ]));
    expect(result.verdict).toBe('Failed');
    expect(result.reason).toMatch(/^errors failed: 1 failed measurement\(s\), 0 tolerated; last: .*0\.2/);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('holds through provider errors and succeeds once the provider is back; errors are never failures', async () => {
    const file = join(folder, 'flaky');
    const run = options([['errors', template('flaky', { count: 2, errorBudget: '1m' })]]);
    // the file does not exist yet: cat fails, the measurement is an Error
    setTimeout(() => void writeFile(file, '0.001'), 400);
    const result = await runAnalysis(run);
    expect(result.verdict).toBe('Successful');
    const verdicts = (await listMeasurements(db, rolloutId, { actionId: run.actionId })).map((each) => each.verdict);
    expect(verdicts.filter((each) => each === 'Error').length).toBeGreaterThanOrEqual(3);
    expect(verdicts.slice(-2)).toEqual(['Successful', 'Successful']);
  });

  it('fails only when the errors outlast the error budget, and says so', async () => {
    const result = await runAnalysis(options([['errors', template('missing-file', { errorBudget: '300ms' })]]));
    expect(result.verdict).toBe('Failed');
    expect(result.reason).toMatch(/the provider kept failing for \d+ms \(error budget 300ms\); last: .*missing-file/);
  });

  it('continues from the measurements already recorded under the same action, as a controller that took over does', async () => {
    const run = options([['errors', template(await value('good', '0.01'), { count: 4 })]]);
    const first = new AbortController();
    // the first controller takes two measurements, then stops
    const stopped = runAnalysis({ ...run, signal: first.signal, provider: (_name, spec) => {
      const provider = createProvider(spec.provider, { configDir: folder });
      let calls = 0;
      return { kind: provider.kind, measure: async (request) => {
        const data = await provider.measure(request);
        if (++calls === 2) first.abort();
        return data;
      } };
    } });
    expect(await stopped).toMatchObject({ reason: 'stopped before a verdict', templates: [{ measurements: 2 }] });
    expect((await stopped).verdict).toBeUndefined();
    // the next one takes only the two missing measurements
    const result = await runAnalysis(run);
    expect(result).toMatchObject({ verdict: 'Successful', templates: [{ measurements: 4 }] });
    expect((await listMeasurements(db, rolloutId, { actionId: run.actionId })).map((each) => each.seq)).toEqual([1, 2, 3, 4]);
  });

  it('records dry-run metrics but never acts on them, and sits out compare metrics of a first release', async () => {
    const compare = analysisTemplateSchema.parse({
      provider: { type: 'command', run: 'echo "[1,2,3]"', timeout: '5s' },
      judge: { type: 'compare', test: 'mannWhitney', minSamples: 2 },
      interval: '50ms',
      count: 2,
    });
    const run = options(
      [
        ['errors', template(await value('good', '0.01'), { count: 2 })],
        ['shadow', template(await value('bad', '0.2'), { dryRun: true, count: 2 })],
        ['versus-stable', compare],
      ],
      { baseline: null },
    );
    const result = await runAnalysis(run);
    expect(result.verdict).toBe('Successful');
    const sittingOut = result.templates.find((each) => each.template === 'versus-stable');
    expect(sittingOut).toMatchObject({ verdict: 'Inconclusive', measurements: 0 });
    expect(sittingOut?.reason).toMatch(/no stable version to compare with/);
    const shadow = (await listMeasurements(db, rolloutId, { actionId: run.actionId, template: 'shadow' }))[0];
    expect(shadow).toMatchObject({ verdict: 'Failed', dryRun: true });
  });

  it('a continuous run keeps measuring past count until stopped, spending the confidence of compare looks, and fails when the candidate turns bad', async () => {
    const compare = (file: string) =>
      analysisTemplateSchema.parse({
        provider: { type: 'command', run: `case "$PROMOTE_VERSION" in v2) cat ${file};; *) echo "[10,11,12,13,14,15,16,17,18,19]";; esac`, timeout: '5s' },
        judge: { type: 'compare', test: 'mannWhitney', minSamples: 5, confidence: 0.98 },
        interval: '50ms',
        count: 2,
      });
    await value('same', '[10,11,12,13,14,15,16,17,18,19]');
    const abort = new AbortController();
    const run = options([['latency', compare('same')]], { continuous: true, signal: abort.signal });
    setTimeout(() => abort.abort(), 700);
    const good = await runAnalysis(run);
    expect(good.verdict).toBeUndefined();
    const looks = await listMeasurements(db, rolloutId, { actionId: run.actionId });
    expect(looks.length).toBeGreaterThan(4);
    expect(looks.map((each) => each.statistics.confidence).slice(0, 3)).toEqual([0.99, 1 - 0.02 / 6, 1 - 0.02 / 12]);

    await value('worse', '[30,31,32,33,34,35,36,37,38,39]');
    const bad = await runAnalysis(options([['latency', compare('worse')]], { continuous: true }));
    expect(bad.verdict).toBe('Failed');
  });

  it('judges the candidate against the baseline for compare metrics, measuring both versions', async () => {
    const spec = analysisTemplateSchema.parse({
      provider: { type: 'command', run: 'case "$PROMOTE_VERSION" in v2) echo "[30,31,32,33,34,35,36,37,38,39]";; *) echo "[10,11,12,13,14,15,16,17,18,19]";; esac', timeout: '5s' },
      judge: { type: 'compare', test: 'mannWhitney', minSamples: 5 },
      interval: '50ms',
      count: 1,
    });
    const run = options([['latency', spec]]);
    const result = await runAnalysis(run);
    expect(result.verdict).toBe('Failed');
    const [measurement] = await listMeasurements(db, rolloutId, { actionId: run.actionId });
    expect(measurement!.candidate).toMatchObject({ version: 'v2', samples: { n: 10, min: 30 } });
    expect(measurement!.baseline).toMatchObject({ version: 'v1', samples: { n: 10, max: 19 } });
    expect(measurement!.statistics).toMatchObject({ test: 'mannWhitney', estimate: 20 });
  });
});
