import { PromoteError } from '../errors.js';

export type JsonPrimitive = string | number | boolean | null;
export type JsonValue = JsonPrimitive | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/**
 * One text per JSON value, whatever order its object keys were written in: keys sorted by UTF-16 code
 * units at every depth (as in RFC 8785), no whitespace, numbers and strings as `JSON.stringify` writes
 * them. The audit trail hashes this text, so it must never change for the same value.
 *
 * Like `JSON.stringify`: object fields whose value is `undefined` are left out, `undefined` in an array
 * becomes `null`, and `toJSON()` is honoured (a `Date` becomes its ISO string). Unlike it, anything
 * that would lose information silently is refused with the path to it: NaN and infinities, bigint,
 * functions, symbols, Map and Set, and cycles.
 */
export function canonicalJson(value: unknown): string {
  return encode(applyToJson(value), '$', []);
}

/** `resolved` has had its `toJSON()` applied already (once, as JSON.stringify does). */
function encode(resolved: unknown, path: string, ancestors: object[]): string {
  switch (typeof resolved) {
    case 'string':
      return JSON.stringify(resolved);
    case 'boolean':
      return resolved ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(resolved)) throw refuse(path, `${String(resolved)} is not a finite number`);
      return JSON.stringify(resolved);
    case 'bigint':
      throw refuse(path, 'is a bigint; convert it to a number or a string');
    case 'function':
    case 'symbol':
      throw refuse(path, `is a ${typeof resolved}`);
    case 'undefined':
      // only reachable at the top level: fields are dropped and array slots become null below
      throw refuse(path, 'is undefined');
    case 'object':
      break;
  }
  if (resolved === null) return 'null';
  if (resolved instanceof Map || resolved instanceof Set) {
    throw refuse(path, `is a ${resolved instanceof Map ? 'Map' : 'Set'}; convert it to ${resolved instanceof Map ? 'an object' : 'an array'}`);
  }
  if (ancestors.includes(resolved)) throw refuse(path, 'refers back to itself (a cycle)');
  ancestors.push(resolved);
  try {
    if (Array.isArray(resolved)) {
      const array = resolved as unknown[];
      const items: string[] = [];
      // an index loop, not map(): holes in a sparse array must become null too
      for (let index = 0; index < array.length; index++) {
        const element = applyToJson(array[index]);
        items.push(element === undefined ? 'null' : encode(element, `${path}[${index}]`, ancestors));
      }
      return `[${items.join(',')}]`;
    }
    const record = resolved as Record<string, unknown>;
    const parts: string[] = [];
    for (const key of Object.keys(record).sort(compareCodeUnits)) {
      const field = applyToJson(record[key]);
      if (field === undefined) continue;
      parts.push(`${JSON.stringify(key)}:${encode(field, `${path}${pathSegment(key)}`, ancestors)}`);
    }
    return `{${parts.join(',')}}`;
  } finally {
    ancestors.pop();
  }
}

function applyToJson(value: unknown): unknown {
  if (value !== null && typeof value === 'object' && typeof (value as { toJSON?: unknown }).toJSON === 'function') {
    return (value as { toJSON: () => unknown }).toJSON();
  }
  return value;
}

/** Array.prototype.sort's default order, spelled out: UTF-16 code units, not locale. */
function compareCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function pathSegment(key: string): string {
  return /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
}

function refuse(path: string, problem: string): PromoteError {
  return new PromoteError(`cannot encode as canonical JSON: ${path} ${problem}`);
}
