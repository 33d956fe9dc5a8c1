import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FailureLimiter } from './auth-failures.js';

describe('FailureLimiter', () => {
  it('refuses an address after maxFailures in a window, until the window ends, and no other address', () => {
    const limiter = new FailureLimiter({ maxFailures: 3, windowMs: 1000 });
    for (let i = 0; i < 2; i += 1) limiter.fail('10.0.0.1', 100);
    expect(limiter.retryAfter('10.0.0.1', 100)).toBe(0);
    limiter.fail('10.0.0.1', 200);
    expect(limiter.retryAfter('10.0.0.1', 300)).toBe(800);
    expect(limiter.retryAfter('10.0.0.2', 300)).toBe(0);
    expect(limiter.retryAfter('10.0.0.1', 1100)).toBe(0);
    // a fresh window after the old one ended
    limiter.fail('10.0.0.1', 1200);
    expect(limiter.retryAfter('10.0.0.1', 1200)).toBe(0);
  });

  it('stays bounded, forgetting the oldest address first (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 50 }), { maxLength: 300 }), (addresses) => {
        const limiter = new FailureLimiter({ maxFailures: 2, windowMs: 10_000, maxAddresses: 8 });
        addresses.forEach((address, index) => limiter.fail(`a${address}`, index));
        expect(limiter.size).toBeLessThanOrEqual(8);
        const last = addresses.at(-1);
        // two failures in a row: nothing came between to evict it, so the newest address is refused
        if (last !== undefined && addresses.at(-2) === last) expect(limiter.retryAfter(`a${last}`, addresses.length)).toBeGreaterThan(0);
      }),
      { seed: 3, numRuns: 300 },
    );
  });
});
