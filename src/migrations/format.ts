/**
 * What a migration file may contain: pgroll's operation format (an `operations:` list of mappings
 * with one key, the operation's name), defined here by Promote as a JSON Schema built from the
 * TypeScript types of operations.ts. Each mapping is declared against its type, so the compiler
 * rejects a field that is missing, extra, of another type, or required in one and optional in the
 * other. schema-validate.ts validates files with it and explains its errors.
 *
 * pgroll publishes a JSON Schema of its own; Promote does not ship it. The tests read it from
 * ../shared/conformance and check that this definition accepts and refuses exactly what it does, on
 * pgroll's examples and on thousands of mutations of them (schema-validate.test.ts).
 */
import {
  OPERATION_NAMES,
  type AddColumn,
  type AlterColumn,
  type CheckConstraint,
  type Column,
  type Constraint,
  type CreateConstraint,
  type CreateIndex,
  type CreateTable,
  type DropColumn,
  type DropConstraint,
  type DropIndex,
  type DropMultiColumnConstraint,
  type DropTable,
  type ExcludeConstraint,
  type ForeignKeyAction,
  type ForeignKeyMatchType,
  type ForeignKeyReference,
  type GeneratedColumn,
  type IdentityColumn,
  type IndexField,
  type IndexParameters,
  type MultiColumnSql,
  type OperationBodies,
  type OperationEntry,
  type OperatorClass,
  type RawSql,
  type RenameColumn,
  type RenameConstraint,
  type RenameTable,
  type ReplicaIdentity,
  type SetReplicaIdentity,
  type TableForeignKeyReference,
  type UniqueConstraint,
} from './operations.js';

export interface JsonSchema {
  [keyword: string]: unknown;
}

/**
 * A JSON Schema for values of type T. T is for the compiler only, and exact: a shape of `string`
 * does not fit a field typed `string | null`, nor the other way round.
 */
export interface Shape<T> {
  readonly json: JsonSchema;
  readonly valueType?: (value: T) => T;
}

const shape = <T>(json: JsonSchema): Shape<T> => ({ json });

const text = shape<string>({ type: 'string' });
const flag = shape<boolean>({ type: 'boolean' });
/** `null` is meaningful where it is allowed: it drops the default or the comment. */
const textOrNull = shape<string | null>({ type: ['string', 'null'] });
const listOf = <T>(item: Shape<T>): Shape<T[]> => shape({ type: 'array', items: item.json });
const choice = <const V extends string>(...values: V[]): Shape<V> => shape({ type: 'string', enum: values });
/** Column name -> SQL expression. */
const sqlPerColumn = shape<MultiColumnSql>({ type: 'object', additionalProperties: text.json });

interface Field<T, IsRequired extends boolean> {
  shape: Shape<T>;
  required: IsRequired;
}
const required = <T>(of: Shape<T>): Field<T, true> => ({ shape: of, required: true });
const optional = <T>(of: Shape<T>): Field<T, false> => ({ shape: of, required: false });

/** Every field of T, required exactly where T requires it. */
type Fields<T> = { [F in keyof T]-?: Field<Exclude<T[F], undefined>, undefined extends T[F] ? false : true> };

/**
 * A mapping with the fields of T and no others, in the order given (messages list them in it), and
 * the rules that tie fields together.
 */
function mapping<T>(fields: Fields<T>, ...rules: JsonSchema[]): Shape<T> {
  const entries = Object.entries(fields) as [string, Field<unknown, boolean>][];
  return shape({
    type: 'object',
    properties: Object.fromEntries(entries.map(([name, field]) => [name, field.shape.json])),
    required: entries.filter(([, field]) => field.required).map(([name]) => name),
    additionalProperties: false,
    ...(rules.length === 0 ? {} : { allOf: rules }),
  });
}

/** At least one of the fields must be given (explained as "needs at least one of ..."). */
function atLeastOneOf<T>(...fields: (keyof T & string)[]): JsonSchema {
  return { anyOf: fields.map((field) => ({ required: [field] })) };
}

/** The two fields exclude each other (explained as "... cannot be used together"). */
function notBoth<T>(first: keyof T & string, second: keyof T & string): JsonSchema {
  return { not: { required: [first, second] } };
}

interface TypeRule<T> {
  /** fields that become required */
  require?: (keyof T & string)[];
  /** fields that, when given, must have exactly this value */
  fixed?: { [F in keyof T]?: T[F] };
  /** fields that must not be given */
  forbid?: (keyof T & string)[];
}

/** Rules for one value of a mapping's `type` field (explained with `when type is "..."`). */
function whenType<T extends { type: string }>(value: T['type'], rule: TypeRule<T>): JsonSchema {
  const properties: Record<string, unknown> = {};
  for (const [field, fixed] of Object.entries(rule.fixed ?? {}) as [string, unknown][]) properties[field] = { const: fixed };
  for (const field of rule.forbid ?? []) properties[field] = false;
  return {
    if: { properties: { type: { const: value } }, required: ['type'] },
    then: { properties, required: rule.require ?? [] },
  };
}

const checkConstraint = mapping<CheckConstraint>({ name: required(text), constraint: required(text), no_inherit: optional(flag) });

const foreignKeyAction = choice<ForeignKeyAction>('NO ACTION', 'RESTRICT', 'CASCADE', 'SET NULL', 'SET DEFAULT');
const matchType = choice<ForeignKeyMatchType>('SIMPLE', 'FULL', 'PARTIAL');

/** A column's reference to one column of another table. */
const foreignKeyReference = mapping<ForeignKeyReference>({
  name: required(text),
  table: required(text),
  column: required(text),
  match_type: optional(matchType),
  on_delete: optional(foreignKeyAction),
  on_update: optional(foreignKeyAction),
  deferrable: optional(flag),
  initially_deferred: optional(flag),
});

/** A table constraint's reference to columns of another table. */
const tableForeignKeyReference = mapping<TableForeignKeyReference>({
  table: required(text),
  columns: required(listOf(text)),
  match_type: optional(matchType),
  on_delete: optional(foreignKeyAction),
  on_update: optional(foreignKeyAction),
  on_delete_set_columns: optional(listOf(text)),
});

const column = mapping<Column>({
  name: required(text),
  type: required(text),
  nullable: optional(flag),
  pk: optional(flag),
  unique: optional(flag),
  default: optional(text),
  comment: optional(text),
  check: optional(checkConstraint),
  references: optional(foreignKeyReference),
  generated: optional(
    mapping<GeneratedColumn>({
      expression: optional(text),
      identity: optional(mapping<IdentityColumn>({ sequence_options: optional(text), user_specified_values: optional(choice('ALWAYS', 'BY DEFAULT')) })),
    }),
  ),
});

const indexParameters = mapping<IndexParameters>({ tablespace: optional(text), storage_parameters: optional(text), include_columns: optional(listOf(text)) });

/**
 * A table constraint of create_table. Each type takes its own fields: a check has its expression
 * and no columns to index, an exclude constraint its `exclude` and no column list, and only check
 * constraints may opt out of inheritance.
 */
const tableConstraint = mapping<Constraint>(
  {
    name: required(text),
    type: required(choice('unique', 'check', 'primary_key', 'foreign_key', 'exclude')),
    columns: optional(listOf(text)),
    check: optional(text),
    deferrable: optional(flag),
    initially_deferred: optional(flag),
    nulls_not_distinct: optional(flag),
    no_inherit: optional(flag),
    references: optional(tableForeignKeyReference),
    exclude: optional(mapping<ExcludeConstraint>({ index_method: optional(text), elements: optional(text), predicate: optional(text) })),
    index_parameters: optional(indexParameters),
  },
  whenType<Constraint>('unique', { require: ['columns'], fixed: { check: '', no_inherit: false } }),
  whenType<Constraint>('check', { require: ['check'], fixed: { index_parameters: {}, deferrable: false, initially_deferred: false, nulls_not_distinct: false } }),
  whenType<Constraint>('primary_key', { require: ['columns'], fixed: { check: '', no_inherit: false, nulls_not_distinct: false } }),
  whenType<Constraint>('foreign_key', { require: ['columns', 'references'], fixed: { check: '', index_parameters: {}, no_inherit: false, nulls_not_distinct: false } }),
  whenType<Constraint>('exclude', { require: ['exclude'], fixed: { check: '', no_inherit: false, nulls_not_distinct: false, columns: [] } }),
);

const indexField = mapping<IndexField>({
  column: required(text),
  collate: optional(text),
  sort: optional(choice('ASC', 'DESC')),
  nulls: optional(choice('FIRST', 'LAST')),
  opclass: optional(mapping<OperatorClass>({ name: optional(text), params: optional(listOf(text)) })),
});

/** Each operation's fields, by the name that keys it in a file. */
export const operationShapes: { readonly [K in keyof OperationBodies]: Shape<OperationBodies[K]> } = {
  add_column: mapping<AddColumn>({ table: required(text), column: required(column), up: optional(text) }),
  alter_column: mapping<AlterColumn>(
    {
      table: required(text),
      column: required(text),
      up: required(text),
      down: required(text),
      type: optional(text),
      nullable: optional(flag),
      default: optional(textOrNull),
      comment: optional(textOrNull),
      unique: optional(mapping<UniqueConstraint>({ name: required(text) })),
      check: optional(checkConstraint),
      references: optional(foreignKeyReference),
    },
    // an alter_column that changes nothing is a mistake
    atLeastOneOf<AlterColumn>('check', 'type', 'nullable', 'default', 'comment', 'unique', 'references'),
  ),
  rename_column: mapping<RenameColumn>({ table: required(text), from: required(text), to: required(text) }),
  create_index: mapping<CreateIndex>({
    name: required(text),
    table: required(text),
    columns: required(listOf(indexField)),
    predicate: optional(text),
    method: optional(choice('btree', 'hash', 'gist', 'spgist', 'gin', 'brin')),
    storage_parameters: optional(text),
    unique: optional(flag),
  }),
  create_table: mapping<CreateTable>({ name: required(text), columns: required(listOf(column)), comment: optional(text), constraints: optional(listOf(tableConstraint)) }),
  drop_column: mapping<DropColumn>({ table: required(text), column: required(text), down: optional(text) }),
  drop_constraint: mapping<DropConstraint>({ name: required(text), table: required(text), up: required(text), down: required(text) }),
  drop_multicolumn_constraint: mapping<DropMultiColumnConstraint>({ name: required(text), table: required(text), down: required(sqlPerColumn), up: optional(sqlPerColumn) }),
  rename_constraint: mapping<RenameConstraint>({ table: required(text), from: required(text), to: required(text) }),
  drop_index: mapping<DropIndex>({ name: required(text) }),
  drop_table: mapping<DropTable>({ name: required(text) }),
  // `down` undoes SQL run on start; SQL run on complete has nothing to undo
  sql: mapping<RawSql>({ up: required(text), down: optional(text), onComplete: optional(flag) }, notBoth<RawSql>('down', 'onComplete')),
  rename_table: mapping<RenameTable>({ from: required(text), to: required(text) }),
  set_replica_identity: mapping<SetReplicaIdentity>({ table: required(text), identity: required(mapping<ReplicaIdentity>({ type: required(text), index: required(text) })) }),
  create_constraint: mapping<CreateConstraint>(
    {
      name: required(text),
      table: required(text),
      type: required(choice('unique', 'check', 'foreign_key', 'primary_key')),
      up: required(sqlPerColumn),
      down: required(sqlPerColumn),
      columns: optional(listOf(text)),
      check: optional(text),
      no_inherit: optional(flag),
      index_parameters: optional(indexParameters),
      references: optional(tableForeignKeyReference),
    },
    whenType<CreateConstraint>('foreign_key', { require: ['columns', 'references'], fixed: { check: '', no_inherit: false } }),
    whenType<CreateConstraint>('check', { require: ['check'], forbid: ['references'] }),
    whenType<CreateConstraint>('primary_key', { require: ['columns'], fixed: { check: '', no_inherit: false }, forbid: ['references'] }),
  ),
};

/** One entry of `operations:`: a mapping with exactly one key, a known operation's name. */
const operation = shape<OperationEntry>({
  type: 'object',
  properties: Object.fromEntries(OPERATION_NAMES.map((name) => [name, operationShapes[name].json])),
  additionalProperties: false,
  minProperties: 1,
  maxProperties: 1,
});

/** A whole migration file. `name` is allowed, as pgroll allows it, but the file name names the migration. */
export const migrationShape = mapping<{ name?: string; version_schema?: string; operations: OperationEntry[] }>({
  name: optional(text),
  version_schema: optional(text),
  operations: required(listOf(operation)),
});
