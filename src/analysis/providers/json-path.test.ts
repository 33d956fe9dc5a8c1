import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatJsonPath, JsonPathError, numbersAtPath, parseJsonPath, toNumber, type PathSegment } from './json-path.js';

const at = (document: unknown, path: string) => numbersAtPath(document, parseJsonPath(path));

describe('numbers at a JSON path', () => {
  const document = {
    data: { errorRate: 0.02, text: '0.5', 'p99.ms': 120, list: [3, 1, '2'], empty: [], mixed: [1, 'n/a'], flag: true, none: null, nested: { a: 1, b: 2 } },
    series: [{ value: 7 }, { value: 9 }],
  };

  it.each<[string, { value?: number; samples?: number[] }]>([
    ['$.data.errorRate', { value: 0.02 }],
    ["$['data']['p99.ms']", { value: 120 }],
    ['$.data.text', { value: 0.5 }],
    ['$.series[1].value', { value: 9 }],
    ['$.series[-2].value', { value: 7 }],
    ['$.data.list', { samples: [3, 1, 2], value: 2 }],
    ['$.data.empty', { samples: [] }],
  ])('%s', (path, expected) => {
    expect(at(document, path)).toEqual({ ok: true, ...expected });
  });

  it.each<[string, string]>([
    ['$.data.flag', '$.data.flag is the boolean true; expected a number, a numeric string or an array of numbers'],
    ['$.data.none', '$.data.none is null;'],
    ['$.data.nested', 'is an object with keys a, b;'],
    ['$.data.mixed', '$.data.mixed[1] is the string "n/a"; expected an array of numbers'],
    ['$.data.error_rate', 'nothing at $.data.error_rate: $.data has no key "error_rate"; it is an object with keys errorRate, text, p99.ms'],
    ['$.series[5].value', 'nothing at $.series[5].value: $.series has no index 5; it is an array of 2'],
    ['$.data.errorRate.x', '$.data.errorRate has no key "x"; it is the number 0.02'],
  ])('%s is explained', (path, problem) => {
    const found = at(document, path);
    expect(found.ok).toBe(false);
    expect(!found.ok && found.problem).toContain(problem);
  });

  it('says where a path stops parsing', () => {
    expect(() => parseJsonPath('$.data..x')).toThrow(JsonPathError);
    expect(() => parseJsonPath('$.data..x')).toThrow(/expected a key name at character 8/);
    expect(() => parseJsonPath("$['open")).toThrow(/unterminated .* character 2/);
    expect(() => parseJsonPath('$.a[x]')).toThrow(/character 4/);
  });

  it('reads numeric strings, nothing looser', () => {
    expect(toNumber('1e3')).toBe(1000);
    expect(toNumber(' -0.5 ')).toBe(-0.5);
    for (const text of ['', '0x10', 'NaN', 'Infinity', '1,5', '12abc', '.']) expect(toNumber(text)).toBeUndefined();
    expect(toNumber(true)).toBeUndefined();
    expect(toNumber(null)).toBeUndefined();
  });

  const segment: fc.Arbitrary<PathSegment> = fc.oneof(fc.string(), fc.integer({ min: -5, max: 20 }));

  it('any path written by formatJsonPath parses back to its segments', () => {
    fc.assert(
      fc.property(fc.array(segment, { maxLength: 6 }), (segments) => {
        expect(parseJsonPath(formatJsonPath(segments))).toEqual(segments);
      }),
    );
  });

  it('finds the number placed at any path, and the samples of any array of numbers', () => {
    const place = (segments: PathSegment[], leaf: unknown): unknown =>
      segments.reduceRight<unknown>((inner, key) => {
        if (typeof key === 'string') return { other: 1, [key]: inner };
        const size = key < 0 ? -key : key + 1;
        const array: unknown[] = Array.from({ length: size }, () => 'filler');
        array[key < 0 ? 0 : key] = inner;
        return array;
      }, leaf);
    const numbers = fc.double({ noNaN: true, noDefaultInfinity: true });
    fc.assert(
      fc.property(fc.array(segment, { maxLength: 5 }), fc.oneof(numbers, fc.array(numbers, { minLength: 1 })), (segments, leaf) => {
        const found = numbersAtPath(JSON.parse(JSON.stringify(place(segments, leaf))), segments);
        const expected = JSON.parse(JSON.stringify(leaf)) as number | number[];
        if (Array.isArray(expected)) {
          expect(found).toMatchObject({ ok: true, samples: expected });
        } else {
          expect(found).toEqual({ ok: true, value: expected });
        }
      }),
    );
  });

  it('any text either parses or is refused with a JsonPathError, and any document gives a number or a reason', () => {
    fc.assert(
      fc.property(fc.string(), fc.jsonValue(), (path, document) => {
        let segments: PathSegment[];
        try {
          segments = parseJsonPath(path);
        } catch (error) {
          expect(error).toBeInstanceOf(JsonPathError);
          return;
        }
        const found = numbersAtPath(document, segments);
        if (found.ok) expect(found.value === undefined || Number.isFinite(found.value)).toBe(true);
        else expect(found.problem.length).toBeGreaterThan(0);
      }),
    );
  });
});
