/**
 * rename_constraint: as in pgroll, the constraint keeps its name while the old version lives (its
 * error handling may match on it) and is renamed on complete; start only renames it in the new
 * version's model, and rollback has nothing to undo. Renaming a unique, primary key or exclusion
 * constraint renames its index too, so the new name must be free among the schema's indexes.
 */
import { switchOf } from '../complete-schedule.js';
import { ident, qualified } from '../sql.js';
import { physicalAtStart, requireTable } from '../virtual-schema.js';
import { requireIdentifier } from './create-index.js';
import { constraintExists, guarded } from './guards.js';
import { recordedTable } from './set-replica-identity.js';
import { OperationError, type OperationHandler } from './types.js';

const WITH_INDEX = ['unique', 'primary_key', 'exclude'];

export const renameConstraint: OperationHandler<'rename_constraint'> = {
  start(operation, { schema }) {
    requireIdentifier(operation.to, 'to');
    const table = requireTable(schema, operation.table);
    const constraint = table.constraints.find((each) => each.name === operation.from);
    if (constraint === undefined) {
      const names = table.constraints.map((each) => each.name);
      throw new OperationError(`constraint "${operation.from}" does not exist on table "${operation.table}"${names.length === 0 ? '' : ` (it has: ${names.join(', ')})`}`);
    }
    if (table.constraints.some((each) => each.name === operation.to)) throw new OperationError(`constraint "${operation.to}" already exists on table "${operation.table}"`);
    if (WITH_INDEX.includes(constraint.type)) {
      const holder = schema.tables.find((each) => each.indexes.some((index) => index.name === operation.to) || each.physical === operation.to);
      if (holder !== undefined) throw new OperationError(`renaming constraint "${operation.from}" renames its index, and the name "${operation.to}" is taken in schema "${schema.name}" (by table "${holder.name}" or one of its indexes)`);
      const index = table.indexes.find((each) => each.name === operation.from);
      if (index !== undefined) index.name = operation.to;
    }
    constraint.name = operation.to;
    return { steps: [] };
  },

  complete(operation, { before, after }) {
    const table = recordedTable(operation.table, before, after);
    if (table === undefined) return { steps: [] };
    const rename = `alter table ${qualified(after.name, table.physical)} rename constraint ${ident(operation.from)} to ${ident(operation.to)}`;
    return { steps: switchOf(physicalAtStart(table), [{ sql: guarded(constraintExists(after.name, table.physical, operation.from), [rename]) }]) };
  },

  rollback() {
    return [];
  },
};
