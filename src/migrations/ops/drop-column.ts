/**
 * drop_column: on start the column only disappears from the new version's views; the old version
 * still reads it, and when the new version inserts, `down` computes the value the old version sees.
 * Complete drops it from the table; rollback removes the trigger and it is as if nothing happened.
 */
import { qualified, ident } from '../sql.js';
import { createTriggerSteps, dropNeedsBackfillColumnStep, dropTriggerStep } from '../triggers.js';
import { physicalAtStart, requireColumn, requireTable, type VirtualSchema, type VirtualTable } from '../virtual-schema.js';
import { hasText } from './guards.js';
import type { OperationHandler, Step } from './types.js';
import { switchOf } from '../complete-schedule.js';

export const dropColumn: OperationHandler<'drop_column'> = {
  start(operation, { schema, versionSchema }) {
    const table = requireTable(schema, operation.table);
    const column = requireColumn(table, operation.column);
    table.columns = table.columns.filter((each) => each !== column);
    const steps: Step[] = [];
    if (hasText(operation.down)) {
      steps.push(...createTriggerSteps({ schema, table: { ...table, columns: [...table.columns] }, target: column.physical, expression: operation.down, direction: 'down', versionSchema }));
    }
    return { steps };
  },

  complete(operation, { before, after }) {
    const table = requireTable(after, operation.table);
    const physical = droppedPhysical(before, table, operation.column);
    // in the table's switch: the new version's inserts, which leave the old column out, need its
    // `down` trigger for as long as the column (NOT NULL, maybe) is there
    return {
      steps: switchOf(physicalAtStart(table), [
        dropTriggerStep(after.name, physicalAtStart(table), physical),
        { sql: `alter table if exists ${qualified(after.name, table.physical)} drop column if exists ${ident(physical)}` },
        dropNeedsBackfillColumnStep(after.name, table.physical),
      ]),
    };
  },

  rollback(operation, { before, after }) {
    const table = requireTable(after, operation.table);
    const physical = droppedPhysical(before, table, operation.column);
    // in the table's switch: another operation's trigger on the table (add_column's up) still sets
    // the bookkeeping columns dropped here
    return switchOf(physicalAtStart(table), [dropTriggerStep(after.name, physicalAtStart(table), physical), dropNeedsBackfillColumnStep(after.name, table.physical)]);
  },
};

/**
 * The dropped column's physical name, from the table as it was before the migration: found by the
 * physical name it had then, since a rename_table earlier in the migration changed its logical name.
 */
function droppedPhysical(before: VirtualSchema, table: VirtualTable, column: string): string {
  const original = before.tables.find((each) => each.physical === physicalAtStart(table));
  return original === undefined ? column : requireColumn(original, column).physical;
}
