/**
 * drop_constraint: the constrained column is duplicated without the constraint, so the new version
 * writes freely into the twin while the old column keeps the constraint for the old version; `down`
 * turns the new version's values into ones the constraint accepts. Complete drops the old column
 * (the constraint goes with it) and gives the twin its name; rollback drops the twin.
 */
import { requireTable, type VirtualSchema } from '../virtual-schema.js';
import { completeDuplication, rollbackDuplication, startDuplication } from './duplicate-column.js';
import { constraintColumns, requireConstraint, tableOnDisk } from './multi-column.js';
import { OperationError, type OperationHandler } from './types.js';

export const dropConstraint: OperationHandler<'drop_constraint'> = {
  async start(operation, { schema, versionSchema, db }) {
    const table = requireTable(schema, operation.table);
    const constraint = requireConstraint(table, operation.name);
    const columns = constraintColumns(table, constraint);
    const [column] = columns;
    if (columns.length > 1) {
      throw new OperationError(`constraint "${operation.name}" covers ${columns.length} columns (${columns.join(', ')}); drop it with drop_multicolumn_constraint, which takes a down expression per column`);
    }
    if (column === undefined) throw new OperationError(`constraint "${operation.name}" of table "${operation.table}" covers no column, so there is nothing to duplicate`);
    const steps = await startDuplication({ schema, table, columns: [{ name: column, up: operation.up, down: operation.down }], without: [operation.name], versionSchema, db });
    table.constraints = table.constraints.filter((each) => each !== constraint);
    return { steps, ...((await tableOnDisk(db, schema.name, table.physical)) ? { backfill: [table.name] } : {}) };
  },

  complete(operation, { before, after }) {
    const { validate, replace } = completeDuplication(after, operation.table, droppedColumns(before, operation.table, operation.name), [operation.name]);
    return { steps: [...validate, ...replace] };
  },

  rollback(operation, { before, after }) {
    return rollbackDuplication(after.name, operation.table, droppedColumns(before, operation.table, operation.name));
  },
};

/** The dropped constraint's columns, from the schema before the migration (start refused anything else). */
export function droppedColumns(before: VirtualSchema, table: string, name: string): string[] {
  const found = requireTable(before, table);
  return constraintColumns(found, requireConstraint(found, name));
}
