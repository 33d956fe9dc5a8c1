import { describe, expect, it } from 'vitest';
import { clampBatchSize, nextBatchSize, shrinkBatchSize } from './adaptive.js';
import { backoffDelayMs, isRetryableBatchError } from './retry.js';
import { overLimit, type SignalReading } from './signals.js';
import { waitForRoom } from './throttle.js';

const limits = { targetMs: 100, min: 100, max: 50_000 };

describe('batch sizing', () => {
  it('moves toward the target duration, at most doubling or halving per batch', () => {
    expect(nextBatchSize(1000, 50, limits)).toBe(2000);
    expect(nextBatchSize(1000, 1, limits)).toBe(2000);
    expect(nextBatchSize(1000, 125, limits)).toBe(800);
    expect(nextBatchSize(1000, 10_000, limits)).toBe(500);
    expect(nextBatchSize(1000, 100, limits)).toBe(1000);
  });

  it('stays within the bounds', () => {
    expect(nextBatchSize(40_000, 10, limits)).toBe(50_000);
    expect(nextBatchSize(150, 1000, limits)).toBe(100);
    expect(shrinkBatchSize(150, limits)).toBe(100);
    expect(clampBatchSize(0, { targetMs: 100, min: 1, max: 10 })).toBe(1);
  });
});

describe('retries', () => {
  it('retries lock and statement timeouts, deadlocks and serialization failures, nothing else', () => {
    for (const code of ['55P03', '57014', '40P01', '40001']) expect(isRetryableBatchError(Object.assign(new Error('x'), { code }))).toBe(true);
    expect(isRetryableBatchError(Object.assign(new Error('x'), { code: '23505' }))).toBe(false);
    expect(isRetryableBatchError(new Error('connection terminated'))).toBe(false);
    expect(isRetryableBatchError(undefined)).toBe(false);
  });

  it('backs off exponentially with full jitter, capped', () => {
    expect(backoffDelayMs(1, 50, 5000, () => 0.999)).toBe(49);
    expect(backoffDelayMs(3, 50, 5000, () => 0.5)).toBe(100);
    expect(backoffDelayMs(20, 50, 5000, () => 0.5)).toBe(2500);
    expect(backoffDelayMs(4, 50, 5000, () => 0)).toBe(0);
  });
});

describe('throttling signals', () => {
  const signalLimits = { maxLockWaits: 1, maxReplicationLagMs: 5000, maxAppP99Ms: 500 };
  const calm: SignalReading = { lockWaits: 0, replicationLagMs: 0, appP99Ms: undefined };

  it('names the first signal over its limit', () => {
    expect(overLimit(calm, signalLimits)).toBeUndefined();
    expect(overLimit({ ...calm, lockWaits: 1, appP99Ms: 500 }, signalLimits)).toBeUndefined();
    expect(overLimit({ ...calm, lockWaits: 2 }, signalLimits)?.reason).toBe('lockWaits');
    expect(overLimit({ ...calm, replicationLagMs: 6000 }, signalLimits)?.detail).toBe('replication lag 6000 ms (limit 5000 ms)');
    expect(overLimit({ ...calm, appP99Ms: 900 }, signalLimits)).toEqual({ reason: 'appP99', detail: 'app p99 900 ms (limit 500 ms)' });
  });

  it('waits until the signals recover, and no longer than the cap', async () => {
    let clock = 0;
    const now = () => clock;
    const readings = [900, 900, 100];
    const recovered = await waitForRoom(
      () => {
        clock += 10;
        return Promise.resolve({ ...calm, appP99Ms: readings.shift() ?? 100 });
      },
      signalLimits,
      { maxWaitMs: 1000, pollMs: 0, now },
    );
    expect(recovered).toMatchObject({ reason: 'appP99', waitedMs: 30 });

    clock = 0;
    const capped = await waitForRoom(
      () => {
        clock += 100;
        return Promise.resolve({ ...calm, lockWaits: 5 });
      },
      signalLimits,
      { maxWaitMs: 250, pollMs: 0, now },
    );
    expect(capped).toMatchObject({ reason: 'lockWaits', waitedMs: 300 });
    expect(await waitForRoom(() => Promise.resolve(calm), signalLimits, { maxWaitMs: 250, pollMs: 0 })).toEqual({ waitedMs: 0 });
  });
});
