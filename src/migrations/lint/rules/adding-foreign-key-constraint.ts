/**
 * adding-foreign-key-constraint: adding a foreign key scans the table to check every row while holding
 * SHARE ROW EXCLUSIVE locks on both tables, so writes to either wait for the scan. NOT VALID skips
 * the scan; VALIDATE CONSTRAINT later checks the rows without blocking writes. Foreign keys in
 * CREATE TABLE, or on a table made earlier in the file, check no rows and are exempt.
 */
import { addedColumns, addedConstraints, defineRule } from './define.js';

const MESSAGE = 'Adding a foreign key scans the table while holding SHARE ROW EXCLUSIVE locks on it and on the referenced table, blocking writes to both.';

export const addingForeignKeyConstraint = defineRule(
  {
    name: 'adding-foreign-key-constraint',
    severity: 'error',
    summary: 'Adding a foreign key blocks writes to both tables while the rows are checked.',
    help: 'Add the foreign key NOT VALID (instant), then VALIDATE CONSTRAINT in a separate transaction: the check then runs without blocking writes. With Promote, a create_constraint migration does both steps.',
  },
  (statement, context) => {
    for (const { table, constraint } of addedConstraints(statement)) {
      if (constraint.contype === 'CONSTR_FOREIGN' && !constraint.skip_validation && !context.isNewTable(table)) {
        context.report({ message: MESSAGE, location: constraint.location });
      }
    }
    for (const { table, constraints } of addedColumns(statement)) {
      const foreign = constraints.find((constraint) => constraint.contype === 'CONSTR_FOREIGN');
      if (foreign && !context.isNewTable(table)) context.report({ message: MESSAGE, location: foreign.location });
    }
  },
);
