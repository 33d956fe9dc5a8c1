import { describe, expect, it } from 'vitest';
import { pgrollOperations, withPgrollConformance } from '../../test/helpers/conformance.js';
import { fromEntry, isOperationName, OPERATION_NAMES, toEntry, type Operation, type OperationBodies, type OperationName } from './operations.js';

type Presence<T> = { [F in keyof T]-?: undefined extends T[F] ? 'optional' : 'required' };

/**
 * Each operation's fields as the TypeScript types declare them. The compiler checks this table
 * against the interfaces (a field missing, extra, or optional where the type requires it is a type
 * error); the test checks it against pgroll's schema.json, read from ../shared/conformance/pgroll.
 * Together: the types mirror pgroll's schema. (format.ts is tied to the same types by the compiler.)
 */
const declared: { [K in OperationName]: Presence<OperationBodies[K]> } = {
  add_column: { table: 'required', column: 'required', up: 'optional' },
  alter_column: {
    table: 'required',
    column: 'required',
    up: 'required',
    down: 'required',
    type: 'optional',
    nullable: 'optional',
    default: 'optional',
    comment: 'optional',
    unique: 'optional',
    check: 'optional',
    references: 'optional',
  },
  rename_column: { table: 'required', from: 'required', to: 'required' },
  create_index: {
    name: 'required',
    table: 'required',
    columns: 'required',
    predicate: 'optional',
    method: 'optional',
    storage_parameters: 'optional',
    unique: 'optional',
  },
  create_table: { name: 'required', columns: 'required', comment: 'optional', constraints: 'optional' },
  drop_column: { table: 'required', column: 'required', down: 'optional' },
  drop_constraint: { name: 'required', table: 'required', up: 'required', down: 'required' },
  drop_multicolumn_constraint: { name: 'required', table: 'required', down: 'required', up: 'optional' },
  rename_constraint: { table: 'required', from: 'required', to: 'required' },
  drop_index: { name: 'required' },
  drop_table: { name: 'required' },
  sql: { up: 'required', down: 'optional', onComplete: 'optional' },
  rename_table: { from: 'required', to: 'required' },
  set_replica_identity: { table: 'required', identity: 'required' },
  create_constraint: {
    name: 'required',
    table: 'required',
    type: 'required',
    up: 'required',
    down: 'required',
    columns: 'optional',
    check: 'optional',
    no_inherit: 'optional',
    index_parameters: 'optional',
    references: 'optional',
  },
};

describe("the operation types mirror pgroll's schema.json", () => {
  withPgrollConformance(({ schema }) => {
    const operations = pgrollOperations(schema);

    it('has the same operations, in the same order', () => {
      expect([...operations.keys()]).toEqual([...OPERATION_NAMES]);
      expect(Object.keys(declared).sort()).toEqual([...OPERATION_NAMES].sort());
    });

    it.each(OPERATION_NAMES)('%s has the same fields, required where the schema requires them', (name) => {
      const definition = operations.get(name);
      expect(definition, `pgroll's schema defines ${name}`).toBeDefined();
      const required = definition?.required ?? [];
      const fromSchema = Object.fromEntries(Object.keys(definition?.properties ?? {}).map((field) => [field, required.includes(field) ? 'required' : 'optional']));
      expect(declared[name]).toEqual(fromSchema);
    });
  });
});

describe('operations', () => {
  it('converts between the file form and the tagged form', () => {
    const operation: Operation = { kind: 'drop_column', table: 'fruits', column: 'price', down: '0' };
    expect(toEntry(operation)).toEqual({ drop_column: { table: 'fruits', column: 'price', down: '0' } });
    expect(fromEntry(toEntry(operation))).toEqual(operation);
    expect(isOperationName('sql')).toBe(true);
    expect(isOperationName('create_enum')).toBe(false);
  });
});
