/**
 * Promote's definition of the migration format (format.ts) is faithful to pgroll's own schema.json,
 * read from ../shared/conformance/pgroll and compiled here, in the test only: the same fields, types
 * and required fields everywhere, and the same verdict (both accept, or both refuse) on pgroll's
 * examples, on every single-field change of a valid operation of each kind, and on random mutations
 * of the examples.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { pgrollOperations, pgrollValidators, withPgrollConformance, type PgrollSchema } from '../../test/helpers/conformance.js';
import { migrationShape, operationShapes, type JsonSchema } from './format.js';
import { OPERATION_NAMES } from './operations.js';
import { isValidMigration, schemaProblems } from './schema-validate.js';

type Node = Record<string, unknown> | unknown[];

/**
 * What a schema says about the shape of a value: types, fields, required fields, allowed values,
 * items, what extra fields may hold. Rules between fields (if/then, anyOf, not) are left out: pgroll
 * and format.ts write them differently, and the verdicts below compare them.
 */
function outline(node: JsonSchema, resolve: (node: JsonSchema) => JsonSchema): unknown {
  const schema = resolve(node);
  const result: Record<string, unknown> = {};
  const types = schema.type === undefined ? [] : [schema.type].flat().map(String).sort();
  if (types.length > 0) result.type = types;
  if (Array.isArray(schema.enum)) result.enum = schema.enum.map(String).sort();
  const properties = schema.properties as Record<string, JsonSchema> | undefined;
  if (properties !== undefined) {
    result.properties = Object.fromEntries(
      Object.keys(properties)
        .sort()
        .map((name) => [name, outline(properties[name]!, resolve)]),
    );
  }
  if (Array.isArray(schema.required) && schema.required.length > 0) result.required = schema.required.map(String).sort();
  const extra = schema.additionalProperties;
  if (types.includes('object') && extra !== undefined && extra !== true) result.additionalProperties = extra === false ? false : outline(extra as JsonSchema, resolve);
  if (schema.items !== undefined) result.items = outline(schema.items as JsonSchema, resolve);
  return result;
}

const ours = (node: JsonSchema): JsonSchema => node;

function pgrollResolver(schema: PgrollSchema): (node: JsonSchema) => JsonSchema {
  const resolve = (node: JsonSchema): JsonSchema => {
    if (typeof node.$ref !== 'string') return node;
    const { $ref, ...rest } = node;
    const target = schema.$defs[String($ref).replace('#/$defs/', '')];
    if (target === undefined) throw new Error(`pgroll's schema.json has no definition ${String($ref)}`);
    return { ...resolve(target), ...rest };
  };
  return resolve;
}

/** Every field name, allowed value and fixed value pgroll's schema mentions: what mutations draw from. */
function vocabulary(schema: PgrollSchema): { fields: string[]; values: string[] } {
  const fields = new Set<string>();
  const values = new Set<string>();
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(walk);
    else if (node !== null && typeof node === 'object') {
      const record = node as Record<string, unknown>;
      if (record.properties !== null && typeof record.properties === 'object') Object.keys(record.properties).forEach((name) => fields.add(name));
      if (Array.isArray(record.enum)) record.enum.forEach((value) => values.add(String(value)));
      if (typeof record.const === 'string') values.add(record.const);
      Object.values(record).forEach(walk);
    }
  };
  walk(schema.$defs);
  return { fields: [...fields].sort(), values: [...values].sort() };
}

/** Values of every JSON type, some shaped like the format's nested mappings. */
const VALUES: unknown[] = [
  '',
  'a > 0',
  'x',
  true,
  false,
  null,
  0,
  1.5,
  [],
  ['a'],
  [{ column: 'a' }],
  {},
  { name: 'n' },
  { table: 't', columns: ['a'] },
  { name: 'n', table: 't', column: 'c' },
  { name: 'n', constraint: 'a > 0' },
  { index_method: 'gist', elements: 'a WITH &&' },
  { a: 'x' },
];
const TYPOS = ['tabel', 'nulable', 'colums', 'onComplet', 'x'];

/** A valid operation of each kind, and of each constraint type: the bases of the single-field changes. */
const BASES: Record<string, unknown>[] = [
  { add_column: { table: 't', up: '0', column: { name: 'c', type: 'int', references: { name: 'fk', table: 'u', column: 'id' }, check: { name: 'ck', constraint: 'c > 0' } } } },
  { alter_column: { table: 't', column: 'c', up: 'c', down: 'c', type: 'bigint' } },
  { rename_column: { table: 't', from: 'a', to: 'b' } },
  { create_index: { name: 'i', table: 't', columns: [{ column: 'a', sort: 'DESC', opclass: { name: 'o', params: ['p'] } }] } },
  ...['unique', 'check', 'primary_key', 'foreign_key', 'exclude'].map((type) => ({
    create_table: {
      name: 't',
      columns: [{ name: 'a', type: 'int', generated: { identity: { user_specified_values: 'ALWAYS' } } }],
      constraints: [{ name: 'c', type, ...(type === 'check' ? { check: 'a > 0' } : {}), ...(type === 'exclude' ? { exclude: { index_method: 'gist' } } : { columns: ['a'] }), ...(type === 'foreign_key' ? { references: { table: 'u', columns: ['id'] } } : {}) }],
    },
  })),
  { drop_column: { table: 't', column: 'c', down: '0' } },
  { drop_constraint: { name: 'c', table: 't', up: 'a', down: 'a' } },
  { drop_multicolumn_constraint: { name: 'c', table: 't', down: { a: 'a' }, up: { a: 'a' } } },
  { rename_constraint: { table: 't', from: 'a', to: 'b' } },
  { drop_index: { name: 'i' } },
  { drop_table: { name: 't' } },
  { sql: { up: 'select 1' } },
  { sql: { up: 'select 1', down: 'select 2' } },
  { sql: { up: 'select 1', onComplete: true } },
  { rename_table: { from: 'a', to: 'b' } },
  { set_replica_identity: { table: 't', identity: { type: 'index', index: 'i' } } },
  ...['unique', 'check', 'foreign_key', 'primary_key'].map((type) => ({
    create_constraint: {
      name: 'c',
      table: 't',
      type,
      up: { a: 'a' },
      down: { a: 'a' },
      ...(type === 'check' ? { check: 'a > 0' } : { columns: ['a'] }),
      ...(type === 'foreign_key' ? { references: { table: 'u', columns: ['id'] } } : {}),
    },
  })),
];

/** Every mapping inside `node`, with itself first. */
function mappings(node: unknown, found: Record<string, unknown>[] = []): Record<string, unknown>[] {
  if (node !== null && typeof node === 'object') {
    if (!Array.isArray(node)) found.push(node as Record<string, unknown>);
    for (const child of Object.values(node)) mappings(child, found);
  }
  return found;
}

/** Every place a value sits inside `node`: a field of a mapping or an item of a list. */
function slots(node: unknown, found: [Node, string | number][] = []): [Node, string | number][] {
  if (node !== null && typeof node === 'object') {
    for (const [key, child] of Object.entries(node)) {
      found.push([node as Node, Array.isArray(node) ? Number(key) : key]);
      slots(child, found);
    }
  }
  return found;
}

const set = (node: Node, key: string | number, value: unknown): void => {
  (node as Record<string | number, unknown>)[key] = value;
};

withPgrollConformance((conformance) => {
  const pgroll = pgrollValidators(conformance.schema);
  const words = vocabulary(conformance.schema);
  const examples = conformance.names.map((name) => ({ name, data: parse(conformance.texts.get(name)!, { version: '1.1' }) as unknown }));

  /**
   * Where Promote's verdict on the migration or one of its operations differs from pgroll's, if
   * anywhere. `quick` compares the verdict on the whole migration only, without the explanations.
   */
  function disagreement(data: unknown, quick = false): string | undefined {
    const accepted = pgroll.migration(data) === true;
    const pgrollSays = () => `pgroll ${accepted ? 'accepts' : 'refuses'} ${JSON.stringify(data)}`;
    if (isValidMigration(data) !== accepted) return `${pgrollSays()}; isValidMigration says ${String(!accepted)}`;
    if (quick) return undefined;
    const { problems, validOperations } = schemaProblems(data);
    if ((problems.length === 0) !== accepted) return `${pgrollSays()}; the problems are ${JSON.stringify(problems)}`;
    const operations = (data as { operations?: unknown } | null)?.operations;
    if (data === null || typeof data !== 'object' || Array.isArray(data) || !Array.isArray(operations)) return undefined;
    const index = operations.findIndex((operation, at) => validOperations.has(at) !== (pgroll.operation(operation) === true));
    return index === -1 ? undefined : `operations[${index}] of ${JSON.stringify(data)}: pgroll ${validOperations.has(index) ? 'refuses' : 'accepts'} it, Promote does not`;
  }

  function expectSameVerdict(data: unknown, quick = false): void {
    const difference = disagreement(data, quick);
    if (difference !== undefined) expect.fail(difference);
  }

  describe("format.ts has pgroll's structure", () => {
    const resolve = pgrollResolver(conformance.schema);
    const operations = pgrollOperations(conformance.schema);

    it.each(OPERATION_NAMES)('%s: the same fields, types, allowed values and required fields, all the way down', (name) => {
      expect(outline(operationShapes[name].json, ours)).toEqual(outline(operations.get(name)! as JsonSchema, resolve));
    });

    it('the migration itself: the same fields beside operations', () => {
      const withoutOperations = (node: JsonSchema) => ({ ...node, properties: { ...(node.properties as object), operations: {} } });
      expect(outline(withoutOperations(migrationShape.json), ours)).toEqual(outline(withoutOperations(conformance.schema.$defs.PgRollMigration! as JsonSchema), resolve));
    });
  });

  describe("the same verdicts as pgroll's schema", () => {
    it.each(examples)('accepts $name, as pgroll does', ({ data }) => {
      expect(pgroll.migration(data)).toBe(true);
      expectSameVerdict(data);
    });

    it('on every valid operation of each kind, with one field removed, added, or set to a value of each type', () => {
      let refused = 0;
      let cases = 0;
      for (const base of BASES) {
        expectSameVerdict({ operations: [base] });
        expect(pgroll.operation(base), JSON.stringify(base)).toBe(true);
        const places = mappings(structuredClone(base)).length;
        for (let at = 0; at < places; at++) {
          const changes: ((node: Record<string, unknown>) => void)[] = [];
          const fields = Object.keys(mappings(base)[at]!);
          for (const field of fields) changes.push((node) => delete node[field]);
          for (const field of [...words.fields, ...TYPOS]) for (const value of VALUES) changes.push((node) => (node[field] = structuredClone(value)));
          for (const field of fields) for (const value of words.values) changes.push((node) => (node[field] = value));
          for (const change of changes) {
            const copy = structuredClone(base);
            change(mappings(copy)[at]!);
            // one in 20 explained too: the verdict of schemaProblems is the one users see
            expectSameVerdict({ operations: [copy] }, cases % 20 !== 0);
            cases++;
            if (!isValidMigration({ operations: [copy] })) refused++;
          }
        }
      }
      // most changes break the operation, and thousands do not: both verdicts are compared
      expect(refused).toBeGreaterThan(cases / 2);
      expect(cases - refused).toBeGreaterThan(1000);
    }, 120_000);

    it('on sql with and without down and onComplete, and alter_column with each change alone or none', () => {
      for (const down of [undefined, '', 'select 2']) {
        for (const onComplete of [undefined, true, false]) expectSameVerdict({ operations: [{ sql: { up: 'select 1', down, onComplete } }] });
      }
      const changes: Record<string, unknown> = { check: { name: 'c', constraint: 'a > 0' }, type: 'text', nullable: true, default: null, comment: null, unique: { name: 'u' }, references: { name: 'f', table: 'u', column: 'id' } };
      expectSameVerdict({ operations: [{ alter_column: { table: 't', column: 'a', up: 'a', down: 'a' } }] });
      for (const [field, value] of Object.entries(changes)) expectSameVerdict({ operations: [{ alter_column: { table: 't', column: 'a', up: 'a', down: 'a', [field]: value } }] });
    });

    const mutation = fc.record({
      kind: fc.constantFrom('removeField', 'addField', 'changeType', 'renameOperation', 'changeValue'),
      where: fc.nat(),
      what: fc.nat(),
      value: fc.nat(),
    });
    type Mutation = typeof mutation extends fc.Arbitrary<infer T> ? T : never;

    /** Changes `data` in place, as a person editing a migration might by mistake (or on purpose). */
    function mutate(data: unknown, { kind, where, what, value }: Mutation): void {
      const pick = <T>(items: readonly T[], index: number): T | undefined => (items.length === 0 ? undefined : items[index % items.length]);
      if (kind === 'removeField' || kind === 'addField') {
        const node = pick(mappings(data), where);
        if (node === undefined) return;
        if (kind === 'removeField') {
          const field = pick(Object.keys(node), what);
          if (field !== undefined) delete node[field];
        } else node[pick([...words.fields, ...TYPOS], what)!] = structuredClone(pick(VALUES, value));
        return;
      }
      if (kind === 'renameOperation') {
        const operations = (data as { operations?: unknown }).operations;
        const entry = Array.isArray(operations) ? (pick(operations, where) as Record<string, unknown> | undefined) : undefined;
        const [name] = entry !== null && typeof entry === 'object' ? Object.keys(entry) : [];
        if (entry === undefined || name === undefined) return;
        entry[pick([...OPERATION_NAMES, 'add_colum', 'create_enum'], what)!] = entry[name];
        delete entry[name];
        return;
      }
      const place = pick(slots(data), where);
      if (place === undefined) return;
      set(place[0], place[1], kind === 'changeType' ? structuredClone(pick(VALUES, value)) : pick(words.values, value));
    }

    it('on random mutations of the examples: fields removed, fields added, types changed, operations renamed, values changed', () => {
      let refused = 0;
      let runs = 0;
      fc.assert(
        fc.property(fc.constantFrom(...examples), fc.array(mutation, { minLength: 1, maxLength: 3 }), ({ data }, mutations) => {
          const copy = structuredClone(data);
          for (const change of mutations) mutate(copy, change);
          expectSameVerdict(copy);
          runs++;
          if (pgroll.migration(copy) !== true) refused++;
        }),
        { numRuns: 3000 },
      );
      expect(refused).toBeGreaterThan(runs / 10);
      expect(runs - refused).toBeGreaterThan(runs / 20);
    });
  });
});
