import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { evaluateCondition, parseCondition } from './condition.js';

describe('parseCondition', () => {
  it('parses one comparison', () => {
    expect(parseCondition('value < 0.01')).toEqual({ kind: 'compare', variable: 'value', operator: '<', number: 0.01 });
  });

  it('turns "number op variable" around', () => {
    expect(parseCondition('0.95 <= value')).toEqual({ kind: 'compare', variable: 'value', operator: '>=', number: 0.95 });
  });

  it('binds "and" tighter than "or"', () => {
    const condition = parseCondition('value < 1 or value > 5 and value < 6');
    expect(condition.kind).toBe('or');
    expect(evaluateCondition(condition, { value: 5.5 })).toBe(true);
    expect(evaluateCondition(condition, { value: 7 })).toBe(false);
    expect(evaluateCondition(condition, { value: 0 })).toBe(true);
  });

  it('honours parentheses', () => {
    const condition = parseCondition('(value < 1 or value > 5) and value != 10');
    expect(evaluateCondition(condition, { value: 10 })).toBe(false);
    expect(evaluateCondition(condition, { value: 6 })).toBe(true);
  });

  it.each([
    ['', 'expected a comparison like "value < 0.01" but found the end'],
    ['value', 'expected one of < <= > >= == !='],
    ['value < ', 'a comparison needs a variable and a number'],
    ['value < 1 and', 'expected a comparison like "value < 0.01" but found the end'],
    ['value < 1 xor value > 2', 'expected "and", "or" or the end'],
    ['valeu < 1', 'unknown variable "valeu"; use value (did you mean "value"?)'],
    ['value < 1; rm -rf /', 'unexpected ";'],
    ['(value < 1', 'expected ")"'],
    ['value < value', 'a comparison needs a variable and a number'],
  ])('rejects %j', (text, message) => {
    expect(() => parseCondition(text)).toThrow(message);
  });

  it('agrees with JavaScript comparison for any number', () => {
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.double({ min: -1e6, max: 1e6, noNaN: true }), (value, limit) => {
        const text = `value >= ${limit}`;
        expect(evaluateCondition(parseCondition(text), { value })).toBe(value >= limit);
      }),
    );
  });
});
