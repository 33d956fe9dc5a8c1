/**
 * The operations of a pgroll migration as TypeScript types, field for field, so the code that runs
 * them is checked by the compiler. format.ts defines what a file may contain in terms of these types
 * (the compiler rejects a field missing, extra, or required in one and optional in the other), and
 * operations.test.ts checks these names and fields against pgroll's own schema, read from
 * ../shared/conformance at test time.
 */

export interface CheckConstraint {
  name: string;
  /** the check expression */
  constraint: string;
  no_inherit?: boolean;
}

export type ForeignKeyAction = 'NO ACTION' | 'RESTRICT' | 'CASCADE' | 'SET NULL' | 'SET DEFAULT';
export type ForeignKeyMatchType = 'SIMPLE' | 'FULL' | 'PARTIAL';

export interface ForeignKeyReference {
  name: string;
  table: string;
  column: string;
  match_type?: ForeignKeyMatchType;
  on_delete?: ForeignKeyAction;
  on_update?: ForeignKeyAction;
  deferrable?: boolean;
  initially_deferred?: boolean;
}

export interface TableForeignKeyReference {
  table: string;
  columns: string[];
  match_type?: ForeignKeyMatchType;
  on_delete?: ForeignKeyAction;
  on_update?: ForeignKeyAction;
  on_delete_set_columns?: string[];
}

export interface Column {
  name: string;
  type: string;
  /** pgroll's default is false: a column is NOT NULL unless it says otherwise */
  nullable?: boolean;
  pk?: boolean;
  unique?: boolean;
  /** an SQL expression, e.g. `'100'` or `now()` */
  default?: string;
  comment?: string;
  check?: CheckConstraint;
  references?: ForeignKeyReference;
  generated?: GeneratedColumn;
}

/** A generated column: computed from an expression, or an identity column fed by a sequence. */
export interface GeneratedColumn {
  expression?: string;
  identity?: IdentityColumn;
}

export interface IdentityColumn {
  /** as in CREATE SEQUENCE */
  sequence_options?: string;
  user_specified_values?: 'ALWAYS' | 'BY DEFAULT';
}

export interface IndexParameters {
  tablespace?: string;
  storage_parameters?: string;
  include_columns?: string[];
}

/** A table-level constraint of create_table. */
export interface Constraint {
  name: string;
  type: 'unique' | 'check' | 'primary_key' | 'foreign_key' | 'exclude';
  columns?: string[];
  check?: string;
  deferrable?: boolean;
  initially_deferred?: boolean;
  nulls_not_distinct?: boolean;
  no_inherit?: boolean;
  references?: TableForeignKeyReference;
  exclude?: ExcludeConstraint;
  index_parameters?: IndexParameters;
}

export interface ExcludeConstraint {
  index_method?: string;
  elements?: string;
  predicate?: string;
}

export interface IndexField {
  column: string;
  collate?: string;
  sort?: 'ASC' | 'DESC';
  nulls?: 'FIRST' | 'LAST';
  opclass?: OperatorClass;
}

export interface OperatorClass {
  name?: string;
  params?: string[];
}

/** Column name -> SQL expression, for the multi-column operations. */
export type MultiColumnSql = Record<string, string>;

export interface CreateTable {
  name: string;
  columns: Column[];
  comment?: string;
  constraints?: Constraint[];
}

export interface AddColumn {
  table: string;
  column: Column;
  /** the value of the new column for existing rows and for rows the old version writes */
  up?: string;
}

export interface AlterColumn {
  table: string;
  column: string;
  up: string;
  down: string;
  type?: string;
  nullable?: boolean;
  /** null drops the default */
  default?: string | null;
  /** null removes the comment */
  comment?: string | null;
  unique?: UniqueConstraint;
  check?: CheckConstraint;
  references?: ForeignKeyReference;
}

export interface UniqueConstraint {
  name: string;
}

export interface RenameColumn {
  table: string;
  from: string;
  to: string;
}

export interface DropColumn {
  table: string;
  column: string;
  /** the value the old version sees for rows the new version writes */
  down?: string;
}

export interface RenameTable {
  from: string;
  to: string;
}

export interface DropTable {
  name: string;
}

export interface CreateIndex {
  name: string;
  table: string;
  columns: IndexField[];
  predicate?: string;
  method?: 'btree' | 'hash' | 'gist' | 'spgist' | 'gin' | 'brin';
  storage_parameters?: string;
  unique?: boolean;
}

export interface DropIndex {
  name: string;
}

export interface CreateConstraint {
  name: string;
  table: string;
  type: 'unique' | 'check' | 'foreign_key' | 'primary_key';
  up: MultiColumnSql;
  down: MultiColumnSql;
  columns?: string[];
  check?: string;
  no_inherit?: boolean;
  index_parameters?: IndexParameters;
  references?: TableForeignKeyReference;
}

export interface DropConstraint {
  name: string;
  table: string;
  up: string;
  down: string;
}

export interface DropMultiColumnConstraint {
  name: string;
  table: string;
  down: MultiColumnSql;
  up?: MultiColumnSql;
}

export interface RenameConstraint {
  table: string;
  from: string;
  to: string;
}

export interface SetReplicaIdentity {
  table: string;
  identity: ReplicaIdentity;
}

export interface ReplicaIdentity {
  type: string;
  index: string;
}

export interface RawSql {
  up: string;
  down?: string;
  /** run `up` on complete instead of on start */
  onComplete?: boolean;
}

/** Each operation's name, as the key of its entry in `operations:`, and its fields. */
export interface OperationBodies {
  add_column: AddColumn;
  alter_column: AlterColumn;
  rename_column: RenameColumn;
  create_index: CreateIndex;
  create_table: CreateTable;
  drop_column: DropColumn;
  drop_constraint: DropConstraint;
  drop_multicolumn_constraint: DropMultiColumnConstraint;
  rename_constraint: RenameConstraint;
  drop_index: DropIndex;
  drop_table: DropTable;
  sql: RawSql;
  rename_table: RenameTable;
  set_replica_identity: SetReplicaIdentity;
  create_constraint: CreateConstraint;
}

export type OperationName = keyof OperationBodies;

/** The operation names, in the order pgroll's schema lists them (and messages name them). */
export const OPERATION_NAMES = [
  'add_column',
  'alter_column',
  'rename_column',
  'create_index',
  'create_table',
  'drop_column',
  'drop_constraint',
  'drop_multicolumn_constraint',
  'rename_constraint',
  'drop_index',
  'drop_table',
  'sql',
  'rename_table',
  'set_replica_identity',
  'create_constraint',
] as const satisfies readonly OperationName[];

/** One operation, tagged with its name: `switch (operation.kind)` narrows to its fields. */
export type Operation = { [K in OperationName]: { kind: K } & OperationBodies[K] }[OperationName];

/** One operation as a migration file writes it: a mapping with one key, the operation's name. */
export type OperationEntry = { [K in OperationName]: { [P in K]: OperationBodies[P] } }[OperationName];

/** The file form of an operation (what the checksum covers). */
export function toEntry(operation: Operation): OperationEntry {
  const { kind, ...body } = operation;
  return { [kind]: body } as OperationEntry;
}

/** The tagged form of an entry that has passed validation (one key, a known operation name). */
export function fromEntry(entry: OperationEntry): Operation {
  const [kind, body] = Object.entries(entry)[0] as [OperationName, object];
  return { kind, ...body } as Operation;
}

export function isOperationName(name: string): name is OperationName {
  return (OPERATION_NAMES as readonly string[]).includes(name);
}
