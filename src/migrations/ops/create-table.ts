/**
 * create_table: the table is made under its final name on start, so nothing moves on complete; the
 * old version has no view of it, and rollback drops it.
 */
import type { CreateTable } from '../operations.js';
import { ident, qualified } from '../sql.js';
import { findTable } from '../virtual-schema.js';
import { columnSql, commentSql, tableConstraintSql, virtualColumn } from './columns.js';
import { OperationError, type OperationHandler } from './types.js';

export const createTable: OperationHandler<'create_table'> = {
  start(operation, { schema }) {
    if (findTable(schema, operation.name) !== undefined || schema.tables.some((table) => table.physical === operation.name)) {
      throw new OperationError(`table "${operation.name}" already exists`);
    }
    const table = qualified(schema.name, operation.name);
    // several `pk: true` columns make one composite key, as in pgroll
    const keyColumns = operation.columns.filter((column) => column.pk === true).map((column) => ident(column.name));
    const composite = keyColumns.length > 1;
    const definitions = [
      ...operation.columns.map((column) => columnSql(column, schema, { skipPrimaryKey: composite })),
      ...(composite ? [`primary key (${keyColumns.join(', ')})`] : []),
      ...(operation.constraints ?? []).map((constraint) => tableConstraintSql(constraint, schema)),
    ];
    const statements = [`create table ${table} (${definitions.join(', ')})`];
    if (operation.comment !== undefined) statements.push(commentSql('table', table, operation.comment));
    for (const column of operation.columns) {
      if (column.comment !== undefined) statements.push(commentSql('column', `${table}.${ident(column.name)}`, column.comment));
    }
    schema.tables.push({
      name: operation.name,
      physical: operation.name,
      columns: operation.columns.map((column) => virtualColumn(column, column.name)),
      primaryKey: primaryKeyOf(operation),
      constraints: [],
      indexes: [],
    });
    return { steps: [{ sql: statements.join(';\n') }] };
  },
  complete() {
    return { steps: [] };
  },
  rollback(operation, { before }) {
    return [{ sql: `drop table if exists ${qualified(before.name, operation.name)}` }];
  },
};

function primaryKeyOf(operation: CreateTable): string[] {
  const columns = operation.columns.filter((column) => column.pk === true).map((column) => column.name);
  if (columns.length > 0) return columns;
  return operation.constraints?.find((constraint) => constraint.type === 'primary_key')?.columns ?? [];
}
