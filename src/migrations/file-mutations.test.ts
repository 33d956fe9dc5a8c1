/**
 * Bad input, generated: random edits of pgroll's examples (as text, and as data written back as YAML
 * or JSON) never crash the loader, every rejection points inside the file, and the loader never
 * accepts what pgroll's schema refuses. The examples and the schema are read from
 * ../shared/conformance/pgroll.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { pgrollValidators, withPgrollConformance } from '../../test/helpers/conformance.js';
import { parseMigration, type MigrationLoad } from './file.js';

/** Every problem of a rejection sits on a line of the text, at most one column past its end. */
function expectPositionsInside(result: MigrationLoad, text: string): void {
  const lines = text.split('\n');
  const problems = result.ok ? result.warnings : result.problems;
  if (!result.ok) expect(problems.some((problem) => problem.severity === 'error')).toBe(true);
  for (const problem of problems) {
    expect(problem.line, problem.message).toBeGreaterThanOrEqual(1);
    expect(problem.line, problem.message).toBeLessThanOrEqual(lines.length);
    expect(problem.column, problem.message).toBeGreaterThanOrEqual(1);
    expect(problem.column, problem.message).toBeLessThanOrEqual((lines[problem.line - 1] ?? '').length + 1);
    expect(problem.message.length).toBeGreaterThan(0);
  }
}

const yamlishText = fc.string({ unit: fc.constantFrom(...'ab_1 :-{}[]"\'#&*!|>,\n\t?%@`'.split(''), 'true', 'null', '\u00e9', '\ud83d\ude00'), maxLength: 12 });

const textEdit = fc.oneof(
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 20 }) }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), text: yamlishText }),
  fc.record({ kind: fc.constant('swapLines' as const), a: fc.nat(), b: fc.nat() }),
  fc.record({ kind: fc.constant('duplicateLine' as const), a: fc.nat() }),
);
type TextEdit = typeof textEdit extends fc.Arbitrary<infer T> ? T : never;

function applyText(text: string, edit: TextEdit): string {
  if (edit.kind === 'delete' || edit.kind === 'insert') {
    const at = text.length === 0 ? 0 : edit.at % (text.length + 1);
    return edit.kind === 'delete' ? text.slice(0, at) + text.slice(at + edit.length) : text.slice(0, at) + edit.text + text.slice(at);
  }
  const lines = text.split('\n');
  const a = edit.a % lines.length;
  if (edit.kind === 'duplicateLine') lines.splice(a, 0, lines[a]!);
  else {
    const b = edit.b % lines.length;
    [lines[a], lines[b]] = [lines[b]!, lines[a]!];
  }
  return lines.join('\n');
}

/** Edits of the parsed data: at a node chosen by a number, do something a person might do by mistake. */
const dataEdit = fc.record({
  target: fc.nat(),
  kind: fc.constantFrom('delete', 'rename', 'replace', 'addField', 'wrap', 'duplicateItem'),
  key: fc.constantFrom('nulable', 'up', 'down', 'type', 'tabel', 'columns', 'add_colum', 'sql', 'x'),
  value: fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.constantFrom('', 'yes', 'no', '0', '1.5', 'null', '~', '- a', 'a: b', 'serial')),
});
type DataEdit = typeof dataEdit extends fc.Arbitrary<infer T> ? T : never;

function containers(node: unknown, found: (Record<string, unknown> | unknown[])[] = []): (Record<string, unknown> | unknown[])[] {
  if (node !== null && typeof node === 'object') {
    found.push(node as Record<string, unknown> | unknown[]);
    for (const child of Object.values(node)) containers(child, found);
  }
  return found;
}

function applyData(data: unknown, edit: DataEdit): unknown {
  const all = containers(data);
  const node = all[edit.target % all.length]!;
  const keys = Object.keys(node);
  const key = keys.length === 0 ? undefined : keys[edit.target % keys.length]!;
  if (Array.isArray(node)) {
    const index = key === undefined ? 0 : Number(key);
    if (edit.kind === 'delete') node.splice(index, 1);
    else if (edit.kind === 'duplicateItem' && key !== undefined) node.splice(index, 0, structuredClone(node[index]));
    else if (edit.kind === 'wrap') node[index] = [node[index]];
    else node[index] = edit.value;
    return data;
  }
  if (edit.kind === 'delete' && key !== undefined) delete node[key];
  else if (edit.kind === 'rename' && key !== undefined) {
    node[edit.key] = node[key];
    delete node[key];
  } else if (edit.kind === 'replace' && key !== undefined) node[key] = edit.value;
  else if (edit.kind === 'wrap' && key !== undefined) node[key] = [node[key]];
  else node[edit.key] = edit.value;
  return data;
}

describe('random edits of the pgroll examples', () => {
  withPgrollConformance(({ names, texts, schema }) => {
    const example = fc.constantFrom(...names.map((name) => texts.get(name)!));
    const pgroll = pgrollValidators(schema);

    it('as text, never crash the loader, and every rejection points inside the file', () => {
      fc.assert(
        fc.property(example, fc.array(textEdit, { minLength: 1, maxLength: 4 }), fc.constantFrom('.yaml', '.json'), (original, edits, extension) => {
          const source = extension === '.json' ? JSON.stringify(parse(original), null, 2) : original;
          const text = edits.reduce(applyText, source);
          const result = parseMigration(text, `migrations/01_x${extension}`);
          expectPositionsInside(result, text);
        }),
        { numRuns: 600 },
      );
    });

    it('as data written back as YAML or JSON, are accepted only when pgroll\'s schema accepts them', () => {
      fc.assert(
        fc.property(example, fc.array(dataEdit, { minLength: 1, maxLength: 3 }), fc.boolean(), (original, edits, asJson) => {
          const data = edits.reduce(applyData, parse(original) as unknown);
          // written as YAML 1.1, text that 1.1 would read as a boolean is quoted, so the data survives
          const text = asJson ? JSON.stringify(data, null, 2) : stringify(data, { version: '1.1' });
          const result = parseMigration(text, `migrations/01_x${asJson ? '.json' : '.yaml'}`);
          expectPositionsInside(result, text);
          if (pgroll.migration(data) !== true) expect(result.ok).toBe(false);
          if (result.ok) expect(pgroll.migration(data)).toBe(true);
        }),
        { numRuns: 600 },
      );
    });
  });
});
