/**
 * drop_table: the new version no longer sees the table from start; the old version keeps using it
 * until complete drops it, so rollback has nothing to restore.
 */
import { switchOf } from '../complete-schedule.js';
import { qualified } from '../sql.js';
import { requireTable } from '../virtual-schema.js';
import type { OperationHandler } from './types.js';

export const dropTable: OperationHandler<'drop_table'> = {
  start(operation, { schema }) {
    requireTable(schema, operation.name).removed = true;
    return { steps: [] };
  },

  complete(operation, { before }) {
    const physical = requireTable(before, operation.name).physical;
    return { steps: switchOf(physical, [{ sql: `drop table if exists ${qualified(before.name, physical)}` }]) };
  },

  rollback() {
    return [];
  },
};
