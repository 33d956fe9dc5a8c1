/** What a spec problem looks like, and how values are shown in messages without leaking secrets. */
import { isAbsolute, relative } from 'node:path';
import { redactSecrets } from '../errors.js';

export interface SpecProblem {
  /** The file as the caller named it. */
  file: string;
  /** 1-based. */
  line: number;
  /** 1-based. */
  column: number;
  /** Where in the document, like `environments[1].target.command`; `""` for the whole file. */
  path: string;
  message: string;
}

export type PathSegment = string | number;

/** A problem found before positions are known: it points at a path in the parsed document. */
export interface PathProblem {
  path: readonly PathSegment[];
  message: string;
  /** `key` points at a mapping key (an unknown field) instead of its value. */
  pointAt?: 'key' | 'value';
}

/** `environments[1].target.command`; keys that are not plain words are quoted: `env["a.b"]`. */
export function formatPath(path: readonly PathSegment[]): string {
  let text = '';
  for (const segment of path) {
    if (typeof segment === 'number') text += `[${segment}]`;
    else if (/^[A-Za-z_$][\w$-]*$/.test(segment)) text += text === '' ? segment : `.${segment}`;
    else text += `[${JSON.stringify(segment)}]`;
  }
  return text;
}

/**
 * `promote.yaml:12:7 environments[1].target: message`. A file under the working directory is shown
 * relative to it, as compilers do, so the position is short and still clickable in a terminal.
 */
export function formatProblem(problem: SpecProblem): string {
  const where = `${displayPath(problem.file)}:${problem.line}:${problem.column}`;
  return problem.path === '' ? `${where} ${problem.message}` : `${where} ${problem.path}: ${problem.message}`;
}

function displayPath(file: string): string {
  if (!isAbsolute(file)) return file;
  const fromHere = relative(process.cwd(), file);
  return fromHere === '' || fromHere.startsWith('..') || isAbsolute(fromHere) ? file : fromHere;
}

/** Sorted by position, each problem once. */
export function sortProblems(problems: readonly SpecProblem[]): SpecProblem[] {
  const seen = new Set<string>();
  const unique = problems.filter((problem) => {
    const key = `${problem.line}:${problem.column}:${problem.path}:${problem.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  return unique.sort((a, b) => a.line - b.line || a.column - b.column || a.path.localeCompare(b.path));
}

const maxShownLength = 60;
const secretKeys = /^(database|password|bearerToken|token|secret|apiKey|headers|env)$/i;

/** True when the value at this path must never be shown, e.g. a database URL with its password. */
export function isSecretPath(path: readonly PathSegment[]): boolean {
  if (path.some((segment) => typeof segment === 'string' && secretKeys.test(segment))) return true;
  // a webhook's URL is its credential (Slack's carry the key in the path)
  return path.includes('webhooks') && path.at(-1) === 'url';
}

/**
 * The value as it may appear in a message: scalars quoted, long text cut, credentials in URLs
 * masked; undefined when the path holds a secret and nothing about the value may be shown.
 */
export function describeValue(value: unknown, path: readonly PathSegment[]): string | undefined {
  if (value === undefined) return 'nothing';
  if (value === null) return 'an empty value';
  if (Array.isArray(value)) return value.length === 0 ? 'an empty list' : 'a list';
  if (typeof value === 'object') return 'an object';
  if (isSecretPath(path)) return undefined;
  if (typeof value === 'string') return quote(value);
  return typeof value === 'number' || typeof value === 'boolean' ? String(value) : typeof value;
}

/** A string for a message: credentials masked, at most 60 characters. */
export function quote(text: string): string {
  const safe = redactSecrets(text);
  return JSON.stringify(safe.length > maxShownLength ? `${safe.slice(0, maxShownLength)}…` : safe);
}
