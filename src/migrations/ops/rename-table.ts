/**
 * rename_table: the new version's view carries the new name from start; the table is renamed on
 * complete (views follow a table by identity, not by name, so the new version's views still work).
 */
import { switchOf } from '../complete-schedule.js';
import { ident, qualified } from '../sql.js';
import { findTable, physicalAtStart, requireTable } from '../virtual-schema.js';
import { guarded, relationExists } from './guards.js';
import { OperationError, type OperationHandler } from './types.js';

export const renameTable: OperationHandler<'rename_table'> = {
  start(operation, { schema }) {
    const table = requireTable(schema, operation.from);
    if (findTable(schema, operation.to) !== undefined) throw new OperationError(`table "${operation.to}" already exists`);
    table.name = operation.to;
    return { steps: [] };
  },

  complete(operation, { after }) {
    const table = requireTable(after, operation.to);
    const from = table.physical;
    // later operations' complete steps find what their start named after the table by this name
    table.startPhysical ??= from;
    table.physical = operation.to;
    if (from === operation.to) return { steps: [] };
    // in the switch of the table under its name at start, with the later operations' steps that name it `to`
    return { steps: switchOf(physicalAtStart(table), [{ sql: guarded(relationExists(after.name, from), [`alter table ${qualified(after.name, from)} rename to ${ident(operation.to)}`]) }]) };
  },

  rollback() {
    return [];
  },
};
