/** How judges write numbers into reasons. */
import { describe, expect, it } from 'vitest';
import { finiteOrNull, formatNumber, formatP, limitSign, percent, signed, signedPercent, signedPoints } from './format.js';

describe('judge number formatting', () => {
  it.each([
    [212, '212'],
    [212.03918474, '212'],
    [0.08345, '0.08345'],
    [0.083456, '0.08346'],
    [123456, '123456'],
    [1234.5678, '1235'],
    [-3.25, '-3.25'],
    [Infinity, '∞'],
    [-Infinity, '-∞'],
  ])('formatNumber(%s) is %s', (value, text) => {
    expect(formatNumber(value)).toBe(text);
  });

  it('writes changes, shares, points and p-values as a person reads them', () => {
    expect(signed(212)).toBe('+212');
    expect(signed(-3.5)).toBe('-3.5');
    expect(signed(0)).toBe('0');
    expect(percent(0.07)).toBe('7%');
    expect(percent(0.98)).toBe('98%');
    expect(signedPercent(0.212)).toBe('+21.2%');
    expect(signedPercent(-0.05)).toBe('-5%');
    expect(signedPercent(Infinity)).toBe('+∞%');
    expect(signedPoints(0.19)).toBe('+19 points');
    expect(formatP(0.031234)).toBe('0.0312');
    expect(formatP(3.1234e-7)).toBe('3.1e-7');
    expect(formatP(0)).toBe('0');
    expect(formatP(1)).toBe('1');
    expect(limitSign('either')).toBe('±');
  });

  it('stores infinities as null', () => {
    expect(finiteOrNull(Infinity)).toBeNull();
    expect(finiteOrNull(-2)).toBe(-2);
  });
});
