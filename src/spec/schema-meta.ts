/**
 * Building blocks shared by the promote.yaml schema files: the plain-words description of what each
 * field expects (used by the error messages), and field types that recur across sections.
 */
import { z } from 'zod';
import { JsonPathError, parseJsonPath } from '../system/json-path.js';
import { placeholderProblems } from './placeholders.js';

export interface Expectation {
  /** What the field expects, in words that finish "expected ...": "a duration like 30s". */
  expected: string;
  /** Extra advice for a particular wrong value, e.g. the unit a bare number is missing. */
  hint?: (value: unknown) => string | undefined;
}

/**
 * Error messages look here first. Registries follow a schema through `.describe()` and `.optional()`,
 * so one registration covers every use of a building block.
 */
export const expectations = z.registry<Expectation>();

export const namePattern = /^[a-z][a-z0-9-]{0,62}$/;
export const headerNamePattern = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** Names of the app, environments, strategies and templates: they appear in URLs, metrics and CLI arguments. */
export const nameSchema = z
  .string()
  .regex(namePattern)
  .register(expectations, { expected: 'a name of lowercase letters, digits and dashes that starts with a letter (at most 63 characters)' });

/** HTTP header and cookie names: RFC 9110 tokens, so they can be sent as-is. */
export const headerNameSchema = z
  .string()
  .regex(headerNamePattern)
  .register(expectations, { expected: 'a header or cookie name (letters, digits and !#$%&\'*+.^_`|~-)' });

export const nonEmptyString = z.string().min(1);

/** An absolute http:// or https:// URL. */
export const httpUrlSchema = z
  .string()
  .refine(isHttpUrl, { message: 'expected an http:// or https:// URL' })
  .register(expectations, { expected: 'an http:// or https:// URL' });

function isHttpUrl(text: string): boolean {
  if (!/^https?:\/\//i.test(text)) return false;
  return URL.canParse(text);
}

/**
 * A command or URL that Promote fills in per version. Placeholders use `{{ }}` because `${ }` is
 * already taken by environment variables, which are substituted once at load time.
 */
export function templateString(kind: 'command' | 'url'): z.ZodType<string, string> {
  return z
    .string()
    .min(1)
    .superRefine((text, ctx) => {
      for (const message of placeholderProblems(text)) ctx.addIssue({ code: 'custom', message });
      if (kind === 'url' && !isHttpUrl(text.replace(/\{\{[^}]*\}\}/g, 'x'))) {
        ctx.addIssue({ code: 'custom', message: 'expected an http:// or https:// URL (placeholders like {{version}} allowed)' });
      }
    });
}

/**
 * Fails when not exactly one of `keys` is present. The message names the keys, because "invalid
 * input" on an object with two alternatives leaves the user guessing which one to keep.
 */
export function exactlyOneOf<T extends object>(keys: readonly (keyof T & string)[], what: string) {
  return (value: T, ctx: z.RefinementCtx): void => {
    const present = keys.filter((key) => (value as Record<string, unknown>)[key] !== undefined);
    if (present.length === 1) return;
    const options = keys.map((key) => `"${key}"`).join(' or ');
    ctx.addIssue({
      code: 'custom',
      message: present.length === 0 ? `${what} needs ${options}` : `${what} takes only one of ${options}, got ${present.join(' and ')}`,
    });
  };
}

/** JSON Schema keywords that make editors enforce the same exactly-one rule. */
export function exactlyOneOfJsonSchema(keys: readonly string[]): { oneOf: { required: string[] }[] } {
  return { oneOf: keys.map((key) => ({ required: [key] })) };
}

/** A path in the small JSON path language of src/system/json-path.ts, checked when the file loads. */
export const jsonPathSchema = z.string().superRefine((path, ctx) => {
  try {
    parseJsonPath(path);
  } catch (error) {
    if (!(error instanceof JsonPathError)) throw error;
    ctx.addIssue({ code: 'custom', message: error.message });
  }
});
