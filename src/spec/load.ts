/**
 * Reads promote.yaml and reports every problem at once, each with file:line:column, so one run of
 * `promote validate` is enough to fix a file.
 */
import { readFile } from 'node:fs/promises';
import { isPair, isScalar, parseDocument, visit, type Document, type YAMLError } from 'yaml';
import { PromoteError, redactSecrets, wrapError } from '../errors.js';
import { interpolateDocument, type EnvironmentVariables } from './interpolate.js';
import { validateWithSchema } from './issues.js';
import { locate, positionAt, textLineCounter } from './locate.js';
import { formatPath, formatProblem, sortProblems, type PathProblem, type PathSegment, type SpecProblem } from './problems.js';
import { promoteSpecSchema, type PromoteSpec } from './schema.js';
import { checkSemantics } from './semantic.js';

export type SpecResult = { ok: true; spec: PromoteSpec; problems: [] } | { ok: false; problems: SpecProblem[] };

export interface ParseSpecOptions {
  /** Name used in problem positions; usually the path the text was read from. */
  file: string;
  /** Values for `${VAR}` references. Defaults to none: parsing stays a pure function of its inputs. */
  env?: EnvironmentVariables;
}

/** A spec that failed to load; `problems` lists every problem, and so does the message. */
export class SpecError extends PromoteError {
  readonly problems: readonly SpecProblem[];

  constructor(file: string, problems: readonly SpecProblem[]) {
    const count = `${problems.length} problem${problems.length === 1 ? '' : 's'}`;
    super(`${file} has ${count}:\n${problems.map((problem) => `  ${formatProblem(problem)}`).join('\n')}`, {
      hint: 'run `promote validate` after fixing them',
    });
    this.name = 'SpecError';
    this.problems = problems;
  }
}

export function parseSpec(text: string, options: ParseSpecOptions): SpecResult {
  const tooDeep = deepNesting(text);
  if (tooDeep) return failure([{ file: options.file, ...positionAt(textLineCounter(text), tooDeep.offset), path: '', message: tooDeep.message }]);
  const document = parseDocument(text, { prettyErrors: false, uniqueKeys: true });
  const lineCounter = textLineCounter(text);
  const place = (problem: PathProblem): SpecProblem => ({
    file: options.file,
    ...locate(document, lineCounter, problem.path, problem.pointAt),
    path: formatPath(problem.path),
    message: problem.message,
  });
  const yamlProblems = [...document.errors, ...document.warnings].map((error) => ({
    file: options.file,
    ...positionAt(lineCounter, error.pos[0]),
    path: '',
    message: yamlMessage(error, document),
  }));
  // After a syntax error the structure is a guess; checking it against the schema would bury the
  // real mistake under follow-on complaints. Duplicate keys leave the structure intact.
  if (document.errors.some((error) => error.code !== 'DUPLICATE_KEY')) return failure(yamlProblems);

  const interpolationProblems = interpolateDocument(document, options.env ?? {});
  let data: unknown;
  try {
    data = document.toJS({ maxAliasCount: 100 });
  } catch (error) {
    return failure([...yamlProblems, { file: options.file, line: 1, column: 1, path: '', message: `cannot read the YAML: ${describe(error)}` }]);
  }
  const validation = validateWithSchema(promoteSpecSchema, data);
  // A value whose variable is missing is wrong for that reason alone; don't also complain about its shape.
  const unresolved = interpolationProblems.map((problem) => problem.path);
  const followOn = (problem: PathProblem): boolean => unresolved.some((path) => startsWith(problem.path, path));
  const pathProblems = [
    ...interpolationProblems,
    ...[...(validation.ok ? [] : validation.problems), ...checkSemantics(data)].filter((problem) => !followOn(problem)),
  ];
  const problems = [...yamlProblems, ...pathProblems.map(place)];
  if (problems.length > 0 || !validation.ok) return failure(problems);
  return { ok: true, spec: validation.value, problems: [] };
}

/** Reads and parses a spec file; a missing file is an error (thrown), a bad one a result with problems. */
export async function loadSpec(file: string, env: EnvironmentVariables = process.env): Promise<SpecResult> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new PromoteError(`${file} does not exist`, { cause: error, hint: 'run `promote init` to create a commented promote.yaml' });
    }
    throw wrapError(`reading ${file}`, error);
  }
  return parseSpec(text, { file, env });
}

/** Like loadSpec, but a spec with problems throws a SpecError that lists them. */
export async function loadSpecOrThrow(file: string, env: EnvironmentVariables = process.env): Promise<PromoteSpec> {
  const result = await loadSpec(file, env);
  if (!result.ok) throw new SpecError(file, result.problems);
  return result.spec;
}

function failure(problems: SpecProblem[]): SpecResult {
  return { ok: false, problems: sortProblems(problems) };
}

function startsWith(path: readonly PathSegment[], prefix: readonly PathSegment[]): boolean {
  return prefix.length <= path.length && prefix.every((segment, index) => path[index] === segment);
}

function yamlMessage(error: YAMLError, document: Document): string {
  if (error.code === 'DUPLICATE_KEY') {
    const key = keyAt(document, error.pos[0]);
    return key === undefined ? 'duplicate key' : `duplicate key "${key.slice(0, 60)}"`;
  }
  return `YAML: ${describe(error.message)}`;
}

function keyAt(document: Document, offset: number): string | undefined {
  let found: string | undefined;
  visit(document, {
    Pair(_, pair) {
      if (isPair(pair) && isScalar(pair.key) && pair.key.range?.[0] === offset) {
        found = String(pair.key.value);
        return visit.BREAK;
      }
      return undefined;
    },
  });
  return found;
}

function describe(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return redactSecrets(text).slice(0, 200);
}

/** Nesting a promote.yaml never needs; far below where the YAML parser runs out of stack. */
const MAX_FLOW_DEPTH = 100;
const MAX_BLOCK_PREFIX = 200;

/**
 * Refuses text nested so deep that parsing it would exhaust the stack (found by
 * test/fuzz/spec.fuzz.test.ts): the YAML parser then throws RangeError from wherever the stack ends,
 * and a second such parse in the same process made V8 abort while compiling a regex. Block nesting
 * is at most as deep as a line's indentation and `- `/`? ` prefix is long; flow nesting is counted
 * by brackets (ones inside quotes counted too: conservative, and harmless at this bound).
 */
function deepNesting(text: string): { offset: number; message: string } | undefined {
  let depth = 0;
  let lineStart = 0;
  let inPrefix = true;
  for (let index = 0; index < text.length; index += 1) {
    const char = text[index];
    if (char === '\n') {
      lineStart = index + 1;
      inPrefix = true;
      continue;
    }
    if (inPrefix && !(char === ' ' || char === '\t' || char === '-' || char === '?' || char === ':')) inPrefix = false;
    if (inPrefix && index - lineStart >= MAX_BLOCK_PREFIX) return { offset: index, message: `YAML: a line is indented or nested more than ${MAX_BLOCK_PREFIX} columns deep` };
    if (char === '[' || char === '{') depth += 1;
    else if ((char === ']' || char === '}') && depth > 0) depth -= 1;
    if (depth > MAX_FLOW_DEPTH) return { offset: index, message: `YAML: brackets nest more than ${MAX_FLOW_DEPTH} levels deep` };
  }
  return undefined;
}
