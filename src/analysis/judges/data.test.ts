/** What the compare judge takes from MetricData: NaN left out, impossible data refused as a provider error. */
import { describe, expect, it } from 'vitest';
import { ProviderError } from '../types.js';
import { countsOf, samplesOf } from './data.js';

describe('compare judge data', () => {
  it('takes samples, leaving out NaN (no data at that point) and counting it', () => {
    expect(samplesOf({ samples: [1, NaN, 3, NaN], source: {} }, 'candidate')).toEqual({ values: [1, 3], droppedNaN: 2 });
    expect(samplesOf({ source: {} }, 'candidate')).toBeUndefined();
  });

  it('refuses infinite samples as a provider error naming the version and position', () => {
    const attempt = () => samplesOf({ samples: [1, 2, Infinity], source: {} }, 'baseline');
    expect(attempt).toThrow(ProviderError);
    expect(attempt).toThrow("the baseline's samples[2] is Infinity: samples must be finite numbers");
  });

  it('takes counts when both are there and they are counts', () => {
    expect(countsOf({ events: 3, total: 100, source: {} }, 'candidate')).toEqual({ events: 3, total: 100 });
    expect(countsOf({ events: 0, total: 0, source: {} }, 'candidate')).toEqual({ events: 0, total: 0 });
    expect(countsOf({ events: 3, source: {} }, 'candidate')).toBeUndefined();
    expect(() => countsOf({ events: 5, total: 4, source: {} }, 'candidate')).toThrow("the candidate's events are 5: they must be a whole number from 0 to the total (4)");
    expect(() => countsOf({ events: 1, total: 2.5, source: {} }, 'baseline')).toThrow("the baseline's total is 2.5");
    expect(() => countsOf({ events: NaN, total: 10, source: {} }, 'baseline')).toThrow(ProviderError);
  });
});
