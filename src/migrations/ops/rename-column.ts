/**
 * rename_column: only the new version's view shows the new name on start; the column itself is
 * renamed on complete, when no old client reads the old name any more.
 */
import { switchOf } from '../complete-schedule.js';
import { findColumn, physicalAtStart, requireColumn, requireTable } from '../virtual-schema.js';
import { renameColumnIfExists } from './guards.js';
import { OperationError, type OperationHandler } from './types.js';

export const renameColumn: OperationHandler<'rename_column'> = {
  start(operation, { schema }) {
    const table = requireTable(schema, operation.table);
    const column = requireColumn(table, operation.from);
    if (findColumn(table, operation.to) !== undefined) throw new OperationError(`column "${operation.to}" already exists in table "${operation.table}"`);
    column.name = operation.to;
    return { steps: [] };
  },

  complete(operation, { after }) {
    const table = requireTable(after, operation.table);
    const column = requireColumn(table, operation.to);
    const step = renameColumnIfExists(after.name, table.physical, column.physical, operation.to);
    column.physical = operation.to;
    return { steps: switchOf(physicalAtStart(table), [step]) };
  },

  rollback() {
    return [];
  },
};
