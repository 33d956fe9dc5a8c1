import { formatPath, type PathSegment } from '../spec/problems.js';

/**
 * The JSON paths at which two documents differ, as promote.yaml problems name them
 * (`strategies[0].parameters.rollout`), sorted. A path is reported at the highest level where the two
 * stop being comparable: a field present on one side only, a value of another type, or two different
 * scalars; under it nothing more is listed. Arrays are compared position by position, so an element
 * inserted at the front reports every position after it, which is what changed for a reader of the
 * ruleset. `''` means the whole document (one side is not an object, or absent).
 */
export function changedPaths(before: unknown, after: unknown): string[] {
  return changedPathSegments(before, after).map(formatPath).sort();
}

/** The same paths as {@link changedPaths}, as segments, in document order. */
export function changedPathSegments(before: unknown, after: unknown): PathSegment[][] {
  const paths: PathSegment[][] = [];
  collect(before, after, [], paths);
  return paths;
}

function collect(before: unknown, after: unknown, path: PathSegment[], into: PathSegment[][]): void {
  if (Object.is(before, after)) return;
  if (Array.isArray(before) && Array.isArray(after)) {
    const length = Math.max(before.length, after.length);
    for (let index = 0; index < length; index++) {
      if (index >= before.length || index >= after.length) into.push([...path, index]);
      else collect(before[index], after[index], [...path, index], into);
    }
    return;
  }
  if (isPlainObject(before) && isPlainObject(after)) {
    const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
    for (const key of keys) {
      const inBefore = Object.hasOwn(before, key) && before[key] !== undefined;
      const inAfter = Object.hasOwn(after, key) && after[key] !== undefined;
      if (!inBefore && !inAfter) continue;
      if (inBefore !== inAfter) into.push([...path, key]);
      else collect(before[key], after[key], [...path, key], into);
    }
    return;
  }
  into.push(path);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
