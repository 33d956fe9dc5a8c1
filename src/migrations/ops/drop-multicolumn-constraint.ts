/**
 * drop_multicolumn_constraint: drop_constraint for a constraint over several columns. Every column
 * the constraint covers is duplicated without it; `down` (one expression per column) gives the old
 * version values its constraint accepts, `up` (optional, per column) the new version's from the old's.
 */
import { requireTable } from '../virtual-schema.js';
import { droppedColumns } from './drop-constraint.js';
import { completeDuplication, rollbackDuplication, startDuplication } from './duplicate-column.js';
import { checkColumnSql, constraintColumns, requireConstraint, tableOnDisk } from './multi-column.js';
import type { OperationHandler } from './types.js';

export const dropMultiColumnConstraint: OperationHandler<'drop_multicolumn_constraint'> = {
  async start(operation, { schema, versionSchema, db }) {
    const table = requireTable(schema, operation.table);
    const constraint = requireConstraint(table, operation.name);
    const columns = constraintColumns(table, constraint);
    checkColumnSql('down', operation.down, columns, true);
    checkColumnSql('up', operation.up, columns, false);
    const duplicates = columns.map((name) => ({ name, down: operation.down[name], ...(operation.up?.[name] === undefined ? {} : { up: operation.up[name] }) }));
    const steps = await startDuplication({ schema, table, columns: duplicates, without: [operation.name], versionSchema, db });
    table.constraints = table.constraints.filter((each) => each !== constraint);
    return { steps, ...(columns.length > 0 && (await tableOnDisk(db, schema.name, table.physical)) ? { backfill: [table.name] } : {}) };
  },

  complete(operation, { before, after }) {
    const { validate, replace } = completeDuplication(after, operation.table, droppedColumns(before, operation.table, operation.name), [operation.name]);
    return { steps: [...validate, ...replace] };
  },

  rollback(operation, { before, after }) {
    return rollbackDuplication(after.name, operation.table, droppedColumns(before, operation.table, operation.name));
  },
};
