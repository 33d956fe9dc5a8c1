import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { assessRun, assessStep, type RunProgress, type RunRules, type Taken, type TemplateProgress } from './assess.js';
import type { MeasurementVerdict } from './types.js';

const rules: RunRules = { interval: 10_000, initialDelay: 5_000, count: 3, failureLimit: 1, inconclusiveLimit: 1, errorBudget: 60_000, noDataLimit: 4 };
const start = 1_000_000;

/** measurements every 10 s from the start, with the given verdicts */
const series = (...verdicts: MeasurementVerdict[]): Taken[] => verdicts.map((verdict, index) => ({ verdict, takenAt: start + 5_000 + index * 10_000, reason: `${verdict.toLowerCase()} #${index + 1}` }));

describe('assessRun', () => {
  it.each<[string, Taken[], Partial<RunRules>, RunProgress]>([
    ['waits the initial delay before the first measurement', [], {}, { done: false, nextAt: start + 5_000 }],
    ['measures again one interval after the last', series('Successful'), {}, { done: false, nextAt: start + 15_000 }],
    ['succeeds after count judged measurements', series('Successful', 'Successful', 'Successful'), {}, { done: true, verdict: 'Successful', reason: '3 of 3 measurements passed; last: successful #3' }],
    ['tolerates failures up to the failure limit', series('Failed', 'Successful', 'Successful'), {}, { done: true, verdict: 'Successful', reason: '2 of 3 measurements passed (1 failed, tolerated); last: successful #3' }],
    ['fails at once when the failure limit is exceeded', series('Failed', 'Failed'), {}, { done: true, verdict: 'Failed', reason: '2 failed measurement(s), 1 tolerated; last: failed #2' }],
    ['is inconclusive past the inconclusive limit', series('Inconclusive', 'Successful', 'Inconclusive'), {}, { done: true, verdict: 'Inconclusive', reason: '2 inconclusive measurement(s), 1 tolerated; last: inconclusive #3' }],
    ['does not count "no data" towards count, and never fails on it', series('NoData', 'NoData', 'Successful'), {}, { done: false, nextAt: start + 35_000 }],
    ['is inconclusive after the no-data limit', series('NoData', 'NoData', 'Successful', 'NoData', 'NoData'), {}, { done: true, verdict: 'Inconclusive', reason: 'too little data in 4 measurement(s); last: nodata #5' }],
    ['holds through provider errors shorter than the budget', series('Successful', 'Error', 'Error', 'Error'), {}, { done: false, nextAt: start + 45_000 }],
    ['errors do not count towards count', series('Error', 'Successful', 'Error', 'Successful'), {}, { done: false, nextAt: start + 45_000 }],
    ['fails when errors in a row outlast the budget', series('Successful', ...Array<MeasurementVerdict>(7).fill('Error')), {}, { done: true, verdict: 'Failed', reason: 'the provider kept failing for 1m (error budget 1m); last: error #8' }],
    ['a success in between restarts the error budget', series(...Array<MeasurementVerdict>(6).fill('Error'), 'Successful', ...Array<MeasurementVerdict>(6).fill('Error')), { count: 5 }, { done: false, nextAt: start + 135_000 }],
    ['succeeds early after consecutive successes', series('Failed', 'Successful', 'Successful'), { count: 10, consecutiveSuccessLimit: 2 }, { done: true, verdict: 'Successful', reason: '2 successful measurements in a row; last: successful #3' }],
  ])('%s', (_name, taken, overrides, expected) => {
    expect(assessRun({ ...rules, ...overrides }, taken, start)).toEqual(expected);
  });

  it('a continuous run never ends by count, no data or inconclusive measurements; only failures and the error budget end it', () => {
    const continuous = { ...rules, continuous: true };
    expect(assessRun(continuous, series('Successful', 'Successful', 'Successful', 'Successful'), start)).toEqual({ done: false, nextAt: start + 45_000 });
    expect(assessRun(continuous, series('NoData', 'NoData', 'NoData', 'NoData', 'Inconclusive', 'Inconclusive'), start)).toMatchObject({ done: false });
    expect(assessRun(continuous, series('Successful', 'Failed', 'Successful', 'Failed'), start)).toMatchObject({ done: true, verdict: 'Failed' });
    expect(assessRun(continuous, series(...Array<MeasurementVerdict>(8).fill('Error')), start)).toMatchObject({ done: true, verdict: 'Failed' });
  });

  it('fails on one measurement with a critical change, whatever the failure limit', () => {
    const taken = [{ verdict: 'Failed' as const, takenAt: start, reason: 'p99 +300%', critical: true }];
    expect(assessRun({ ...rules, failureLimit: 5 }, taken, start)).toEqual({ done: true, verdict: 'Failed', reason: 'a critical change: p99 +300%', critical: true });
  });

  it('never fails on a run with no failed measurement whose errors stay within the budget', () => {
    const verdicts = fc.constantFrom<MeasurementVerdict>('Successful', 'Inconclusive', 'NoData', 'Error');
    fc.assert(
      fc.property(fc.array(verdicts, { maxLength: 40 }), (list) => {
        // errors every 10 s: a budget of 10 minutes is never exhausted by 40 of them
        const progress = assessRun({ ...rules, errorBudget: 600_000 }, series(...list), start);
        return !(progress.done && progress.verdict === 'Failed');
      }),
    );
  });
});

const done = (verdict: 'Successful' | 'Failed' | 'Inconclusive', reason = 'why'): RunProgress => ({ done: true, verdict, reason });
const running: RunProgress = { done: false, nextAt: 0 };
const template = (name: string, progress: RunProgress, extra: Partial<TemplateProgress> = {}): TemplateProgress => ({ template: name, weight: 1, critical: false, dryRun: false, progress, ...extra });
const strict = { pass: 100, marginal: 100 };
const kayenta = { pass: 95, marginal: 75 };

describe('assessStep', () => {
  it('passes when every metric passes', () => {
    expect(assessStep(strict, [template('errors', done('Successful', 'ok')), template('latency', done('Successful', 'fine'))])).toEqual({
      done: true,
      verdict: 'Successful',
      reason: 'score 100: errors successful: ok; latency successful: fine',
      score: 100,
    });
  });

  it('with the default score, fails as soon as one metric fails, without waiting for the others', () => {
    expect(assessStep(strict, [template('errors', done('Failed', '20% errors')), template('latency', running)])).toEqual({
      done: true,
      verdict: 'Failed',
      reason: 'errors failed: 20% errors (score 0 < 100, the marginal score)',
      score: 0,
    });
  });

  it('with Kayenta-like scores, a light metric failing is marginal and a heavy one fails', () => {
    const light = [template('a', done('Successful'), { weight: 9 }), template('b', done('Failed'), { weight: 1 })];
    expect(assessStep(kayenta, light)).toMatchObject({ done: true, verdict: 'Inconclusive', score: 90 });
    const heavy = [template('a', done('Successful'), { weight: 1 }), template('b', done('Failed'), { weight: 3 })];
    expect(assessStep(kayenta, heavy)).toMatchObject({ done: true, verdict: 'Failed', score: 25 });
    // while a metric is still measuring and the score can still pass, keep measuring
    expect(assessStep(kayenta, [template('a', running, { weight: 9 }), template('b', done('Failed'), { weight: 1 })])).toMatchObject({ done: false });
  });

  it('a critical metric that fails fails the step at once, whatever the score', () => {
    const templates = [template('a', done('Successful'), { weight: 10 }), template('b', done('Failed', 'p99 +30%'), { critical: true }), template('c', running)];
    expect(assessStep({ pass: 50, marginal: 10 }, templates)).toEqual({ done: true, verdict: 'Failed', reason: 'critical metric b failed: p99 +30%' });
  });

  it('a critical change seen by a judge fails the step at once', () => {
    const templates = [template('a', { done: true, verdict: 'Failed', reason: 'a critical change: +400%', critical: true }), template('b', running, { weight: 100 })];
    expect(assessStep({ pass: 50, marginal: 10 }, templates)).toMatchObject({ done: true, verdict: 'Failed', reason: 'a failed: a critical change: +400%' });
  });

  it('an inconclusive metric makes the step inconclusive, never failed', () => {
    expect(assessStep(strict, [template('a', done('Successful')), template('b', done('Inconclusive', 'too little data'))])).toEqual({
      done: true,
      verdict: 'Inconclusive',
      reason: 'b inconclusive: too little data',
      score: 100,
    });
    expect(assessStep(strict, [template('a', done('Inconclusive', 'no traffic'))])).toMatchObject({ done: true, verdict: 'Inconclusive', reason: 'no metric could be judged: a inconclusive: no traffic' });
  });

  it('dry-run metrics are recorded but never act', () => {
    expect(assessStep(strict, [template('a', done('Successful')), template('shadow', done('Failed', 'bad'), { dryRun: true, critical: true })])).toMatchObject({ done: true, verdict: 'Successful' });
    expect(assessStep(strict, [template('a', done('Successful')), template('shadow', running, { dryRun: true })])).toMatchObject({ done: true, verdict: 'Successful' });
    expect(assessStep(strict, [template('shadow', done('Failed'), { dryRun: true })])).toMatchObject({ done: true, verdict: 'Successful', reason: 'nothing to act on: every metric is a dry run, or compares with a stable version this first release does not have' });
  });

  it('the score never passes a step with more failed weight than the marginal score allows', () => {
    const verdict = fc.constantFrom<'Successful' | 'Failed' | 'Inconclusive' | undefined>('Successful', 'Failed', 'Inconclusive', undefined);
    fc.assert(
      fc.property(fc.array(fc.tuple(verdict, fc.integer({ min: 1, max: 5 })), { minLength: 1, maxLength: 6 }), fc.integer({ min: 0, max: 100 }), (entries, marginal) => {
        const templates = entries.map(([each, weight], index) => template(`t${index}`, each === undefined ? running : done(each), { weight }));
        const result = assessStep({ pass: 100, marginal }, templates);
        const failed = entries.filter(([each]) => each === 'Failed').reduce((sum, [, weight]) => sum + weight, 0);
        const passed = entries.filter(([each]) => each === 'Successful').reduce((sum, [, weight]) => sum + weight, 0);
        if (result.verdict === 'Successful') return failed === 0 || (passed / (passed + failed)) * 100 >= marginal;
        return true;
      }),
    );
  });
});
