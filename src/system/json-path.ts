/**
 * The small path language of `expectJson`: `$.status`, `status`, `items[0].id`, `items[-1]`,
 * `$['key.with.dots']`, `$` for the whole document. No wildcards or filters: each path names one value.
 */

export type PathSegment = string | number;

export class JsonPathError extends Error {
  constructor(path: string, problem: string) {
    super(`invalid JSON path ${JSON.stringify(path)}: ${problem}`);
    this.name = 'JsonPathError';
  }
}

export function parseJsonPath(path: string): PathSegment[] {
  const segments: PathSegment[] = [];
  let index = 0;
  if (path.startsWith('$')) {
    index = 1;
  } else if (path !== '' && path[0] !== '[' && path[0] !== '.') {
    index = readName(path, 0, segments);
  } else if (path === '') {
    throw new JsonPathError(path, 'the path is empty; write $ for the whole document');
  }
  while (index < path.length) {
    const char = path[index];
    if (char === '.') {
      index = readName(path, index + 1, segments);
    } else if (char === '[') {
      index = readBracket(path, index, segments);
    } else {
      throw new JsonPathError(path, `expected "." or "[" at character ${index + 1}, found ${JSON.stringify(char)}`);
    }
  }
  return segments;
}

function readName(path: string, start: number, segments: PathSegment[]): number {
  let end = start;
  while (end < path.length && path[end] !== '.' && path[end] !== '[' && path[end] !== ']') end += 1;
  if (end === start) throw new JsonPathError(path, `expected a key name at character ${start + 1}`);
  if (path[end] === ']') throw new JsonPathError(path, `unexpected "]" at character ${end + 1}; write a key holding "]" as ['key']`);
  segments.push(path.slice(start, end));
  return end;
}

function readBracket(path: string, start: number, segments: PathSegment[]): number {
  const quote = path[start + 1];
  if (quote === '"' || quote === "'") {
    let key = '';
    let index = start + 2;
    while (index < path.length && path[index] !== quote) {
      if (path[index] === '\\' && index + 1 < path.length) index += 1;
      key += path[index];
      index += 1;
    }
    if (path[index] !== quote || path[index + 1] !== ']') throw new JsonPathError(path, `unterminated [${quote}...${quote}] at character ${start + 1}`);
    segments.push(key);
    return index + 2;
  }
  const match = /^\[(-?\d+)\]/.exec(path.slice(start));
  if (match === null) throw new JsonPathError(path, `expected [number] or ['key'] at character ${start + 1}`);
  segments.push(Number(match[1]));
  return start + match[0].length;
}

/** The value a path names, or found: false when something on the way is missing. */
export function lookupJson(document: unknown, segments: readonly PathSegment[]): { found: true; value: unknown } | { found: false } {
  let current: unknown = document;
  for (const segment of segments) {
    if (typeof segment === 'number') {
      if (!Array.isArray(current)) return { found: false };
      const index = segment < 0 ? current.length + segment : segment;
      if (index < 0 || index >= current.length) return { found: false };
      current = current[index] as unknown;
    } else {
      if (typeof current !== 'object' || current === null || Array.isArray(current) || !Object.hasOwn(current, segment)) return { found: false };
      current = (current as Record<string, unknown>)[segment];
    }
  }
  return { found: true, value: current };
}

/** Deep equality of JSON values: key order does not matter, array order does. */
export function jsonEqual(left: unknown, right: unknown): boolean {
  if (left === right) return true;
  if (typeof left !== 'object' || typeof right !== 'object' || left === null || right === null) return false;
  if (Array.isArray(left) || Array.isArray(right)) {
    if (!Array.isArray(left) || !Array.isArray(right) || left.length !== right.length) return false;
    return left.every((item, index) => jsonEqual(item, right[index]));
  }
  const leftKeys = Object.keys(left);
  const rightRecord = right as Record<string, unknown>;
  if (leftKeys.length !== Object.keys(right).length) return false;
  return leftKeys.every((key) => Object.hasOwn(right, key) && jsonEqual((left as Record<string, unknown>)[key], rightRecord[key]));
}
