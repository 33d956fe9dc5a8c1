import { describe, expect, it } from 'vitest';
import { closestMatch, didYouMean, editDistance } from './suggest.js';

describe('suggestions', () => {
  it('counts a swap of neighbouring letters as one edit', () => {
    expect(editDistance('setwieght', 'setweight')).toBe(1);
    expect(editDistance('comand', 'command')).toBe(1);
    expect(editDistance('', 'abc')).toBe(3);
  });

  it('suggests only plausible typos', () => {
    expect(closestMatch('setWieght', ['migrate', 'setWeight', 'pause'])).toBe('setWeight');
    expect(closestMatch('SetWeight', ['setWeight'])).toBe('setWeight');
    expect(closestMatch('colour', ['version', 'app', 'environments'])).toBeUndefined();
    expect(closestMatch('app', ['app'])).toBeUndefined();
  });

  it('formats the hint for a message', () => {
    expect(didYouMean('canery', ['canary', 'blueGreen'])).toBe(' (did you mean "canary"?)');
    expect(didYouMean('zzz', ['canary'])).toBe('');
  });
});
