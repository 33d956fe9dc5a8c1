/**
 * disallowed-unique-constraint: ADD CONSTRAINT ... UNIQUE (or EXCLUDE) builds its index while holding
 * an ACCESS EXCLUSIVE lock, blocking reads and writes for the whole build. Building the index
 * CONCURRENTLY first and attaching it with USING INDEX keeps the lock to an instant.
 */
import { addedColumns, addedConstraints, defineRule } from './define.js';

export const disallowedUniqueConstraint = defineRule(
  {
    name: 'disallowed-unique-constraint',
    severity: 'error',
    summary: 'Adding a UNIQUE constraint builds its index while blocking reads and writes.',
    help: 'CREATE UNIQUE INDEX CONCURRENTLY first, then ALTER TABLE ... ADD CONSTRAINT ... UNIQUE USING INDEX, which only takes the lock for an instant. With Promote, alter_column with `unique` does this.',
  },
  (statement, context) => {
    for (const { table, constraint } of addedConstraints(statement)) {
      const kind = constraint.contype === 'CONSTR_UNIQUE' ? 'UNIQUE' : constraint.contype === 'CONSTR_EXCLUSION' ? 'EXCLUDE' : undefined;
      if (!kind || constraint.indexname || context.isNewTable(table)) continue;
      context.report({ message: `Adding a ${kind} constraint to ${table ?? ''} builds its index under an ACCESS EXCLUSIVE lock, blocking reads and writes.`, location: constraint.location });
    }
    for (const { table, constraints } of addedColumns(statement)) {
      const unique = constraints.find((constraint) => constraint.contype === 'CONSTR_UNIQUE');
      if (unique && !context.isNewTable(table)) context.report({ message: `Adding a UNIQUE column to ${table ?? ''} builds its index under an ACCESS EXCLUSIVE lock.`, location: unique.location });
    }
  },
);
