import fc from 'fast-check';
import { isDeepStrictEqual } from 'node:util';
import { describe, expect, it } from 'vitest';
import type { PathSegment } from '../spec/problems.js';
import { changedPaths, changedPathSegments } from './store-diff.js';

/** Copies `from`'s value at `path` into `target` (removing the field when `from` lacks it). */
function copyAt(target: unknown, from: unknown, path: readonly PathSegment[]): unknown {
  if (path.length === 0) return structuredClone(from);
  const [head, ...rest] = path as [PathSegment, ...PathSegment[]];
  const source = (from as Record<PathSegment, unknown> | undefined)?.[head];
  const copy: Record<PathSegment, unknown> = Array.isArray(target) ? [...(target as unknown[])] as never : { ...(target as object) };
  const next = rest.length === 0 ? (source === undefined ? undefined : structuredClone(source)) : copyAt(copy[head], source, rest);
  if (next === undefined && !Array.isArray(copy)) delete copy[head];
  else copy[head] = next;
  if (Array.isArray(copy) && Array.isArray(from)) copy.length = (from as unknown[]).length;
  return copy;
}

const json = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small' }, fc.constantFrom(null, true, false, 0, 1, 'a', 'b'), tie('array'), tie('object')),
  array: fc.array(tie('value'), { maxLength: 3 }),
  object: fc.dictionary(fc.constantFrom('enabled', 'name', 'rollout', 'a.b', 'x'), tie('value'), { maxKeys: 4, noNullPrototype: true }),
})).value;

describe('changedPaths', () => {
  it('names each changed field, added or removed element, and type change', () => {
    const before = { name: 'checkout', enabled: false, strategies: [{ name: 'flexibleRollout', parameters: { rollout: 10, groupId: 'checkout' } }] };
    const after = { name: 'checkout', enabled: true, description: 'new', strategies: [{ name: 'flexibleRollout', parameters: { rollout: 50, groupId: 'checkout' } }, { name: 'default' }] };
    expect(changedPaths(before, after)).toEqual(['description', 'enabled', 'strategies[0].parameters.rollout', 'strategies[1]']);
    expect(changedPaths(null, { name: 'a' })).toEqual(['']);
    expect(changedPaths({ 'a.b': 1 }, { 'a.b': 2 })).toEqual(['["a.b"]']);
    expect(changedPaths({ a: [1] }, { a: { 0: 1 } })).toEqual(['a']);
    expect(changedPaths({ a: undefined }, {})).toEqual([]);
  });

  it('is empty exactly when the documents are equal', () => {
    fc.assert(
      fc.property(json, json, (before, after) => {
        expect(changedPaths(before, before)).toEqual([]);
        expect(changedPaths(before, after).length === 0).toBe(isDeepStrictEqual(before, after));
      }),
    );
  });

  it('is complete and exact: copying the new value at every reported path turns before into after', () => {
    fc.assert(
      fc.property(json, json, (before, after) => {
        const paths = changedPathSegments(before, after);
        let patched: unknown = structuredClone(before);
        for (const path of paths) patched = copyAt(patched, after, path);
        expect(patched).toEqual(after);
        // and no reported path is a prefix of another: each change is named once, at its top
        const texts = paths.map((path) => JSON.stringify(path).slice(0, -1));
        for (const [index, text] of texts.entries()) {
          expect(texts.some((other, otherIndex) => otherIndex !== index && other.startsWith(`${text},`))).toBe(false);
        }
      }),
    );
  });
});
