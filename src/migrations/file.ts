/**
 * Loads one migration file in pgroll's format (YAML or JSON with an `operations:` list and an optional
 * `version_schema`) and reports every problem at once, each with file:line:column and what is
 * expected, so a migration is fixed before anything touches a database. As in pgroll, the migration's
 * name is the file name without its extension, and a `name:` field in the file is ignored.
 */
import { readFile } from 'node:fs/promises';
import { basename, extname } from 'node:path';
import { isScalar, parseDocument, type Document, type LineCounter, type YAMLError } from 'yaml';
import { PromoteError, wrapError } from '../errors.js';
import { locate, positionAt, textLineCounter } from '../spec/locate.js';
import { formatPath, type PathProblem, type PathSegment } from '../spec/problems.js';
import { fromEntry, type Operation, type OperationEntry } from './operations.js';
import { schemaProblems } from './schema-validate.js';
import { checkOperations, type SemanticProblem, type Severity } from './semantic.js';

/** The extensions pgroll reads, and so the ones a migrations folder is scanned for. */
export const MIGRATION_EXTENSIONS = ['.json', '.yaml', '.yml'] as const;
const MAX_SYNTAX_ERRORS = 5;

export interface Migration {
  /** the file name without its extension, as pgroll names migrations */
  name: string;
  /** the file as the caller named it */
  file: string;
  /** the schema the new version's views go in; pgroll uses the name when there is none */
  versionSchema: string | undefined;
  operations: Operation[];
}

export interface MigrationProblem {
  file: string;
  /** 1-based */
  line: number;
  /** 1-based */
  column: number;
  /** like `operations[1].add_column.column`; `""` for the whole file */
  path: string;
  message: string;
  /** a warning does not stop the migration from loading */
  severity: Severity;
}

export type MigrationLoad =
  | { ok: true; migration: Migration; warnings: MigrationProblem[] }
  /** `problems` has the warnings too, in file order */
  | { ok: false; problems: MigrationProblem[] };

/** `migrations/03_add_column.yaml:7:9: operations[1].add_column.column: missing required field "type"` */
export function formatMigrationProblem(problem: MigrationProblem): string {
  const where = `${problem.file}:${problem.line}:${problem.column}:`;
  const level = problem.severity === 'warning' ? ' warning:' : '';
  return problem.path === '' ? `${where}${level} ${problem.message}` : `${where}${level} ${problem.path}: ${problem.message}`;
}

/** A migration that failed to load: the message lists every problem. */
export class MigrationFileError extends PromoteError {
  readonly problems: readonly MigrationProblem[];

  constructor(problems: readonly MigrationProblem[]) {
    const errors = problems.filter((problem) => problem.severity === 'error').length;
    const files = new Set(problems.map((problem) => problem.file));
    const where = files.size === 1 ? [...files][0]! : `${files.size} migration files`;
    super(`${where}: ${errors} problem${errors === 1 ? '' : 's'}:\n${problems.map((problem) => `  ${formatMigrationProblem(problem)}`).join('\n')}`);
    this.name = 'MigrationFileError';
    this.problems = problems;
  }
}

/** `03_add_column` for `migrations/03_add_column.yaml`. */
export function migrationNameOf(file: string): string {
  const name = basename(file);
  return name.slice(0, name.length - extname(name).length);
}

/** Reads and checks one migration file. An unreadable file throws; a bad one returns its problems. */
export async function loadMigrationFile(file: string): Promise<MigrationLoad> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new PromoteError(`migration file ${file} does not exist`, { cause: error });
    throw wrapError(`reading migration file ${file}`, error);
  }
  return parseMigration(text, file);
}

/** Like loadMigrationFile, but problems throw a MigrationFileError; warnings are returned. */
export async function loadMigrationFileOrThrow(file: string): Promise<{ migration: Migration; warnings: MigrationProblem[] }> {
  const result = await loadMigrationFile(file);
  if (!result.ok) throw new MigrationFileError(result.problems);
  return result;
}

/** Checks the text of a migration file; `file` names it in problems and gives it its name and format. */
export function parseMigration(text: string, file: string): MigrationLoad {
  const extension = extname(file).toLowerCase();
  const at = (line: number, column: number, message: string, severity: Severity = 'error'): MigrationProblem => ({ file, line, column, path: '', message, severity });
  if (!(MIGRATION_EXTENSIONS as readonly string[]).includes(extension)) {
    return { ok: false, problems: [at(1, 1, `a migration file ends in ${MIGRATION_EXTENSIONS.join(', ')}, not "${extension || '(none)'}"`)] };
  }
  const lineCounter = textLineCounter(text);
  const body = text.replace(/^\uFEFF/, '');
  // YAML 1.1, as pgroll reads it (`yes` and `on` are true); JSON is parsed as JSON below, the
  // document only gives positions
  const document = parseDocument(text, { prettyErrors: false, uniqueKeys: extension !== '.json', version: extension === '.json' ? '1.2' : '1.1' });
  let data: unknown;
  const yamlWarnings: MigrationProblem[] = [];
  if (extension === '.json') {
    try {
      data = JSON.parse(body);
    } catch (error) {
      const { line, column } = positionAt(lineCounter, jsonErrorOffset(error, text));
      return { ok: false, problems: [at(line, column, `not valid JSON: ${(error as Error).message.replace(/ in JSON at position \d+.*$/, '')}`)] };
    }
  } else {
    const yamlProblem = (severity: Severity) => (problem: YAMLError) => {
      const { line, column } = positionAt(lineCounter, problem.pos[0]);
      return at(line, column, `YAML: ${problem.message.split('\n')[0]}`, severity);
    };
    yamlWarnings.push(...document.warnings.map(yamlProblem('warning')));
    // after a syntax error the structure is a guess: checking it would bury the real mistake, and
    // so would the parser's follow-on errors after the first few
    if (document.errors.length > 0) return { ok: false, problems: [...document.errors.slice(0, MAX_SYNTAX_ERRORS).map(yamlProblem('error')), ...yamlWarnings] };
    try {
      data = document.toJS({ maxAliasCount: 100 });
    } catch (error) {
      return { ok: false, problems: [at(1, 1, `cannot read the YAML: ${(error as Error).message}`), ...yamlWarnings] };
    }
  }
  return checkData(data, file, document, lineCounter, yamlWarnings);
}

function checkData(data: unknown, file: string, document: Document, lineCounter: LineCounter, earlier: MigrationProblem[]): MigrationLoad {
  const place = (problem: PathProblem & { severity?: Severity }): MigrationProblem => ({
    file,
    ...locate(document, lineCounter, problem.path, problem.pointAt),
    path: formatPath(problem.path),
    message: `${problem.message}${yamlBooleanNote(document, problem.path)}`,
    severity: problem.severity ?? 'error',
  });
  const { problems, validOperations } = schemaProblems(data);
  const entries = (data as { operations?: unknown } | null)?.operations;
  const operations = new Map<number, Operation>();
  if (Array.isArray(entries)) {
    for (const index of validOperations) operations.set(index, fromEntry(entries[index] as OperationEntry));
  }
  const semantic: SemanticProblem[] = Array.isArray(entries) ? checkOperations(operations, entries.length) : [];
  const all = sortByPosition([...earlier, ...problems.map(place), ...semantic.map(place)]);
  if (all.some((problem) => problem.severity === 'error')) return { ok: false, problems: all };
  const versionSchema = (data as { version_schema?: string }).version_schema;
  return {
    ok: true,
    migration: { name: migrationNameOf(file), file, versionSchema, operations: [...operations.values()] },
    warnings: all,
  };
}

/**
 * Line starts counted from the text itself: the parser's own counter misses newlines it skips while
 * recovering from a syntax error, which would misplace every later problem.
 */
/** YAML 1.1 reads `yes`, `on`, `y` as true: say so where that made a value wrong. */
function yamlBooleanNote(document: Document, path: readonly PathSegment[]): string {
  const node = path.length === 0 ? undefined : document.getIn(path, true);
  if (!isScalar(node) || typeof node.value !== 'boolean' || node.source === undefined || /^(true|false)$/i.test(node.source)) return '';
  return ` (YAML 1.1, which pgroll reads, takes ${node.source} for ${String(node.value)}: quote it to mean the text)`;
}

function sortByPosition(problems: MigrationProblem[]): MigrationProblem[] {
  const seen = new Set<string>();
  return problems
    .filter((problem) => {
      const key = `${problem.line}:${problem.column}:${problem.path}:${problem.message}`;
      return seen.has(key) ? false : (seen.add(key), true);
    })
    .sort((a, b) => a.line - b.line || a.column - b.column);
}

/** Where JSON.parse stopped: V8 names the offset ("at position 12"), or the input ended. */
function jsonErrorOffset(error: unknown, text: string): number {
  const match = /at position (\d+)/.exec(error instanceof Error ? error.message : '');
  const offset = match === null ? text.length : Number(match[1]);
  // the offset counts from after a byte order mark, which JSON.parse did not see
  return Math.min(offset + (text.startsWith('\uFEFF') ? 1 : 0), text.length);
}
