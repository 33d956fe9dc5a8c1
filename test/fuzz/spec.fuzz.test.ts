/**
 * Fuzzes parseSpec (issue 11, input hardening): whatever text a user hands `promote validate`, the
 * parser must answer with ok or a list of problems, each placed at file:line:column with a message;
 * it must never throw. Inputs are random YAML, structural mutations of the shipped examples
 * (fields removed, added, retyped, replaced by random scalars, huge strings, deep nesting) and text
 * mutations of them (tabs, duplicated lines = duplicate keys, anchors and aliases, alias bombs,
 * deleted or truncated lines). Fixed seeds: a failure reproduces.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { parseSpec, type SpecResult } from '../../src/spec/index.js';

const examplesDir = fileURLToPath(new URL('../../examples', import.meta.url));
const exampleTexts = readdirSync(examplesDir, { recursive: true, withFileTypes: true })
  .filter((entry) => entry.isFile() && entry.name === 'promote.yaml')
  .map((entry) => readFileSync(join(entry.parentPath, entry.name), 'utf8'));
const exampleValues = exampleTexts.map((text) => parseYaml(text) as unknown);

let inputsRun = 0;
// 5,000 + 2,500 + 2,500: a parse of a full example takes about 5 ms, so the file stays near 30 s
const runs = Number(process.env.FUZZ_RUNS ?? 5000);

/** The property every input must satisfy; returns the result so a test can look further. */
function checkParse(text: string): SpecResult {
  inputsRun += 1;
  let result: SpecResult;
  try {
    result = parseSpec(text, { file: 'promote.yaml' });
  } catch (error) {
    throw new Error(`parseSpec threw on ${JSON.stringify(text.slice(0, 300))}: ${(error as Error).stack}`);
  }
  if (result.ok) return result;
  expect(result.problems.length).toBeGreaterThan(0);
  // a problem past the last line would send an editor nowhere; +2 allows a position just after a final newline
  const lines = text.split(/\r\n|\r|\n/).length + 2;
  for (const problem of result.problems) {
    expect(problem.file).toBe('promote.yaml');
    expect(Number.isInteger(problem.line) && problem.line >= 1 && problem.line <= lines, `line ${problem.line} of ${lines}`).toBe(true);
    expect(Number.isInteger(problem.column) && problem.column >= 1, `column ${problem.column}`).toBe(true);
    expect(typeof problem.message).toBe('string');
    expect(problem.message.trim().length).toBeGreaterThan(0);
    expect(problem.message).not.toMatch(/\n\s+at .+:\d+:\d+/); // no stack trace in a message
  }
  return result;
}

type Path = (string | number)[];

/** Every path to a node of the example, so a mutation can hit any field at any depth. */
function pathsOf(value: unknown, path: Path = [], out: Path[] = []): Path[] {
  out.push(path);
  if (Array.isArray(value)) value.forEach((item, index) => pathsOf(item, [...path, index], out));
  else if (value !== null && typeof value === 'object') for (const [key, item] of Object.entries(value)) pathsOf(item, [...path, key], out);
  return out;
}
const examplePaths = exampleValues.map((value) => pathsOf(value));

function deepNest(depth: number, leaf: unknown): unknown {
  let value = leaf;
  for (let index = 0; index < depth; index += 1) value = index % 2 === 0 ? [value] : { a: value };
  return value;
}

const scalar = fc.oneof(
  fc.string(),
  fc.string({ unit: 'grapheme', maxLength: 30 }),
  fc.integer(),
  fc.double(),
  fc.bigInt().map((value) => Number(value)),
  fc.boolean(),
  fc.constant(null),
  fc.constantFrom('', '-1', '1e309', '0x10', '${UNSET}', '${A:-', '{{version}}', '../../etc/passwd', '~', 'null', '30x', '-5s', 'NaN'),
  fc.integer({ min: 1000, max: 20_000 }).map((length) => 'x'.repeat(length)),
);
const replacement: fc.Arbitrary<unknown> = fc.oneof(
  scalar,
  fc.jsonValue({ maxDepth: 3 }),
  fc.array(scalar, { maxLength: 4 }),
  fc.dictionary(fc.string({ maxLength: 8 }), scalar, { maxKeys: 4 }),
  fc.tuple(fc.integer({ min: 50, max: 400 }), scalar).map(([depth, leaf]) => deepNest(depth, leaf)),
);

type Mutation = { kind: 'remove' | 'replace' | 'add'; at: number; key: string; value: unknown };
const mutation: fc.Arbitrary<Mutation> = fc.record({
  kind: fc.constantFrom('remove', 'replace', 'add'),
  at: fc.nat(),
  key: fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('steps', 'strategy', 'name', 'type', 'weight', '__proto__', 'constructor')),
  value: replacement,
});

function applyMutation(root: unknown, paths: Path[], change: Mutation): unknown {
  const path = paths[change.at % paths.length] ?? [];
  if (path.length === 0) return change.kind === 'replace' ? change.value : root;
  // an earlier mutation of the same input may have removed or replaced this path's parent
  const parent = path.slice(0, -1).reduce<unknown>((node, segment) => (node !== null && typeof node === 'object' ? (node as Record<string | number, unknown>)[segment] : undefined), root) as Record<string | number, unknown>;
  if (parent === null || typeof parent !== 'object') return root;
  const last = path[path.length - 1] as string | number;
  if (change.kind === 'remove') {
    if (Array.isArray(parent)) parent.splice(last as number, 1);
    else delete parent[last];
  } else if (change.kind === 'replace') {
    parent[last] = change.value;
  } else {
    const target = parent[last];
    if (Array.isArray(target)) target.push(change.value);
    else if (target !== null && typeof target === 'object') Object.defineProperty(target, change.key, { value: change.value, enumerable: true, writable: true, configurable: true });
    else parent[last] = change.value;
  }
  return root;
}

const structural = fc
  .tuple(fc.nat({ max: exampleValues.length - 1 }), fc.array(mutation, { minLength: 1, maxLength: 3 }))
  .map(([which, changes]) => {
    const root = structuredClone(exampleValues[which]);
    const mutated = changes.reduce((value, change) => applyMutation(value, examplePaths[which] ?? [], change), root);
    return stringifyYaml(mutated, { aliasDuplicateObjects: false });
  });

/** Line edits on the example's own text: the mistakes people make by hand. */
const lineEdit = fc.record({
  at: fc.nat(),
  kind: fc.constantFrom('tab', 'duplicate', 'delete', 'truncate', 'anchor', 'insert', 'dedent', 'bomb', 'longString'),
  text: fc.oneof(fc.string({ maxLength: 40 }), fc.constantFrom('key: &a { x: 1 }', 'other: *a', '<<: *a', '- *missing', ': :', '"unterminated', '{ [ ', '!!binary x', '? complex\n: key', '---', '...')),
  cut: fc.nat(),
});
function applyLineEdit(lines: string[], edit: { at: number; kind: string; text: string; cut: number }): string[] {
  const index = edit.at % Math.max(lines.length, 1);
  const line = lines[index] ?? '';
  const out = [...lines];
  switch (edit.kind) {
    case 'tab': out[index] = line.replace(/^( *)/, (spaces) => '\t'.repeat(Math.max(1, spaces.length / 2))); break;
    case 'duplicate': out.splice(index, 0, line); break;
    case 'delete': out.splice(index, 1); break;
    case 'truncate': out[index] = line.slice(0, edit.cut % (line.length + 1)); break;
    case 'anchor': out[index] = line.replace(/:(\s|$)/, ': &anchor$1'); out.push(`extra: *anchor`); break;
    case 'insert': out.splice(index, 0, `${line.match(/^\s*/)?.[0] ?? ''}${edit.text}`); break;
    case 'dedent': out[index] = line.trimStart(); break;
    case 'bomb': out.unshift('a: &a [x, x, x, x, x, x, x, x, x, x]', 'b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]', 'c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]', 'd: [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]'); break;
    default: out[index] = line.replace(/: .*/, `: ${'y'.repeat(20_000 + edit.cut % 1000)}`);
  }
  return out;
}
const textual = fc
  .tuple(fc.nat({ max: exampleTexts.length - 1 }), fc.array(lineEdit, { minLength: 1, maxLength: 4 }))
  .map(([which, edits]) => edits.reduce(applyLineEdit, (exampleTexts[which] ?? '').split('\n')).join('\n'));

const yamlChars = fc.constantFrom(...'abc:-[]{}&*!|>\'"#%@`,? \t\n0123456789.~$'.split(''));
const randomYaml = fc.oneof(
  fc.string({ unit: yamlChars, maxLength: 200 }),
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.jsonValue({ maxDepth: 4 }).map((value) => stringifyYaml(value)),
  fc.jsonValue({ maxDepth: 4 }).map((value) => JSON.stringify(value)),
  fc.tuple(fc.integer({ min: 100, max: 3000 }), fc.constantFrom('[', '{', '- ', '  ')).map(([depth, open]) => open.repeat(depth)),
);

describe('parseSpec under fuzzing', () => {
  it('parses every shipped example (the baseline the mutations start from)', () => {
    expect(exampleTexts.length).toBeGreaterThanOrEqual(2);
    for (const text of exampleTexts) expect(checkParse(text).problems).toEqual([]);
  });

  it('never throws on random YAML and answers each bad input with placed problems', { timeout: 60_000 }, () => {
    fc.assert(fc.property(randomYaml, (text) => void checkParse(text)), { seed: 1101, numRuns: runs });
  });

  it('never throws on structural mutations of the examples', { timeout: 60_000 }, () => {
    fc.assert(fc.property(structural, (text) => void checkParse(text)), { seed: 1102, numRuns: runs / 2 });
  });

  it('never throws on hand-edit mutations of the examples (tabs, duplicate keys, anchors, alias bombs)', { timeout: 60_000 }, () => {
    fc.assert(fc.property(textual, (text) => void checkParse(text)), { seed: 1103, numRuns: runs / 2 });
  });

  it('ran at least 10,000 inputs in total, and still parses a valid example after all of them', () => {
    expect(inputsRun).toBeGreaterThanOrEqual(2 * runs);
    for (const text of exampleTexts) expect(checkParse(text).ok).toBe(true);
  });
});
