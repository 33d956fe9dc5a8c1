/**
 * adding-serial-primary-key-field: adding a primary key to an existing table builds its unique index
 * (and, for a new serial column, fills every row) under an ACCESS EXCLUSIVE lock. The index can be
 * built CONCURRENTLY first and attached with PRIMARY KEY USING INDEX.
 */
import { addedColumns, addedConstraints, defineRule } from './define.js';

export const addingSerialPrimaryKeyField = defineRule(
  {
    name: 'adding-serial-primary-key-field',
    severity: 'error',
    summary: 'Adding a primary key builds its index while blocking reads and writes.',
    help: 'CREATE UNIQUE INDEX CONCURRENTLY on the key columns (made NOT NULL safely first), then ALTER TABLE ... ADD CONSTRAINT ... PRIMARY KEY USING INDEX, which only takes the lock for an instant.',
  },
  (statement, context) => {
    for (const { table, constraint } of addedConstraints(statement)) {
      if (constraint.contype === 'CONSTR_PRIMARY' && !constraint.indexname && !context.isNewTable(table)) {
        context.report({ message: `Adding a primary key to ${table ?? ''} builds its index under an ACCESS EXCLUSIVE lock, blocking reads and writes.`, location: constraint.location });
      }
    }
    for (const { table, constraints } of addedColumns(statement)) {
      const primary = constraints.find((constraint) => constraint.contype === 'CONSTR_PRIMARY');
      if (primary && !context.isNewTable(table)) context.report({ message: `Adding a primary key column to ${table ?? ''} fills every row and builds its index under an ACCESS EXCLUSIVE lock.`, location: primary.location });
    }
  },
);
