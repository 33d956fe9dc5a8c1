import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PromoteError } from '../errors.js';
import { checkDuration, durationSchema, formatDuration, parseDuration } from './duration.js';

describe('parseDuration', () => {
  it.each([
    ['500ms', 500],
    ['30s', 30_000],
    ['5m', 300_000],
    ['1h30m', 5_400_000],
    ['2d', 172_800_000],
    ['1d2h3m4s5ms', 93_784_005],
    ['0s', 0],
    ['90m', 5_400_000],
  ])('reads %s as %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it('rejects a bare number and says which unit to write', () => {
    expect(() => parseDuration('30')).toThrow(PromoteError);
    expect(() => parseDuration('30')).toThrow('write a unit: 30s');
  });

  it.each(['', '5min', '1m1h', '1m1m', '1.5s', '-5s', '30 s', 's', 'ms', '5ms3s'])('rejects %j', (text) => {
    const result = checkDuration(text);
    expect(result.ok).toBe(false);
  });

  it('names the examples when the format is wrong', () => {
    expect(checkDuration('5min')).toEqual({ ok: false, problem: 'expected a duration like 500ms, 30s, 5m, 1h30m or 2d, got "5min"' });
  });

  it('round-trips every whole number of milliseconds through formatDuration', () => {
    fc.assert(
      fc.property(fc.nat({ max: 400 * 86_400_000 }), (ms) => {
        expect(parseDuration(formatDuration(ms))).toBe(ms);
      }),
    );
  });

  it('formats to the shortest compound text', () => {
    expect(formatDuration(5_400_000)).toBe('1h30m');
    expect(formatDuration(1_500)).toBe('1s500ms');
    expect(formatDuration(0)).toBe('0s');
    expect(() => formatDuration(-1)).toThrow(PromoteError);
    expect(() => formatDuration(1.5)).toThrow(PromoteError);
  });
});

describe('durationSchema', () => {
  it('turns text into milliseconds', () => {
    expect(durationSchema.parse('1h30m')).toBe(5_400_000);
  });

  it('rejects bad text with the parser message', () => {
    const result = durationSchema.safeParse('30');
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.message).toContain('write a unit: 30s');
  });

  it('rejects numbers', () => {
    expect(durationSchema.safeParse(30).success).toBe(false);
  });
});
