/** The threshold judge: verdicts and reasons for conditions, and every way to "no data". */
import { describe, expect, it } from 'vitest';
import type { MetricData } from '../types.js';
import { judge } from './index.js';
import type { ThresholdJudgeSpec } from './specs.js';
import { thresholdJudge } from './threshold.js';

const spec = (condition: string, minSamples = 0): ThresholdJudgeSpec => ({ type: 'threshold', condition, minSamples });
const data = ({ samples, ...fields }: { value?: number; support?: number; samples?: readonly number[] }): MetricData => ({
  ...fields,
  ...(samples ? { samples: [...samples] } : {}),
  source: { query: 'test' },
});

describe('threshold judge', () => {
  it.each([
    ['value < 0.01', { value: 0.004 }, 'Successful', 'value 0.004 is < 0.01'],
    ['value < 0.01', { value: 0.083 }, 'Failed', 'value 0.083 is not < 0.01'],
    ['value <= 0.01', { value: 0.01 }, 'Successful', 'value 0.01 is <= 0.01'],
    ['value < 0.01', { value: 0.0100004 }, 'Failed', 'value 0.0100004 is not < 0.01'],
    ['0.95 <= value', { value: 0.97 }, 'Successful', 'value 0.97 is >= 0.95'],
    ['value > 100', { value: 212.03918 }, 'Successful', 'value 212 is > 100'],
    ['value < 500', { value: Infinity }, 'Failed', 'value ∞ is not < 500'],
    ['value >= 0.95 and value <= 1', { value: 1.2 }, 'Failed', 'value 1.2 does not meet "value >= 0.95 and value <= 1"'],
    ['value < 1 or value > 5', { value: 7 }, 'Successful', 'value 7 meets "value < 1 or value > 5"'],
  ] as const)('%s with %o: %s', (condition, fields, verdict, reason) => {
    const judgement = thresholdJudge(spec(condition), data(fields));
    expect(judgement.verdict).toBe(verdict);
    expect(judgement.reason).toBe(reason);
    expect(judgement.statistics).toMatchObject({ judge: 'threshold', condition, value: fields.value });
  });

  it.each([
    [spec('value < 0.01'), {}, 'no value from the provider'],
    [spec('value < 0.01'), { value: NaN }, 'the value is NaN: nothing measured in the window'],
    [spec('value < 0.01', 50), { value: 0.5, support: 12 }, 'too little data: 12 samples behind the value, 50 needed'],
    [spec('value < 0.01', 50), { value: 0.5, samples: [1, 2, 3] }, 'too little data: 3 samples behind the value, 50 needed'],
    [spec('value < 0.01', 50), { value: 0.5 }, 'the provider does not say how many samples stand behind the value; minSamples 50 needs that'],
  ] as const)('no data, never a failure: %o with %o', (judgeSpec, fields, reason) => {
    const judgement = thresholdJudge(judgeSpec, data(fields));
    expect(judgement).toMatchObject({ verdict: 'NoData', reason });
    expect(judgement.critical).toBeUndefined();
  });

  it('judges once enough data stands behind the value, counting support before samples', () => {
    expect(thresholdJudge(spec('value < 0.01', 50), data({ value: 0.5, support: 50 })).verdict).toBe('Failed');
    expect(thresholdJudge(spec('value < 0.01', 50), data({ value: 0.001, support: 80, samples: [1] })).verdict).toBe('Successful');
  });

  it('is what judge() runs for threshold specs (the baseline is ignored)', () => {
    expect(judge(spec('value < 0.01'), data({ value: 0.083 }), data({ value: 0 })).reason).toBe('value 0.083 is not < 0.01');
  });
});
