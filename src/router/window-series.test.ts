import { describe, expect, it } from 'vitest';
import { RollingWindow, statusClassIndex } from './window.js';

describe('RollingWindow.series', () => {
  it('buckets the last complete seconds, oldest first, with requests, errors and percentiles per bucket', () => {
    const clock = { ms: 1_700_000_000_000 };
    const window = new RollingWindow({ seconds: 60, now: () => clock.ms });
    const startSecond = Math.floor(clock.ms / 1000);
    // second 0: 10 fast OKs; second 1: 4 OKs and 1 5xx and 1 router error, slow; second 2: nothing; second 3: the current, partial one
    for (let i = 0; i < 10; i++) window.record(statusClassIndex(200), 1_000);
    clock.ms += 1000;
    for (let i = 0; i < 4; i++) window.record(statusClassIndex(200), 50_000);
    window.record(statusClassIndex(503), 50_000);
    window.record(statusClassIndex('error'), 50_000);
    clock.ms += 2000;
    window.record(statusClassIndex(200), 1_000);

    const perSecond = window.series(3, 1);
    expect(perSecond.map((point) => [point.t / 1000 - startSecond, point.requests, point.errors])).toEqual([
      [0, 10, 0],
      [1, 6, 2],
      [2, 0, 0],
    ]);
    expect(perSecond[0]!.p99Micros).toBeGreaterThanOrEqual(990);
    expect(perSecond[0]!.p99Micros).toBeLessThan(1_100);
    expect(perSecond[1]!.p50Micros).toBeGreaterThanOrEqual(49_000);
    expect(perSecond[2]).toMatchObject({ p50Micros: null, p99Micros: null, seconds: 1 });

    // buckets end at the current second; a step that does not divide the span makes the first bucket shorter
    const twos = window.series(3, 2);
    expect(twos.map((point) => [point.t / 1000 - startSecond, point.seconds, point.requests, point.errors])).toEqual([
      [0, 1, 10, 0],
      [1, 2, 6, 2],
    ]);
    expect(() => window.series(61, 1)).toThrow(RangeError);
    expect(() => window.series(10, 0)).toThrow(RangeError);
  });
});
