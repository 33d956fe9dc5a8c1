/**
 * SQL for the column and constraint definitions migration files carry, shared by the operations
 * that create tables, add columns and add constraints. References name tables and columns as the
 * new version sees them; the virtual schema says where they live on disk.
 */
import type { CheckConstraint, Column, Constraint, ForeignKeyReference, IndexParameters, TableForeignKeyReference } from '../operations.js';
import { ident, literal, qualified } from '../sql.js';
import { findColumn, findTable, type VirtualColumn, type VirtualSchema } from '../virtual-schema.js';

export interface ColumnSqlOptions {
  /** the physical name to give the column (a temporary one while two versions live) */
  physicalName?: string;
  /** leave NOT NULL out: it is enforced by a NOT VALID check until complete */
  skipNotNull?: boolean;
  skipDefault?: boolean;
  skipCheck?: boolean;
  skipUnique?: boolean;
  skipReferences?: boolean;
  skipPrimaryKey?: boolean;
}

export function isNullable(column: Column): boolean {
  return column.nullable === true;
}

export function columnSql(column: Column, schema: VirtualSchema, options: ColumnSqlOptions = {}): string {
  const parts = [ident(options.physicalName ?? column.name), column.type];
  if (column.pk === true && options.skipPrimaryKey !== true) parts.push('primary key');
  if (column.unique === true && options.skipUnique !== true) parts.push('unique');
  if (!isNullable(column) && column.pk !== true && options.skipNotNull !== true) parts.push('not null');
  if (column.default !== undefined && options.skipDefault !== true) parts.push(`default ${column.default}`);
  const identity = column.generated?.identity;
  if (identity !== undefined) {
    const options_ = identity.sequence_options === undefined ? '' : ` (${identity.sequence_options})`;
    parts.push(`generated ${identity.user_specified_values ?? 'ALWAYS'} as identity${options_}`);
  } else if (column.generated?.expression !== undefined) {
    parts.push(`generated always as (${column.generated.expression}) stored`);
  }
  if (column.check !== undefined && options.skipCheck !== true) parts.push(checkSql(column.check));
  if (column.references !== undefined && options.skipReferences !== true) parts.push(referenceSql(column.references, schema));
  return parts.join(' ');
}

export function checkSql(check: CheckConstraint, notValid = false): string {
  return `constraint ${ident(check.name)} check (${check.constraint})${check.no_inherit === true ? ' no inherit' : ''}${notValid ? ' not valid' : ''}`;
}

/** A column-level `constraint … references …` clause. */
export function referenceSql(reference: ForeignKeyReference, schema: VirtualSchema): string {
  const target = physicalTable(schema, reference.table);
  const column = physicalColumn(schema, reference.table, reference.column);
  const parts = [`constraint ${ident(reference.name)} references ${qualified(schema.name, target)} (${ident(column)})`];
  if (reference.match_type !== undefined) parts.push(`match ${reference.match_type}`);
  if (reference.on_delete !== undefined) parts.push(`on delete ${reference.on_delete}`);
  if (reference.on_update !== undefined) parts.push(`on update ${reference.on_update}`);
  if (reference.deferrable === true) parts.push('deferrable');
  if (reference.initially_deferred === true) parts.push('initially deferred');
  return parts.join(' ');
}

/** A table-level foreign key: `foreign key (…) references …`. */
export function tableReferenceSql(columns: readonly string[], reference: TableForeignKeyReference, schema: VirtualSchema): string {
  const target = physicalTable(schema, reference.table);
  const targetColumns = reference.columns.map((column) => ident(physicalColumn(schema, reference.table, column))).join(', ');
  const parts = [`foreign key (${columns.map(ident).join(', ')}) references ${qualified(schema.name, target)} (${targetColumns})`];
  if (reference.match_type !== undefined) parts.push(`match ${reference.match_type}`);
  if (reference.on_delete !== undefined) {
    const setColumns = reference.on_delete_set_columns?.length ? ` (${reference.on_delete_set_columns.map(ident).join(', ')})` : '';
    parts.push(`on delete ${reference.on_delete}${setColumns}`);
  }
  if (reference.on_update !== undefined) parts.push(`on update ${reference.on_update}`);
  return parts.join(' ');
}

export function indexParametersSql(parameters: IndexParameters | undefined): string {
  if (parameters === undefined) return '';
  const parts: string[] = [];
  if (parameters.include_columns?.length) parts.push(`include (${parameters.include_columns.map(ident).join(', ')})`);
  if (parameters.storage_parameters !== undefined && parameters.storage_parameters !== '') parts.push(`with (${parameters.storage_parameters})`);
  if (parameters.tablespace !== undefined && parameters.tablespace !== '') parts.push(`using index tablespace ${ident(parameters.tablespace)}`);
  return parts.length === 0 ? '' : ` ${parts.join(' ')}`;
}

/** A table-level constraint of create_table, over the given (physical) column names. */
export function tableConstraintSql(constraint: Constraint, schema: VirtualSchema): string {
  const name = `constraint ${ident(constraint.name)}`;
  const columns = (constraint.columns ?? []).map(ident).join(', ');
  const deferral = `${constraint.deferrable === true ? ' deferrable' : ''}${constraint.initially_deferred === true ? ' initially deferred' : ''}`;
  const parameters = indexParametersSql(constraint.index_parameters);
  switch (constraint.type) {
    case 'unique':
      return `${name} unique${constraint.nulls_not_distinct === true ? ' nulls not distinct' : ''} (${columns})${parameters}${deferral}`;
    case 'primary_key':
      return `${name} primary key (${columns})${parameters}${deferral}`;
    case 'check':
      return `${name} check (${constraint.check ?? ''})${constraint.no_inherit === true ? ' no inherit' : ''}`;
    case 'foreign_key':
      return `${name} ${tableReferenceSql(constraint.columns ?? [], requireReferences(constraint), schema)}${deferral}`;
    case 'exclude': {
      const exclude = constraint.exclude ?? {};
      const method = exclude.index_method === undefined ? '' : ` using ${exclude.index_method}`;
      const predicate = exclude.predicate === undefined || exclude.predicate === '' ? '' : ` where (${exclude.predicate})`;
      return `${name} exclude${method} (${exclude.elements ?? ''})${parameters}${predicate}${deferral}`;
    }
  }
}

function requireReferences(constraint: Constraint): TableForeignKeyReference {
  if (constraint.references === undefined) throw new Error(`constraint "${constraint.name}" is a foreign key without "references"`);
  return constraint.references;
}

export function commentSql(kind: 'table' | 'column', target: string, comment: string | null): string {
  return `comment on ${kind} ${target} is ${comment === null ? 'null' : literal(comment)}`;
}

/** Where a table the new version names lives on disk (itself when the schema does not know it). */
export function physicalTable(schema: VirtualSchema, table: string): string {
  return findTable(schema, table)?.physical ?? table;
}

export function physicalColumn(schema: VirtualSchema, table: string, column: string): string {
  const found = findTable(schema, table);
  return (found === undefined ? undefined : findColumn(found, column))?.physical ?? column;
}

/** The model's record of a column a file defines. */
export function virtualColumn(column: Column, physical: string): VirtualColumn {
  return {
    name: column.name,
    physical,
    type: column.type,
    nullable: isNullable(column) && column.pk !== true,
    default: column.default ?? null,
    generated: column.generated !== undefined,
  };
}
