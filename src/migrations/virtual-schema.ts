/**
 * The shape each version of the app sees, as opposed to the tables as they are on disk. During a
 * migration a logical column can live in a physical column of another name (`_promote_new_email`),
 * a renamed table keeps its old physical name until complete, and a dropped column is only hidden.
 * Operations change this model on start; the runner builds the new version's views from it, and
 * complete and rollback read it back from the migration's state to find what start made.
 */

export interface VirtualColumn {
  /** the name this version's views show */
  name: string;
  /** the column on disk */
  physical: string;
  type: string;
  nullable: boolean;
  /** an SQL expression, or null */
  default: string | null;
  /** identity or generated columns cannot take a view default */
  generated: boolean;
}

export type ConstraintType = 'primary_key' | 'unique' | 'check' | 'foreign_key' | 'exclude' | 'not_null';

export interface VirtualConstraint {
  name: string;
  type: ConstraintType;
  /** physical column names */
  columns: string[];
  definition: string;
}

export interface VirtualIndex {
  name: string;
  unique: boolean;
  /** physical column names (empty for an expression index) */
  columns: string[];
  definition: string;
}

export interface VirtualTable {
  name: string;
  physical: string;
  columns: VirtualColumn[];
  /** logical names of the primary key's columns */
  primaryKey: string[];
  constraints: VirtualConstraint[];
  indexes: VirtualIndex[];
  /** hidden from the new version, still on disk until complete */
  removed?: boolean;
  /**
   * the physical name the table had when the migration started, once rename_table's complete has
   * changed `physical`: what start named after the table (triggers, indexes) carries this name
   */
  startPhysical?: string;
  /** set by set_replica_identity: the identity it gave the table, and the one the table had before the migration (which rollback restores) */
  replicaIdentity?: ReplicaIdentityState & { before: ReplicaIdentityState };
}

export interface ReplicaIdentityState {
  type: 'default' | 'full' | 'nothing' | 'index';
  /** the index's name, for type `index` */
  index?: string;
}

export interface VirtualSchema {
  /** the app's schema on disk, e.g. `public` */
  name: string;
  tables: VirtualTable[];
}

export function findTable(schema: VirtualSchema, name: string): VirtualTable | undefined {
  return schema.tables.find((table) => table.name === name && table.removed !== true);
}

/** The table's physical name as start saw it, whatever complete has renamed since. */
export function physicalAtStart(table: VirtualTable): string {
  return table.startPhysical ?? table.physical;
}

export function findColumn(table: VirtualTable, name: string): VirtualColumn | undefined {
  return table.columns.find((column) => column.name === name);
}

/** The table, or an error naming what is missing and what exists, for an operation's `table:` field. */
export function requireTable(schema: VirtualSchema, name: string): VirtualTable {
  const table = findTable(schema, name);
  if (table === undefined) {
    throw new MissingObjectError(`table "${name}" does not exist in schema "${schema.name}"`, liveTableNames(schema));
  }
  return table;
}

export function requireColumn(table: VirtualTable, name: string): VirtualColumn {
  const column = findColumn(table, name);
  if (column === undefined) {
    throw new MissingObjectError(`column "${name}" does not exist in table "${table.name}"`, table.columns.map((each) => each.name));
  }
  return column;
}

export function liveTableNames(schema: VirtualSchema): string[] {
  return schema.tables.filter((table) => table.removed !== true).map((table) => table.name);
}

export class MissingObjectError extends Error {
  constructor(message: string, existing: readonly string[]) {
    super(existing.length === 0 ? message : `${message} (it has: ${existing.join(', ')})`);
    this.name = 'MissingObjectError';
  }
}

export function cloneSchema(schema: VirtualSchema): VirtualSchema {
  return structuredClone(schema);
}
