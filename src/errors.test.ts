import { describe, expect, it } from 'vitest';
import { redactSecrets } from './errors.js';

describe('redactSecrets', () => {
  it('hides the password of every URL in a text, and keeps the rest', () => {
    expect(redactSecrets('connect postgres://app:s3cret@db:5432/shop failed')).toBe('connect postgres://app:***@db:5432/shop failed');
    expect(redactSecrets('a postgresql+ssl://u:p@h and b redis://:pw@cache')).toBe('a postgresql+ssl://u:***@h and b redis://:***@cache');
    expect(redactSecrets('no password in postgres://app@db/shop')).toBe('no password in postgres://app@db/shop');
  });

  it('hides API tokens, whole or cut off, and leaves look-alike words', () => {
    const token = `pmt_${'A1b2-_'.repeat(7)}x`;
    expect(redactSecrets(`Authorization: Bearer ${token} was refused`)).toBe('Authorization: Bearer pmt_*** was refused');
    expect(redactSecrets(`token=${token.slice(0, 20)}`)).toBe('token=pmt_***');
    expect(redactSecrets('promote_rollout_phase and pmt_short stay')).toBe('promote_rollout_phase and pmt_short stay');
    expect(redactSecrets(`cookie promote_session=pms_${'Q'.repeat(43)}`)).toBe('cookie promote_session=pms_***');
  });

  it('still hides a password when a long run of letters is glued to the scheme', () => {
    const glued = `${'x'.repeat(100)}postgres://app:s3cret@db/shop`;
    expect(redactSecrets(glued)).toBe(`${'x'.repeat(100)}postgres://app:***@db/shop`);
  });

  // Found by test/fuzz/spec.fuzz.test.ts: a 100 kB app name took 12 s here (every start rescanned the
  // run); 1 MB would take about 20 minutes. The bound is generous; linear time takes milliseconds.
  it('answers a megabyte of letters without rescanning it from every start', { timeout: 10_000 }, () => {
    const long = `${'y'.repeat(1_000_000)}:`;
    expect(redactSecrets(long)).toBe(long);
  });
});
