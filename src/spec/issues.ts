/**
 * Turns zod issues into messages that say what is expected in plain words ("expected a number from 0
 * to 100, got 120") instead of zod's type-system wording, and never show a secret value.
 */
import { z } from 'zod';
import { describeValue, type PathProblem, type PathSegment } from './problems.js';
import { expectations } from './schema-meta.js';
import { closestMatch, didYouMean } from './suggest.js';

type RawIssue = z.core.$ZodRawIssue;
type Issue = z.core.$ZodIssue;
type AnySchema = z.core.$ZodType;

/**
 * Validates `data` and returns every problem with its path. Zod's own messages are replaced through
 * an error map, which sees the schema that raised each issue and can describe what it expects.
 */
export function validateWithSchema<T extends AnySchema>(
  schema: T,
  data: unknown,
): { ok: true; value: z.output<T> } | { ok: false; problems: PathProblem[] } {
  const knownFields = new Map<string, string[]>();
  const result = z.safeParse(schema, data, {
    error: (issue) => {
      if (issue.code === 'unrecognized_keys' && issue.inst instanceof z.ZodObject) {
        knownFields.set(pathKey(issue.path ?? []), Object.keys(issue.inst.shape));
      }
      return messageFor(issue);
    },
  });
  if (result.success) return { ok: true, value: result.data };
  const context = { data, knownFields };
  const issues = withoutTypoEchoes(withoutRedundantIssues(result.error.issues), knownFields, data);
  return { ok: false, problems: issues.flatMap((issue) => toPathProblems(issue, [], context)) };
}

/**
 * A misspelt required field is one mistake, not two: when `comand` is unknown and suggests `command`,
 * the "missing required field command" beside it is dropped.
 */
function withoutTypoEchoes(issues: readonly Issue[], knownFields: Map<string, string[]>, data: unknown): Issue[] {
  const suggested = new Set<string>();
  for (const issue of issues) {
    if (issue.code !== 'unrecognized_keys') continue;
    const known = knownFields.get(pathKey(issue.path)) ?? [];
    for (const key of issue.keys) {
      const match = closestMatch(key, known);
      if (match !== undefined) suggested.add(pathKey([...issue.path, match]));
    }
  }
  const isMissing = (issue: Issue) => valueAt(data, issue.path.map((segment) => (typeof segment === 'number' ? segment : String(segment)))) === undefined;
  return issues.filter((issue) => !(suggested.has(pathKey(issue.path)) && isMissing(issue)));
}

/** "Out of range" already says enough; "and too many decimals" on the same value is noise. */
function withoutRedundantIssues(issues: readonly Issue[]): Issue[] {
  const outOfRange = new Set(issues.filter((issue) => issue.code === 'too_big' || issue.code === 'too_small').map((issue) => pathKey(issue.path)));
  return issues.filter((issue) => issue.code !== 'not_multiple_of' || !outOfRange.has(pathKey(issue.path)));
}

function pathKey(path: readonly PropertyKey[]): string {
  return JSON.stringify(path.map((segment) => (typeof segment === 'number' ? segment : String(segment))));
}

interface IssueContext {
  data: unknown;
  /** Field names of each strict object that reported unknown keys, by path. */
  knownFields: Map<string, string[]>;
}

function toPathProblems(issue: Issue, prefix: readonly PathSegment[], context: IssueContext): PathProblem[] {
  const path = [...prefix, ...issue.path.map((segment) => (typeof segment === 'number' ? segment : String(segment)))];
  switch (issue.code) {
    case 'unrecognized_keys': {
      const known = context.knownFields.get(pathKey(path)) ?? [];
      return issue.keys.map((key) => ({
        path: [...path, key],
        message: `unknown field "${key}"${unknownFieldAdvice(key, known)}`,
        pointAt: 'key' as const,
      }));
    }
    case 'invalid_union': {
      // Keep only the alternatives meant for this kind of value: a string is not a failed object.
      const value = valueAt(context.data, path);
      const isStructured = typeof value === 'object' && value !== null;
      const rejectsKind = (inner: Issue) => inner.path.length === 0 && (inner.code === 'invalid_type' || (inner.code === 'invalid_value' && isStructured));
      const relevant = issue.errors.filter((branch) => !branch.some(rejectsKind));
      const [only] = relevant;
      if (issue.discriminator === undefined && relevant.length === 1 && only !== undefined) {
        return only.flatMap((inner) => toPathProblems(inner, path, context));
      }
      return [{ path, message: issue.message }];
    }
    case 'invalid_key':
      return [{ path, message: issue.message, pointAt: 'key' }];
    case 'custom': {
      const pointAt = (issue.params as { pointAt?: unknown } | undefined)?.pointAt;
      return [{ path, message: issue.message, ...(pointAt === 'key' ? { pointAt: 'key' as const } : {}) }];
    }
    default:
      return [{ path, message: issue.message }];
  }
}

function valueAt(data: unknown, path: readonly PathSegment[]): unknown {
  let value = data;
  for (const segment of path) {
    if (typeof value !== 'object' || value === null) return undefined;
    value = (value as Record<string | number, unknown>)[segment];
  }
  return value;
}

function unknownFieldAdvice(key: string, known: readonly string[]): string {
  if (known.length === 0) return ' (this object takes no fields)';
  const suggestion = didYouMean(key, known);
  return suggestion !== '' ? suggestion : `; expected one of ${known.join(', ')}`;
}

function messageFor(issue: RawIssue): string | undefined {
  const path = (issue.path ?? []).map((segment) => (typeof segment === 'number' ? segment : String(segment)));
  const schema = issue.schema;
  const got = (value: unknown): string => {
    const shown = describeValue(value, path);
    return shown === undefined ? '' : `, got ${shown}`;
  };
  const last = path.at(-1);
  if (issue.input === undefined && typeof last === 'string' && (issue.code === 'invalid_type' || issue.code === 'invalid_value')) {
    return `missing required field "${last}" (expected ${expectedOf(schema)})`;
  }
  switch (issue.code) {
    case 'invalid_type': {
      if (path.length === 0) return `expected ${expectedOf(schema)} at the top of the file${got(issue.input)} (run "promote init" for a commented starting point)`;
      const hint = schema === undefined ? undefined : expectations.get(schema)?.hint?.(issue.input);
      return `expected ${expectedOf(schema)}${got(issue.input)}${hint === undefined ? '' : `; ${hint}`}`;
    }
    case 'too_big':
    case 'too_small':
      return sizeMessage(issue, schema, got);
    case 'not_multiple_of': {
      const decimals = Math.round(-Math.log10(issue.divisor));
      const step = 10 ** -decimals === issue.divisor && decimals > 0 ? `with at most ${decimals} decimal${decimals === 1 ? '' : 's'}` : `in steps of ${issue.divisor}`;
      return `expected ${expectedOf(schema)} ${step}${got(issue.input)}`;
    }
    case 'invalid_format':
      if (issue.format === 'starts_with') return `expected a string starting with "${String(issue.prefix)}"${got(issue.input)}`;
      return `expected ${expectedOf(schema)}${got(issue.input)}`;
    case 'invalid_value': {
      const options = issue.values.map((value) => String(value));
      const expected = options.length === 1 ? options[0] : `one of ${options.join(', ')}`;
      const suggestion = typeof issue.input === 'string' ? didYouMean(issue.input, options) : '';
      return `expected ${expected}${got(issue.input)}${suggestion}`;
    }
    case 'invalid_union': {
      if (issue.discriminator !== undefined) return discriminatorMessage(issue.discriminator, (issue.options as readonly unknown[] | undefined) ?? [], issue.input, got);
      return `expected ${expectedOf(schema)}${got(issue.input)}`;
    }
    case 'invalid_key': {
      const keyType = schema instanceof z.ZodRecord ? (schema.keyType as AnySchema) : undefined;
      return `invalid name ${describeValue(path.at(-1), []) ?? ''}: expected ${expectedOf(keyType)}`;
    }
    case 'unrecognized_keys':
      return `unknown fields ${issue.keys.join(', ')}`;
    default:
      return undefined;
  }
}

function sizeMessage(issue: RawIssue & { code: 'too_big' | 'too_small' }, schema: AnySchema | undefined, got: (value: unknown) => string): string {
  const limit = Number(issue.code === 'too_big' ? issue.maximum : issue.minimum);
  const bound = issue.code === 'too_big' ? 'at most' : 'at least';
  switch (issue.origin) {
    case 'array':
      return `expected a list with ${bound} ${limit} ${limit === 1 ? 'entry' : 'entries'}${got(issue.input)}`;
    case 'string':
      if (issue.code === 'too_small' && limit === 1) return 'expected a non-empty string';
      return `expected a string of ${bound} ${limit} characters${got(issue.input)}`;
    default:
      return `expected ${expectedOf(schema)}${got(issue.input)}`;
  }
}

function discriminatorMessage(
  discriminator: string,
  options: readonly unknown[],
  input: unknown,
  got: (value: unknown) => string,
): string {
  const names = options.map((option) => String(option));
  const value = typeof input === 'object' && input !== null ? (input as Record<string, unknown>)[discriminator] : undefined;
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    return `expected an object with ${discriminator} ${names.join(' or ')}${got(input)}`;
  }
  if (value === undefined) return `missing required field "${discriminator}" (expected one of ${names.join(', ')})`;
  return `expected one of ${names.join(', ')}${got(value)}${typeof value === 'string' ? didYouMean(value, names) : ''}`;
}

/** What a schema accepts, in words that finish "expected ...". */
export function expectedOf(schema: AnySchema | undefined): string {
  if (schema === undefined) return 'a valid value';
  const registered = expectations.get(schema);
  if (registered !== undefined) return registered.expected;
  if (
    schema instanceof z.ZodOptional ||
    schema instanceof z.ZodDefault ||
    schema instanceof z.ZodPrefault ||
    schema instanceof z.ZodNullable ||
    schema instanceof z.ZodReadonly
  ) {
    return expectedOf(schema.unwrap());
  }
  if (schema instanceof z.ZodPipe) {
    // z.preprocess is a pipe from a transform: what the user writes is what the second half accepts.
    return expectedOf(schema.in instanceof z.ZodTransform ? schema.out : schema.in);
  }
  if (schema instanceof z.ZodString) return 'a string';
  if (schema instanceof z.ZodNumber) return numberExpectation(schema);
  if (schema instanceof z.ZodBoolean) return 'true or false';
  if (schema instanceof z.ZodNull) return 'an empty value';
  if (schema instanceof z.ZodEnum) return `one of ${schema.options.map(String).join(', ')}`;
  if (schema instanceof z.ZodLiteral) return [...schema.values].map(String).join(' or ');
  if (schema instanceof z.ZodDiscriminatedUnion) {
    const discriminator = String(schema.def.discriminator);
    const values = schema.options.flatMap((option) => discriminatorValues(option, discriminator));
    return `an object with ${discriminator} ${values.join(' or ')}`;
  }
  if (schema instanceof z.ZodUnion) {
    const alternatives = [...new Set(schema.options.map((option) => (option instanceof z.ZodBoolean ? 'true/false' : expectedOf(option))))];
    return alternatives.length <= 2 ? alternatives.join(' or ') : `${alternatives.slice(0, -1).join(', ')} or ${alternatives.at(-1)}`;
  }
  if (schema instanceof z.ZodArray) return 'a list';
  if (schema instanceof z.ZodObject || schema instanceof z.ZodRecord) return 'an object';
  return 'a valid value';
}

function discriminatorValues(option: AnySchema, discriminator: string): string[] {
  if (!(option instanceof z.ZodObject)) return [];
  const field = (option.shape as Record<string, AnySchema>)[discriminator];
  return field instanceof z.ZodLiteral ? [...field.values].map(String) : [];
}

function numberExpectation(schema: z.ZodNumber): string {
  const noun = schema.isInt ? 'a whole number' : 'a number';
  const bounded = (limit: number | null): limit is number => limit !== null && Math.abs(limit) < Number.MAX_SAFE_INTEGER;
  const min = bounded(schema.minValue) ? schema.minValue : undefined;
  const max = bounded(schema.maxValue) ? schema.maxValue : undefined;
  if (min !== undefined && max !== undefined) return `${noun} from ${min} to ${max}`;
  if (min !== undefined) return `${noun} of at least ${min}`;
  if (max !== undefined) return `${noun} of at most ${max}`;
  return noun;
}
