import { describe, expect, it } from 'vitest';
import { seededRandom } from '../system/seeded-random.js';
import { parseRetryAfter, redactWebhook, retryDelay } from './send.js';

describe('retry timing', () => {
  it('doubles from the base with jitter between half and all of it, up to the cap', () => {
    const random = seededRandom(7);
    const delays = [1, 2, 3, 4, 5, 6, 12].map((attempt) => retryDelay(attempt, random, { baseMs: 1000, maxMs: 30_000 }));
    const bounds = [1000, 2000, 4000, 8000, 16_000, 30_000, 30_000];
    delays.forEach((delay, index) => {
      expect(delay).toBeGreaterThanOrEqual(bounds[index]! / 2);
      expect(delay).toBeLessThanOrEqual(bounds[index]!);
    });
    // seeded: the same seed gives the same schedule
    const again = seededRandom(7);
    expect([1, 2, 3, 4, 5, 6, 12].map((attempt) => retryDelay(attempt, again, { baseMs: 1000, maxMs: 30_000 }))).toEqual(delays);
  });

  it('reads Retry-After as seconds or a date, at most an hour', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('3', now)).toBe(3000);
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:10 GMT', now)).toBe(10_000);
    expect(parseRetryAfter('86400', now)).toBe(3_600_000);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
  });
});

describe('what a failure may say', () => {
  it('never the secret or the URL, which can itself be a credential', () => {
    const webhook = { name: 'slack', url: 'https://hooks.slack.com/services/T0/B0/XXXXSECRET', secret: 'whsec_dG9wc2VjcmV0' };
    const text = redactWebhook(webhook, `fetch https://hooks.slack.com/services/T0/B0/XXXXSECRET failed, key whsec_dG9wc2VjcmV0, db postgres://u:pw@h/db`);
    expect(text).toBe('fetch <webhook slack> failed, key ***, db postgres://u:***@h/db');
  });
});
