/**
 * Constraints compiled to checks. Each operator's parsing (numbers, dates, versions, regexes, CIDR
 * ranges) happens once, when the ruleset is compiled; a check only reads the context. A constraint
 * that cannot work (an unknown operator, a regex RE2 rejects, a value that does not parse) never
 * matches, inverted or not: a broken rule must not turn a flag on for everyone.
 */
import { RE2JS } from 're2js';
import semver from 'semver';
import { contextValue } from './context-value.js';
import { parseIp, parseIpRange, rangeContains, type IpRange } from './ip.js';
import type { FlagContext } from './model.js';

export type ContextCheck = (context: FlagContext) => boolean;

export const never: ContextCheck = () => false;

/** Regexes compiled once per ruleset, shared by every constraint (and segment) that uses them. */
export type RegexCache = Map<string, RE2JS | null>;

export function compileRegex(pattern: string, caseInsensitive: boolean, cache: RegexCache): RE2JS | null {
  const key = `${caseInsensitive ? 'i' : '-'}${pattern}`;
  let compiled = cache.get(key);
  if (compiled === undefined) {
    try {
      compiled = RE2JS.compile(pattern, caseInsensitive ? RE2JS.CASE_INSENSITIVE : 0);
    } catch {
      compiled = null;
    }
    cache.set(key, compiled);
  }
  return compiled;
}

/** Unleash drops empty values and trims the others before comparing. */
function cleanValues(values: unknown): string[] {
  if (!Array.isArray(values)) return [];
  const cleaned: string[] = [];
  for (const value of values) {
    if (typeof value === 'string' && value !== '') cleaned.push(value.trim());
    else if (typeof value === 'number') cleaned.push(String(value));
  }
  return cleaned;
}

function singleValue(constraint: Record<string, unknown>): string | undefined {
  const value = constraint.value;
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return String(value);
  return undefined;
}

/** A number as Unleash reads one: blank text is not zero. */
function toNumber(text: string | undefined): number {
  if (text === undefined || text.trim() === '') return NaN;
  return Number(text);
}

/**
 * Parsed context versions. An app has few versions live at once and parsing one costs more than the
 * rest of an evaluation, so they are remembered; the bound keeps a stream of junk from growing it.
 */
const parsedVersions = new Map<string, semver.SemVer | null>();
const PARSED_VERSIONS_LIMIT = 4096;

/** A version Unleash accepts from a context: strict semver, no leading "v". */
export function parseVersion(text: string | undefined): semver.SemVer | null {
  if (text === undefined || text.startsWith('v')) return null;
  let parsed = parsedVersions.get(text);
  if (parsed === undefined) {
    parsed = semver.parse(text);
    if (parsedVersions.size >= PARSED_VERSIONS_LIMIT) parsedVersions.clear();
    parsedVersions.set(text, parsed);
  }
  return parsed;
}

function currentTime(context: FlagContext): number {
  const given = context.currentTime as unknown;
  if (given === undefined || given === null || given === '') return Date.now();
  if (given instanceof Date) return given.getTime();
  return typeof given === 'string' ? Date.parse(given) : NaN;
}

function compileOperator(constraint: Record<string, unknown>, regexes: RegexCache): ContextCheck | undefined {
  const field = typeof constraint.contextName === 'string' ? constraint.contextName : undefined;
  if (field === undefined) return undefined;
  const caseInsensitive = constraint.caseInsensitive === true;
  const operator = constraint.operator;
  switch (operator) {
    case 'IN':
    case 'NOT_IN': {
      const values = new Set(cleanValues(constraint.values));
      const wantIn = operator === 'IN';
      return (context) => {
        const actual = contextValue(context, field);
        return (actual !== undefined && values.has(actual)) === wantIn;
      };
    }
    case 'STR_CONTAINS':
    case 'STR_STARTS_WITH':
    case 'STR_ENDS_WITH': {
      const values = cleanValues(constraint.values).map((value) => (caseInsensitive ? value.toLowerCase() : value));
      const test =
        operator === 'STR_CONTAINS'
          ? (actual: string, value: string) => actual.includes(value)
          : operator === 'STR_STARTS_WITH'
            ? (actual: string, value: string) => actual.startsWith(value)
            : (actual: string, value: string) => actual.endsWith(value);
      return (context) => {
        let actual = contextValue(context, field);
        if (actual === undefined) return false;
        if (caseInsensitive) actual = actual.toLowerCase();
        for (const value of values) if (test(actual, value)) return true;
        return false;
      };
    }
    case 'NUM_EQ':
    case 'NUM_GT':
    case 'NUM_GTE':
    case 'NUM_LT':
    case 'NUM_LTE': {
      const expected = toNumber(singleValue(constraint));
      if (Number.isNaN(expected)) return undefined;
      const compare = numberComparisons[operator];
      return (context) => {
        const actual = toNumber(contextValue(context, field));
        return !Number.isNaN(actual) && compare(actual, expected);
      };
    }
    case 'DATE_AFTER':
    case 'DATE_BEFORE': {
      const text = singleValue(constraint);
      const expected = text === undefined ? NaN : Date.parse(text);
      if (Number.isNaN(expected)) return undefined;
      // Unleash compares the time of evaluation (context.currentTime or now), whatever contextName says.
      return operator === 'DATE_AFTER' ? (context) => currentTime(context) > expected : (context) => currentTime(context) < expected;
    }
    case 'SEMVER_EQ':
    case 'SEMVER_GT':
    case 'SEMVER_GTE':
    case 'SEMVER_LT':
    case 'SEMVER_LTE': {
      const expected = semver.parse(singleValue(constraint) ?? null);
      if (expected === null) return undefined;
      const accepts = semverOutcomes[operator];
      return (context) => {
        const actual = parseVersion(contextValue(context, field));
        return actual !== null && accepts(actual.compare(expected));
      };
    }
    case 'REGEX': {
      const pattern = singleValue(constraint);
      const regex = pattern === undefined ? null : compileRegex(pattern, caseInsensitive, regexes);
      if (regex === null) return undefined;
      return (context) => {
        const actual = contextValue(context, field);
        return actual !== undefined && regex.test(actual);
      };
    }
    case 'IN_CIDR': {
      const ranges = cleanValues(constraint.values)
        .map(parseIpRange)
        .filter((range): range is IpRange => range !== undefined);
      return (context) => {
        const text = contextValue(context, field);
        const address = text === undefined ? undefined : parseIp(text);
        if (address === undefined) return false;
        for (const range of ranges) if (rangeContains(range, address)) return true;
        return false;
      };
    }
    default:
      return undefined;
  }
}

const numberComparisons: Record<'NUM_EQ' | 'NUM_GT' | 'NUM_GTE' | 'NUM_LT' | 'NUM_LTE', (actual: number, expected: number) => boolean> = {
  NUM_EQ: (actual, expected) => actual === expected,
  NUM_GT: (actual, expected) => actual > expected,
  NUM_GTE: (actual, expected) => actual >= expected,
  NUM_LT: (actual, expected) => actual < expected,
  NUM_LTE: (actual, expected) => actual <= expected,
};

const semverOutcomes: Record<'SEMVER_EQ' | 'SEMVER_GT' | 'SEMVER_GTE' | 'SEMVER_LT' | 'SEMVER_LTE', (comparison: number) => boolean> = {
  SEMVER_EQ: (comparison) => comparison === 0,
  SEMVER_GT: (comparison) => comparison > 0,
  SEMVER_GTE: (comparison) => comparison >= 0,
  SEMVER_LT: (comparison) => comparison < 0,
  SEMVER_LTE: (comparison) => comparison <= 0,
};

/** One constraint as a check; anything that is not a usable constraint never matches. */
export function compileConstraint(constraint: unknown, regexes: RegexCache): ContextCheck {
  if (constraint === null || typeof constraint !== 'object') return never;
  const record = constraint as Record<string, unknown>;
  const check = compileOperator(record, regexes);
  if (check === undefined) return never;
  return record.inverted === true ? (context) => !check(context) : check;
}
