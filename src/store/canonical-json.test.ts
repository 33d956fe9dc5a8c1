import fc, { type JsonValue } from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from './canonical-json.js';

/** The same value with its object keys in another order at every depth, chosen by `seed`. */
function reorderKeys(value: JsonValue, seed: number): JsonValue {
  let state = seed >>> 0 || 1;
  const next = (): number => {
    // xorshift32: a small deterministic shuffle source
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 0x1_0000_0000;
  };
  const walk = (node: JsonValue): JsonValue => {
    if (Array.isArray(node)) return node.map(walk);
    if (node === null || typeof node !== 'object') return node;
    const entries = Object.entries(node);
    for (let i = entries.length - 1; i > 0; i--) {
      const j = Math.floor(next() * (i + 1));
      [entries[i], entries[j]] = [entries[j]!, entries[i]!];
    }
    // fromEntries defines own properties, so a "__proto__" key stays a key
    return Object.fromEntries(entries.map(([key, child]) => [key, walk(child as JsonValue)]));
  };
  return walk(value);
}

function withoutNegativeZero(value: JsonValue): JsonValue {
  if (Object.is(value, -0)) return 0;
  if (Array.isArray(value)) return value.map(withoutNegativeZero);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value).map(([key, child]) => [key, withoutNegativeZero(child as JsonValue)]));
}

describe('canonicalJson', () => {
  it('sorts keys by UTF-16 code units at every depth, without whitespace', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: true, y: null }], c: 'x' } })).toBe('{"a":{"c":"x","d":[3,{"y":null,"z":true}]},"b":1}');
    // integer-like keys: JS enumerates them first in numeric order, canonical order is by code unit
    expect(canonicalJson({ 10: 'ten', 9: 'nine', b: 'b', A: 'A' })).toBe('{"10":"ten","9":"nine","A":"A","b":"b"}');
    // code units, not locale nor code points: "😀" is U+D83D U+DE00 in UTF-16, so it sorts before "Ａ" (U+FF21)
    expect(canonicalJson({ é: 1, z: 2, '😀': 3, 'Ａ': 4 })).toBe('{"z":2,"é":1,"😀":3,"Ａ":4}');
  });

  it('drops undefined fields, writes undefined array slots and holes as null, honours toJSON', () => {
    // eslint-disable-next-line no-sparse-arrays
    expect(canonicalJson({ a: undefined, b: [undefined, , 1], c: new Date('2024-01-02T03:04:05.678Z') })).toBe('{"b":[null,null,1],"c":"2024-01-02T03:04:05.678Z"}');
  });

  it('refuses values JSON would mangle, naming where they are', () => {
    expect(() => canonicalJson({ a: [1, Number.NaN] })).toThrow('cannot encode as canonical JSON: $.a[1] NaN is not a finite number');
    expect(() => canonicalJson({ 'odd key': Infinity })).toThrow('$["odd key"] Infinity is not a finite number');
    expect(() => canonicalJson({ n: 1n })).toThrow('$.n is a bigint');
    expect(() => canonicalJson({ f: () => 1 })).toThrow('$.f is a function');
    expect(() => canonicalJson({ m: new Map() })).toThrow('$.m is a Map');
    const cyclic: Record<string, unknown> = {};
    cyclic.self = { back: cyclic };
    expect(() => canonicalJson(cyclic)).toThrow('$.self.back refers back to itself');
    expect(() => canonicalJson(undefined)).toThrow('$ is undefined');
  });

  it('does not mistake a shared (non-cyclic) object for a cycle', () => {
    const shared = { x: 1 };
    expect(canonicalJson({ a: shared, b: shared })).toBe('{"a":{"x":1},"b":{"x":1}}');
  });

  it('property: the order keys were written in never changes the output', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.integer(), (value, seed) => {
        expect(canonicalJson(reorderKeys(value, seed))).toBe(canonicalJson(value));
      }),
      { numRuns: 500 },
    );
  });

  it('writes -0 as 0, as JSON does (the one number JSON cannot tell apart)', () => {
    expect(canonicalJson({ a: -0 })).toBe('{"a":0}');
  });

  it('property: parsing the output gives back the value', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        expect(JSON.parse(canonicalJson(value))).toStrictEqual(withoutNegativeZero(value));
      }),
      { numRuns: 500 },
    );
  });

  it('property: the output is its own canonical form and agrees with JSON.stringify on sorted input', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const text = canonicalJson(value);
        expect(canonicalJson(JSON.parse(text))).toBe(text);
        expect(text.length).toBe(JSON.stringify(JSON.parse(text)).length);
      }),
      { numRuns: 300 },
    );
  });
});
