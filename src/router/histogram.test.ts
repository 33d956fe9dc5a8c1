import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  LatencyHistogram,
  MAX_TRACKABLE_MICROS,
  bucketIndex,
  bucketLowerBound,
  bucketWidth,
  normalizeMicros,
} from './histogram.js';

/** nearest rank, written independently of the implementation */
function exactPercentile(sorted: readonly number[], p: number): number {
  const n = sorted.length;
  const rank = Math.min(n, Math.max(1, Math.ceil((p * n) / 100)));
  return sorted[rank - 1]!;
}

const PERCENTILES = [1, 10, 25, 50, 75, 90, 95, 99, 99.9];

describe('bucket layout', () => {
  it('tiles [0, 2^32) with contiguous buckets no wider than 1/128 of their lower bound', () => {
    let expectedLower = 0;
    for (let i = 0; i < LatencyHistogram.BUCKET_COUNT; i++) {
      const lower = bucketLowerBound(i);
      const width = bucketWidth(i);
      expect(lower).toBe(expectedLower);
      expect(bucketIndex(lower)).toBe(i);
      expect(bucketIndex(lower + width - 1)).toBe(i);
      if (lower >= 256) expect(width / lower).toBeLessThanOrEqual(1 / 128);
      else expect(width).toBe(1);
      expectedLower = lower + width;
    }
    expect(expectedLower).toBe(2 ** 32);
    expect(bucketIndex(MAX_TRACKABLE_MICROS)).toBe(LatencyHistogram.BUCKET_COUNT - 1);
  });

  it('normalizes to whole microseconds in range', () => {
    expect(normalizeMicros(-5)).toBe(0);
    expect(normalizeMicros(Number.NaN)).toBe(0);
    expect(normalizeMicros(12.4)).toBe(12);
    expect(normalizeMicros(12.6)).toBe(13);
    expect(normalizeMicros(1e12)).toBe(MAX_TRACKABLE_MICROS);
    expect(normalizeMicros(Number.POSITIVE_INFINITY)).toBe(MAX_TRACKABLE_MICROS);
  });
});

describe('LatencyHistogram', () => {
  it('reports percentiles within 1/256 of the exact nearest-rank value; min, max, count and mean exactly', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 10_000_000 }), { minLength: 1, maxLength: 3000 }), (values) => {
        const histogram = new LatencyHistogram();
        for (const v of values) histogram.record(v);
        const sorted = [...values].sort((a, b) => a - b);
        for (const p of PERCENTILES) {
          const exact = exactPercentile(sorted, p);
          expect(Math.abs(histogram.percentile(p) - exact)).toBeLessThanOrEqual(exact * LatencyHistogram.RELATIVE_ERROR);
        }
        expect(histogram.percentile(0)).toBe(sorted[0]);
        expect(histogram.percentile(100)).toBe(sorted[sorted.length - 1]);
        expect(histogram.count).toBe(values.length);
        expect(histogram.max).toBe(sorted[sorted.length - 1]);
        expect(histogram.min).toBe(sorted[0]);
        const mean = values.reduce((a, b) => a + b, 0) / values.length;
        expect(histogram.mean).toBeCloseTo(mean, 6);
      }),
      { numRuns: 300 },
    );
  });

  it('is exact for values below 256 µs', () => {
    const histogram = new LatencyHistogram();
    for (let v = 0; v < 256; v++) histogram.record(v);
    expect(histogram.percentile(50)).toBe(127);
    expect(histogram.percentile(99)).toBe(253);
  });

  it('merging equals recording everything into one histogram', () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(fc.integer({ min: 0, max: 2 ** 33 }), { maxLength: 200 }), { minLength: 1, maxLength: 8 }),
        (parts) => {
          const merged = new LatencyHistogram();
          const single = new LatencyHistogram();
          for (const part of parts) {
            const h = new LatencyHistogram();
            for (const v of part) {
              h.record(v);
              single.record(v);
            }
            merged.merge(h);
          }
          expect(merged.count).toBe(single.count);
          expect(merged.sum).toBe(single.sum);
          expect(merged.max).toBe(single.max);
          expect(merged.min).toBe(single.min);
          for (const p of PERCENTILES) expect(merged.percentile(p)).toBe(single.percentile(p));
        },
      ),
    );
  });

  it('reset empties it completely', () => {
    const histogram = new LatencyHistogram();
    for (const v of [5, 50_000, 3_000_000]) histogram.record(v);
    histogram.reset();
    expect(histogram.count).toBe(0);
    expect(histogram.percentile(50)).toBeNaN();
    expect(histogram.mean).toBe(0);
    histogram.record(1000);
    expect(histogram.percentile(1)).toBe(1000);
    expect(histogram.percentile(99)).toBe(1000);
    const other = new LatencyHistogram();
    other.merge(histogram);
    expect(other.count).toBe(1);
    expect(other.percentile(50)).toBe(1000);
  });

  it('clamps values beyond the trackable range', () => {
    const histogram = new LatencyHistogram();
    histogram.record(1e13);
    expect(histogram.max).toBe(MAX_TRACKABLE_MICROS);
    expect(histogram.percentile(50)).toBe(MAX_TRACKABLE_MICROS);
  });
});
