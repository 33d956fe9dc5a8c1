import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { jsonEqual, JsonPathError, lookupJson, parseJsonPath, type PathSegment } from './json-path.js';

describe('JSON paths', () => {
  const document = { status: 'up', items: [{ id: 7 }, { id: 8, tags: ['a'] }], 'key.with.dots': { x: null }, nested: { deep: { value: [1, 2] } } };

  it.each<[string, PathSegment[], unknown]>([
    ['$', [], document],
    ['$.status', ['status'], 'up'],
    ['status', ['status'], 'up'],
    ['items[0].id', ['items', 0, 'id'], 7],
    ['$.items[-1].tags[0]', ['items', -1, 'tags', 0], 'a'],
    [`$['key.with.dots'].x`, ['key.with.dots', 'x'], null],
    ['$["nested"]["deep"].value', ['nested', 'deep', 'value'], [1, 2]],
    [`$['it\\'s']`, ["it's"], undefined],
  ])('%s', (path, segments, value) => {
    expect(parseJsonPath(path)).toEqual(segments);
    const found = lookupJson(document, segments);
    if (value === undefined) expect(found).toEqual({ found: false });
    else expect(found).toEqual({ found: true, value });
  });

  it.each(['', '$.', '$..a', 'a[', 'a[x]', "a['open", '$a', 'a]'])('refuses %j', (path) => {
    expect(() => parseJsonPath(path)).toThrow(JsonPathError);
  });

  it('finds nothing through the wrong kind of value', () => {
    expect(lookupJson(document, ['status', 0])).toEqual({ found: false });
    expect(lookupJson(document, ['items', 'id'])).toEqual({ found: false });
    expect(lookupJson(document, ['items', 5])).toEqual({ found: false });
    expect(lookupJson(document, ['toString'])).toEqual({ found: false });
  });

  it('compares JSON deeply, ignoring key order', () => {
    expect(jsonEqual({ a: 1, b: [1, { c: 2 }] }, { b: [1, { c: 2 }], a: 1 })).toBe(true);
    expect(jsonEqual({ a: 1 }, { a: 1, b: undefined })).toBe(false);
    expect(jsonEqual([1, 2], [2, 1])).toBe(false);
    expect(jsonEqual([], {})).toBe(false);
    expect(jsonEqual(null, {})).toBe(false);
    expect(jsonEqual('1', 1)).toBe(false);
  });

  it('equality agrees with canonical JSON text on any JSON values', () => {
    const canonical = (value: unknown): string =>
      JSON.stringify(value, (_, item: unknown) =>
        item !== null && typeof item === 'object' && !Array.isArray(item) ? Object.fromEntries(Object.entries(item).sort(([a], [b]) => (a < b ? -1 : 1))) : item,
      );
    fc.assert(
      fc.property(fc.jsonValue(), fc.jsonValue(), (left, right) => {
        expect(jsonEqual(left, structuredClone(left))).toBe(true);
        expect(jsonEqual(left, right)).toBe(canonical(left) === canonical(right));
      }),
    );
  });
});
