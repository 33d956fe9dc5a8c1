import type { z } from 'zod';
import { PromoteError, UsageError } from '../errors.js';
import { validateWithSchema } from '../spec/issues.js';
import { formatPath, type PathProblem, type PathSegment } from '../spec/problems.js';
import { flagSchema } from '../spec/schema-flags.js';

/** A flag as people write it and the store keeps it: the output of `flagSchema` (admin format). */
export type FlagDefinition = z.output<typeof flagSchema>;

/** One problem in a flag or segment someone wrote: where (`strategies[0].constraints[1].value`) and what. */
export interface FieldProblem {
  field: string;
  path: PathSegment[];
  message: string;
  /** `key` when the problem is the field's name itself (an unknown field), for positions in a file */
  pointAt?: 'key' | 'value';
}

/** A flag or segment that does not validate; the API answers 400 with the fields, the CLI exits 2. */
export class FlagValidationError extends UsageError {
  readonly problems: FieldProblem[];
  constructor(what: string, problems: FieldProblem[]) {
    super(`${what} is not valid: ${problems.map((problem) => (problem.field === '' ? problem.message : `${problem.field}: ${problem.message}`)).join('; ')}`);
    this.name = 'FlagValidationError';
    this.problems = problems;
  }
}

/** An app, environment, flag, segment or schedule that does not exist (API: 404). */
export class FlagNotFoundError extends PromoteError {
  constructor(message: string, options: { hint?: string } = {}) {
    super(message, { ...options, status: 404 });
    this.name = 'FlagNotFoundError';
  }
}

/** A write that lost a race or would break something that depends on it (API: 409). */
export class FlagConflictError extends PromoteError {
  constructor(message: string, options: { hint?: string } = {}) {
    super(message, { ...options, status: 409 });
    this.name = 'FlagConflictError';
  }
}

export function toFieldProblems(problems: readonly PathProblem[]): FieldProblem[] {
  return problems.map((problem) => ({ field: formatPath(problem.path), path: [...problem.path], message: problem.message, ...(problem.pointAt ? { pointAt: problem.pointAt } : {}) }));
}

/** Validates a flag with the one schema promote.yaml uses too; the error names every bad field. */
export function validateFlag(input: unknown, what = 'the flag'): FlagDefinition {
  const result = validateWithSchema(flagSchema, input);
  if (!result.ok) {
    const name = (input as { name?: unknown } | null)?.name;
    throw new FlagValidationError(typeof name === 'string' && what === 'the flag' ? `flag "${name}"` : what, toFieldProblems(result.problems));
  }
  return result.value;
}
