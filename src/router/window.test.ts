import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LatencyHistogram } from './histogram.js';
import { seededRandom } from '../system/seeded-random.js';
import { RollingWindow, STATUS_CLASSES, statusClassIndex, type RollingWindowOptions } from './window.js';

function windowWithClock(options: Omit<RollingWindowOptions, 'now'> = {}) {
  const clock = { ms: 1_700_000_000_000 };
  const window = new RollingWindow({ ...options, now: () => clock.ms });
  return { clock, window };
}

const OK = statusClassIndex(200);

describe('statusClassIndex', () => {
  it('maps statuses to classes, and anything that is not an HTTP status to error', () => {
    const cases: [number | 'error', string][] = [
      [100, '1xx'],
      [101, '1xx'],
      [199, '1xx'],
      [200, '2xx'],
      [204, '2xx'],
      [304, '3xx'],
      [404, '4xx'],
      [499, '4xx'],
      [500, '5xx'],
      [503, '5xx'],
      [599, '5xx'],
      ['error', 'error'],
      [600, 'error'],
      [99, 'error'],
      [0, 'error'],
      [Number.NaN, 'error'],
    ];
    for (const [status, expected] of cases) expect(STATUS_CLASSES[statusClassIndex(status)]).toBe(expected);
  });
});

describe('RollingWindow time handling', () => {
  it('covers exactly the last N complete seconds and never the current one', () => {
    const { clock, window } = windowWithClock({ seconds: 10 });
    const base = 1_700_000_000; // an epoch second
    // second base+i gets i+1 requests of latency 1000*(i+1) µs
    for (let i = 0; i < 10; i++) {
      clock.ms = (base + i) * 1000 + 999;
      for (let k = 0; k <= i; k++) window.record(OK, 1000 * (i + 1));
    }
    // still inside second base+9: it is partial, so the last 3 complete seconds are base+6..base+8
    const partial = window.aggregate(3);
    expect(partial.from).toBe((base + 6) * 1000);
    expect(partial.to).toBe((base + 9) * 1000);
    expect(partial.requests).toBe(7 + 8 + 9);
    expect(new Set(partial.samples)).toEqual(new Set([7000, 8000, 9000]));

    clock.ms = (base + 10) * 1000; // the first instant of base+10: base+9 is complete now
    const last3 = window.aggregate(3);
    expect(last3.from).toBe((base + 7) * 1000);
    expect(last3.to).toBe((base + 10) * 1000);
    expect(last3.requests).toBe(8 + 9 + 10);
    expect(last3.byClass['2xx']).toBe(27);
    expect(last3.latencyMicros?.max).toBe(10_000);

    const one = window.aggregate(1);
    expect(one.requests).toBe(10);
    expect(one.samples).toEqual(new Array<number>(10).fill(10_000));

    const all = window.aggregate(10);
    expect(all.requests).toBe(55);
    // samples come oldest second first
    expect(all.samples[0]).toBe(1000);
    expect(all.samples[all.samples.length - 1]).toBe(10_000);

    // a request in the current second shows up only once that second is over
    window.record(OK, 5);
    expect(window.aggregate(1).requests).toBe(10);
    clock.ms += 1000;
    expect(window.aggregate(1).requests).toBe(1);
    expect(window.aggregate(1).latencyMicros?.p50).toBe(5);
  });

  it('expires old seconds: a gap leaves an empty window, and a reused slot starts from zero', () => {
    const { clock, window } = windowWithClock({ seconds: 5 });
    const base = 1_800_000_000;
    clock.ms = base * 1000;
    for (let i = 0; i < 100; i++) window.record(OK, 100);
    clock.ms = (base + 1) * 1000;
    expect(window.aggregate(5).requests).toBe(100);
    clock.ms = (base + 5) * 1000 + 500;
    expect(window.aggregate(5).requests).toBe(100); // base is the oldest of the last 5 complete seconds
    clock.ms = (base + 6) * 1000 + 500;
    const expired = window.aggregate(5);
    expect(expired.requests).toBe(0);
    expect(expired.latencyMicros).toBeNull();
    expect(expired.samples).toEqual([]);

    // base+6 lands on the same ring slot as base (6 slots: 5 complete + the current one)
    window.record(statusClassIndex(503), 2000);
    clock.ms = (base + 7) * 1000;
    const reused = window.aggregate(5);
    expect(reused.requests).toBe(1);
    expect(reused.byClass['2xx']).toBe(0);
    expect(reused.byClass['5xx']).toBe(1);
    expect(reused.samples).toEqual([2000]);
    expect(reused.latencyMicros?.max).toBe(2000);
  });

  it('wraps around the ring many times and keeps only what is in the window', () => {
    const { clock, window } = windowWithClock({ seconds: 7 });
    const base = 1_750_000_000;
    for (let s = 0; s < 100; s++) {
      clock.ms = (base + s) * 1000 + 250;
      for (let k = 0; k < s % 5; k++) window.record(OK, s);
    }
    clock.ms = (base + 100) * 1000;
    for (let n = 1; n <= 7; n++) {
      let expected = 0;
      for (let s = 100 - n; s < 100; s++) expected += s % 5;
      const aggregate = window.aggregate(n);
      expect(aggregate.requests).toBe(expected);
      expect(Math.min(...aggregate.samples)).toBeGreaterThanOrEqual(100 - n);
    }
  });

  it('skips idle time without per-second work', () => {
    const { clock, window } = windowWithClock({ seconds: 300 });
    const started = performance.now();
    for (let i = 0; i < 10_000; i++) {
      clock.ms += 1e9; // about 11.5 days between requests
      window.record(OK, 10);
    }
    expect(performance.now() - started).toBeLessThan(2000);
    clock.ms += 1000;
    expect(window.aggregate(300).requests).toBe(1);
  });

  it('records into the newest second when the clock steps back', () => {
    const { clock, window } = windowWithClock({ seconds: 10 });
    clock.ms = 2_000_000_000_500;
    window.record(OK, 1);
    clock.ms -= 5000;
    window.record(OK, 2);
    clock.ms = 2_000_000_001_000;
    const aggregate = window.aggregate(10);
    expect(aggregate.requests).toBe(2);
    expect(aggregate.from).toBe(2_000_000_001_000 - 10_000);
  });

  it('rejects window lengths it cannot answer', () => {
    const { window } = windowWithClock({ seconds: 60 });
    expect(() => window.aggregate(0)).toThrow(RangeError);
    expect(() => window.aggregate(1.5)).toThrow(RangeError);
    expect(() => window.aggregate(61)).toThrow(RangeError);
    expect(window.aggregate(60).seconds).toBe(60);
    expect(() => new RollingWindow({ seconds: 0 })).toThrow(RangeError);
    expect(() => new RollingWindow({ samplesPerSecond: -1 })).toThrow(RangeError);
  });
});

describe('RollingWindow latency', () => {
  it('merged percentiles across seconds match the exact percentiles of all recorded values', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ micros: fc.integer({ min: 1, max: 10_000_000 }), second: fc.integer({ min: 0, max: 29 }) }), {
          minLength: 1,
          maxLength: 2000,
        }),
        (events) => {
          const { clock, window } = windowWithClock({ seconds: 30, samplesPerSecond: 5000 });
          const base = 1_700_000_100;
          const ordered = [...events].sort((a, b) => a.second - b.second);
          for (const { micros, second } of ordered) {
            clock.ms = (base + second) * 1000 + 1;
            window.record(OK, micros);
          }
          clock.ms = (base + 30) * 1000;
          const { latencyMicros, samples, requests } = window.aggregate(30);
          const sorted = events.map((e) => e.micros).sort((a, b) => a - b);
          const n = sorted.length;
          expect(requests).toBe(n);
          expect(latencyMicros).not.toBeNull();
          for (const [p, got] of [
            [50, latencyMicros!.p50],
            [90, latencyMicros!.p90],
            [95, latencyMicros!.p95],
            [99, latencyMicros!.p99],
          ] as const) {
            const exact = sorted[Math.min(n, Math.max(1, Math.ceil((p * n) / 100))) - 1]!;
            expect(Math.abs(got - exact)).toBeLessThanOrEqual(exact * LatencyHistogram.RELATIVE_ERROR);
            expect(Math.abs(got - exact) / exact).toBeLessThan(0.01);
          }
          expect(latencyMicros!.max).toBe(sorted[n - 1]);
          expect(latencyMicros!.mean).toBeCloseTo(sorted.reduce((a, b) => a + b, 0) / n, 6);
          // below capacity every value is kept
          expect([...samples].sort((a, b) => a - b)).toEqual(sorted);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('seededRandom', () => {
  it('is deterministic per seed and uniform in [0, 1)', () => {
    const a = seededRandom(7);
    const b = seededRandom(7);
    const c = seededRandom(8);
    const first = Array.from({ length: 5 }, () => a());
    expect(Array.from({ length: 5 }, () => b())).toEqual(first);
    expect(Array.from({ length: 5 }, () => c())).not.toEqual(first);
    const buckets = new Array<number>(20).fill(0);
    const random = seededRandom(123);
    let outside = 0;
    for (let i = 0; i < 200_000; i++) {
      const x = random();
      if (!(x >= 0 && x < 1)) outside++;
      else buckets[Math.floor(x * 20)]! += 1;
    }
    expect(outside).toBe(0);
    for (const count of buckets) expect(Math.abs(count - 10_000)).toBeLessThan(500); // sd about 97
  });
});

describe('RollingWindow reservoir', () => {
  function oneSecond(values: number[], options: Omit<RollingWindowOptions, 'now' | 'seconds'>): number[] {
    const { clock, window } = windowWithClock({ seconds: 1, ...options });
    for (const v of values) window.record(OK, v);
    clock.ms += 1000;
    return window.aggregate(1).samples;
  }
  const range = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

  it('keeps every value while a second has fewer than its capacity', () => {
    expect(oneSecond(range(7), { samplesPerSecond: 10 })).toEqual(range(7));
    expect(oneSecond(range(10), { samplesPerSecond: 10 })).toEqual(range(10));
  });

  it('keeps at most capacity values per second, each one of the recorded values, none twice', () => {
    const samples = oneSecond(range(5000), { samplesPerSecond: 100, random: seededRandom(1) });
    expect(samples).toHaveLength(100);
    expect(new Set(samples).size).toBe(100);
    for (const v of samples) expect(v >= 1 && v <= 5000).toBe(true);

    const { clock, window } = windowWithClock({ seconds: 5, samplesPerSecond: 50 });
    for (let s = 0; s < 5; s++) {
      for (let i = 0; i < 70; i++) window.record(OK, 10 + s);
      clock.ms += 1000;
    }
    const merged = window.aggregate(5);
    expect(merged.requests).toBe(350);
    expect(merged.samples).toHaveLength(250);
  });

  it('follows Algorithm R with the injected random', () => {
    // random near 1: no later value is ever chosen, the first `capacity` stay
    expect(oneSecond(range(50), { samplesPerSecond: 5, random: () => 0.999999 })).toEqual([1, 2, 3, 4, 5]);
    // random 0: every later value replaces slot 0
    expect(oneSecond(range(50), { samplesPerSecond: 5, random: () => 0 })).toEqual([50, 2, 3, 4, 5]);
    // no reservoir at all
    expect(oneSecond(range(50), { samplesPerSecond: 0 })).toEqual([]);
  });

  it.each([
    ['an injected PRNG', seededRandom(42)],
    ['the default source', undefined],
  ])('samples uniformly with %s: every tenth of the stream is equally represented', (_name, random) => {
    const trials = 1000;
    const capacity = 100;
    const streamLength = 1000;
    const perDecile = new Array<number>(10).fill(0);
    for (let t = 0; t < trials; t++) {
      for (const v of oneSecond(range(streamLength), { samplesPerSecond: capacity, random })) perDecile[Math.floor((v - 1) / 100)]! += 1;
    }
    const expected = (trials * capacity) / 10; // 10 000 per decile
    // binomial sd is about 95; allow 5 sd so a correct sampler never fails while a biased one (e.g. keeping
    // the first values, or favouring the last) is far outside
    for (const count of perDecile) expect(Math.abs(count - expected)).toBeLessThan(500);
    expect(perDecile.reduce((a, b) => a + b, 0)).toBe(trials * capacity);
    if (random !== undefined) {
      // deterministic with the seeded PRNG, so a tight bound cannot flake
      const chiSquare = perDecile.reduce((sum, count) => sum + (count - expected) ** 2 / expected, 0);
      expect(chiSquare).toBeLessThan(27.9); // p = 0.001 with 9 degrees of freedom
    }
  });
});
