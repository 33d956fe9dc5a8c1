/**
 * The `jsonPath` of an http provider: which number of a JSON answer is the measurement. The path
 * language is the one `expectJson` in test steps already speaks (src/engine/tests/json-path.ts: `$`,
 * `.name`, `['name']`, `[index]`, `[-1]`), so users learn one; this file adds what a measurement
 * needs: the value found becomes a number or samples, and anything else is explained.
 */
import { JsonPathError, lookupJson, parseJsonPath, type PathSegment } from '../../system/json-path.js';

export { JsonPathError, parseJsonPath, type PathSegment };

/** What a path found: `value` (a number), or `samples` (an array of numbers) with their mean as `value`. */
export type NumbersAtPath = { ok: true; value?: number; samples?: number[] } | { ok: false; problem: string };

/** The path as written back from its segments: `$.data['a.b'][0]`. */
export function formatJsonPath(segments: readonly PathSegment[]): string {
  return (
    '$' +
    segments
      .map((segment) => {
        if (typeof segment === 'number') return `[${segment}]`;
        return /^[A-Za-z_$][\w$-]*$/.test(segment) ? `.${segment}` : `['${segment.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}']`;
      })
      .join('')
  );
}

/** The number (or numbers) at the path, or a sentence saying what is there instead. */
export function numbersAtPath(document: unknown, segments: readonly PathSegment[]): NumbersAtPath {
  const found = lookupJson(document, segments);
  if (!found.found) return { ok: false, problem: explainMissing(document, segments) };
  const at = formatJsonPath(segments);
  const value = found.value;
  const single = toNumber(value);
  if (single !== undefined) return { ok: true, value: single };
  if (Array.isArray(value)) {
    const samples: number[] = [];
    for (const [index, item] of value.entries()) {
      const number = toNumber(item);
      if (number === undefined) return { ok: false, problem: `${at}[${index}] is ${describeJson(item)}; expected an array of numbers` };
      samples.push(number);
    }
    return samples.length === 0 ? { ok: true, samples } : { ok: true, samples, value: mean(samples) };
  }
  return { ok: false, problem: `${at} is ${describeJson(value)}; expected a number, a numeric string or an array of numbers` };
}

export function mean(values: readonly number[]): number {
  let sum = 0;
  for (const value of values) sum += value;
  return sum / values.length;
}

const numericText = /^\s*[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?\s*$/;

/** A finite number, or a string holding one in decimal notation ("0.25", "1e3"); nothing else. */
export function toNumber(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value === 'string' && numericText.test(value)) {
    const number = Number(value);
    return Number.isFinite(number) ? number : undefined;
  }
  return undefined;
}

/** "the string \"n/a\"", "null", "an object with keys a, b": what a person needs to fix the path. */
export function describeJson(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return `an array of ${value.length}`;
  switch (typeof value) {
    case 'string':
      return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
    case 'number':
      return `the number ${value}`;
    case 'boolean':
      return `the boolean ${value}`;
    case 'object': {
      const keys = Object.keys(value);
      if (keys.length === 0) return 'an empty object';
      const shown = keys.slice(0, 8).join(', ');
      return `an object with keys ${shown}${keys.length > 8 ? `, … (${keys.length} in all)` : ''}`;
    }
    default:
      return typeof value;
  }
}

/** Where the path stops matching the document, and what is there. */
function explainMissing(document: unknown, segments: readonly PathSegment[]): string {
  for (let length = 1; length <= segments.length; length++) {
    if (lookupJson(document, segments.slice(0, length)).found) continue;
    const parent = lookupJson(document, segments.slice(0, length - 1));
    const parentValue = parent.found ? parent.value : undefined;
    const segment = segments[length - 1]!;
    const where = formatJsonPath(segments.slice(0, length - 1));
    const step = typeof segment === 'number' ? `no index ${segment}` : `no key ${JSON.stringify(segment)}`;
    return `nothing at ${formatJsonPath(segments)}: ${where} has ${step}; it is ${describeJson(parentValue)}`;
  }
  return `nothing at ${formatJsonPath(segments)}`;
}
