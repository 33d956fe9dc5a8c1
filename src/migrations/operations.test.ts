import { describe, expect, it } from 'vitest';
import pgrollSchema from './pgroll-schema.json' with { type: 'json' };
import { fromEntry, isOperationName, OPERATION_NAMES, toEntry, type Operation, type OperationBodies, type OperationName } from './operations.js';
import { operationDefinitions } from './schema-validate.js';

type Presence<T> = { [F in keyof T]-?: undefined extends T[F] ? 'optional' : 'required' };

/**
 * Each operation's fields as the TypeScript types declare them. The compiler checks this table
 * against the interfaces (a field missing, extra, or optional where the type requires it is a type
 * error); the test checks it against pgroll-schema.json. Together: the types mirror the schema.
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

describe('the operation types mirror pgroll-schema.json', () => {
  it('has the same operations, in the same order', () => {
    expect([...operationDefinitions.keys()]).toEqual([...OPERATION_NAMES]);
    expect(Object.keys(declared).sort()).toEqual([...OPERATION_NAMES].sort());
  });

  it.each(OPERATION_NAMES)('%s has the same fields, required where the schema requires them', (name) => {
    const definition = (pgrollSchema.$defs as unknown as Record<string, { properties: Record<string, unknown>; required: string[] }>)[operationDefinitions.get(name)!]!;
    const fromSchema = Object.fromEntries(Object.keys(definition.properties).map((field) => [field, definition.required.includes(field) ? 'required' : 'optional']));
    expect(declared[name]).toEqual(fromSchema);
  });

  it('converts between the file form and the tagged form', () => {
    const operation: Operation = { kind: 'drop_column', table: 'fruits', column: 'price', down: '0' };
    expect(toEntry(operation)).toEqual({ drop_column: { table: 'fruits', column: 'price', down: '0' } });
    expect(fromEntry(toEntry(operation))).toEqual(operation);
    expect(isOperationName('sql')).toBe(true);
    expect(isOperationName('create_enum')).toBe(false);
  });
});
