/**
 * Checks parsed migration data against Promote's definition of the migration format (format.ts) and
 * says what is wrong in plain words, each problem with the path of the offending node. The
 * definition decides what is valid; this file only decides how to explain it. Operations are checked
 * one by one against their own definition, so a typo in one field of one operation is one complaint
 * about that field, not a refusal of the whole list.
 */
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import { describeValue, type PathProblem, type PathSegment } from '../spec/problems.js';
import { closestMatch, didYouMean } from '../spec/suggest.js';
import { migrationShape, operationShapes } from './format.js';
import { OPERATION_NAMES } from './operations.js';

interface SchemaObject {
  [keyword: string]: unknown;
}

// strict: the definition is ours, so a keyword it misuses is a bug to hear about at once; except
// that format.ts's rules ("at least one of", "when type is") name fields declared beside them, not
// inside, which strict mode's type and required checks would flag
const ajv = new Ajv2020({ allErrors: true, verbose: true, strict: true, strictTypes: false, strictRequired: false });
const wholeMigration = ajv.compile(migrationShape.json);
const operationValidators: ReadonlyMap<string, ValidateFunction> = new Map(OPERATION_NAMES.map((name) => [name, ajv.compile(operationShapes[name].json)]));

/** True when the format accepts the whole migration: the final word on validity. */
export function isValidMigration(data: unknown): boolean {
  return wholeMigration(data) === true;
}

/**
 * Every schema problem of a migration's data, with paths. Operations that pass are returned by index,
 * so later checks can rely on their shape.
 */
export function schemaProblems(data: unknown): { problems: PathProblem[]; validOperations: Set<number> } {
  const validOperations = new Set<number>();
  if (wholeMigration(data) === true) {
    const operations = (data as { operations: unknown[] }).operations;
    return { problems: [], validOperations: new Set(operations.map((_, index) => index)) };
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    return { problems: [{ path: [], message: `expected a mapping with an "operations:" list, got ${describeValue(data, [])}` }], validOperations };
  }
  // the top level from the whole-migration errors; each operation below on its own
  const topErrors = (wholeMigration.errors ?? []).filter((error) => !/^\/operations\/\d+/.test(error.instancePath));
  const problems = explain(topErrors, data, []);
  const operations = (data as { operations?: unknown }).operations;
  if (Array.isArray(operations)) {
    operations.forEach((operation, index) => {
      const found = operationProblems(operation, ['operations', index]);
      if (found.length === 0) validOperations.add(index);
      problems.push(...found);
    });
  }
  if (problems.length === 0) {
    // the explanation missed something the schema saw: never let it pass silently
    problems.push({ path: [], message: `does not match the migration format: ${ajv.errorsText(wholeMigration.errors)}` });
  }
  return { problems, validOperations };
}

function operationProblems(operation: unknown, path: PathSegment[]): PathProblem[] {
  const known = OPERATION_NAMES;
  if (operation === null || typeof operation !== 'object' || Array.isArray(operation)) {
    return [{ path, message: `expected an operation (a mapping with one key, the operation's name, one of ${known.join(', ')}), got ${describeValue(operation, path)}` }];
  }
  const names = Object.keys(operation);
  if (names.length !== 1) {
    const found = names.length === 0 ? 'found none' : `found ${names.map((name) => `"${name}"`).join(' and ')}; write each operation as its own list item`;
    return [{ path, message: `an operation has exactly one key, the operation's name: ${found}` }];
  }
  const name = names[0]!;
  const validate = operationValidators.get(name);
  if (validate === undefined) {
    return [{ path: [...path, name], pointAt: 'key', message: `unknown operation "${name}"${didYouMean(name, known)}; the operations are ${known.join(', ')}` }];
  }
  const body = (operation as Record<string, unknown>)[name];
  if (validate(body) === true) return [];
  return explain(validate.errors ?? [], body, [...path, name]);
}

/** Turns ajv's errors about `data` (found at `base`) into one plain message per problem. */
function explain(errors: readonly ErrorObject[], data: unknown, base: PathSegment[]): PathProblem[] {
  const problems: PathProblem[] = [];
  const collapsed = errors.filter((error) => alternativesMessage(error) !== undefined);
  const conditions = errors.filter((error) => error.keyword === 'if');
  const insideCollapsed = (error: ErrorObject) =>
    collapsed.some((parent) => parent !== error && error.schemaPath.startsWith(`${parent.schemaPath}/`) && within(error.instancePath, parent.instancePath));
  for (const error of errors) {
    if (error.keyword === 'if' || insideCollapsed(error)) continue;
    if (error.keyword === 'anyOf' && !collapsed.includes(error)) continue;
    const path = [...base, ...pointerToPath(error.instancePath, data)];
    // the innermost if/then whose `then` raised this error
    const condition = conditions
      .filter((parent) => error.schemaPath.startsWith(`${parent.schemaPath.replace(/\/if$/, '')}/then/`) && within(error.instancePath, parent.instancePath))
      .sort((a, b) => b.instancePath.length - a.instancePath.length)[0];
    const when = condition === undefined ? '' : conditionText(condition);
    problems.push(describe(error, path, when));
  }
  return withoutTypoEchoes(problems, errors, data, base);
}

/**
 * A misspelt required field is one mistake, not two: when `colum` is unknown and suggests `column`,
 * the "missing required field column" beside it is dropped.
 */
function withoutTypoEchoes(problems: PathProblem[], errors: readonly ErrorObject[], data: unknown, base: PathSegment[]): PathProblem[] {
  const suggested = new Set<string>();
  for (const error of errors) {
    if (error.keyword !== 'additionalProperties') continue;
    const match = closestMatch(String((error.params as { additionalProperty: unknown }).additionalProperty), knownFields(error));
    if (match !== undefined) suggested.add(JSON.stringify([...base, ...pointerToPath(error.instancePath, data), match]));
  }
  return problems.filter((problem) => {
    const missing = /^missing required field "(.*)"/.exec(problem.message)?.[1];
    return missing === undefined || !suggested.has(JSON.stringify([...problem.path, missing]));
  });
}

/** The fields the schema allows where an additionalProperties error was raised. */
function knownFields(error: ErrorObject): string[] {
  return Object.keys((error.parentSchema?.properties as object | undefined) ?? {});
}

/** The instance `pointer` is `parent` or inside it. */
function within(pointer: string, parent: string): boolean {
  return pointer === parent || pointer.startsWith(`${parent}/`);
}

function describe(error: ErrorObject, path: PathSegment[], when: string): PathProblem {
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'required':
      return { path, message: `missing required field "${String(params.missingProperty)}"${when}` };
    case 'additionalProperties': {
      const field = String(params.additionalProperty);
      const known = knownFields(error);
      const suggestion = didYouMean(field, known);
      const list = suggestion === '' && known.length > 0 ? `; the fields here are ${known.join(', ')}` : '';
      return { path: [...path, field], pointAt: 'key', message: `unknown field "${field}"${suggestion}${list}` };
    }
    case 'type':
      return { path, message: `expected ${typeWords(params.type)}, got ${describeValue(error.data, path)}${when}` };
    case 'enum': {
      const allowed = (params.allowedValues as unknown[]).map((value) => JSON.stringify(value));
      const typo = typeof error.data === 'string' ? closestMatch(error.data, (params.allowedValues as unknown[]).map(String)) : undefined;
      return { path, message: `expected one of ${allowed.join(', ')}, got ${describeValue(error.data, path)}${typo === undefined ? '' : ` (did you mean "${typo}"?)`}` };
    }
    case 'const':
      return { path, message: `${constText(params.allowedValue)}${when}, got ${describeValue(error.data, path)}` };
    case 'anyOf':
      return { path, message: alternativesMessage(error) ?? error.message ?? 'does not match the schema' };
    case 'not': {
      const together = (error.schema as SchemaObject).required;
      if (Array.isArray(together) && together.length > 1 && Object.keys(error.schema as SchemaObject).length === 1) {
        return { path, message: `${together.map((field) => `"${String(field)}"`).join(' and ')} cannot be used together${when}` };
      }
      return { path, message: `${error.message ?? 'does not match the schema'}${when}` };
    }
    case 'false schema':
      return { path, message: when === '' ? 'not allowed here' : `not allowed${when}` };
    default:
      return { path, message: `${error.message ?? 'does not match the schema'}${when}` };
  }
}

/** An anyOf whose branches each just require one field, as format.ts writes "at least one of". */
function alternativesMessage(error: ErrorObject): string | undefined {
  const branches = error.schema as SchemaObject[];
  if (error.keyword !== 'anyOf' || !Array.isArray(branches)) return undefined;
  const requiredOf = (branch: SchemaObject): string | undefined => {
    const required = branch.required;
    return Object.keys(branch).length === 1 && Array.isArray(required) && required.length === 1 ? String(required[0]) : undefined;
  };
  const fields = branches.map(requiredOf);
  if (fields.some((field) => field === undefined)) return undefined;
  return `needs at least one of ${fields.map((field) => `"${field}"`).join(', ')}`;
}

/** ` when type is "check"`, from the `if` of an if/then. */
function conditionText(error: ErrorObject): string {
  const condition = error.parentSchema?.if as SchemaObject | undefined;
  const properties = (condition?.properties ?? {}) as Record<string, SchemaObject>;
  const parts = Object.entries(properties).filter(([, schema]) => 'const' in schema).map(([field, schema]) => `${field} is ${JSON.stringify(schema.const)}`);
  return parts.length === 0 ? '' : ` when ${parts.join(' and ')}`;
}

function constText(value: unknown): string {
  if (value === '') return 'must be empty';
  if (Array.isArray(value) && value.length === 0) return 'must be an empty list';
  if (value !== null && typeof value === 'object' && Object.keys(value).length === 0) return 'must be empty';
  return `must be ${JSON.stringify(value)}`;
}

function typeWords(type: unknown): string {
  const words: Record<string, string> = {
    string: 'a string',
    boolean: 'true or false',
    array: 'a list',
    object: 'a mapping',
    null: 'null',
    number: 'a number',
    integer: 'a whole number',
  };
  const types = Array.isArray(type) ? type.map(String) : String(type).split(',');
  return types.map((name) => words[name] ?? name).join(' or ');
}

/** `/columns/0/type` -> ['columns', 0, 'type'], numbers where the data there is a list. */
function pointerToPath(pointer: string, data: unknown): PathSegment[] {
  if (pointer === '') return [];
  const path: PathSegment[] = [];
  let node: unknown = data;
  for (const raw of pointer.slice(1).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    const segment: PathSegment = Array.isArray(node) && /^\d+$/.test(key) ? Number(key) : key;
    path.push(segment);
    node = node !== null && typeof node === 'object' ? (node as Record<string | number, unknown>)[segment] : undefined;
  }
  return path;
}
