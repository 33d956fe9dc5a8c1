/**
 * adding-required-field: ADD COLUMN ... NOT NULL without a DEFAULT fails at once on a table with rows,
 * and even on an empty one it breaks the running version, whose INSERTs do not name the column.
 */
import { addedColumns, defineRule } from './define.js';

export const addingRequiredField = defineRule(
  {
    name: 'adding-required-field',
    severity: 'error',
    summary: 'Adding a NOT NULL column without a default fails on existing rows and breaks old inserts.',
    help: 'Add the column nullable (or with a non-volatile DEFAULT on Postgres 11+), backfill existing rows in batches, then make it NOT NULL through a CHECK (col IS NOT NULL) NOT VALID, VALIDATE, SET NOT NULL. With Promote, an add_column migration with `up` for existing rows does this while old and new versions both keep working.',
  },
  (statement, context) => {
    for (const { table, def, constraints } of addedColumns(statement)) {
      if (context.isNewTable(table)) continue;
      const notNull = constraints.find((constraint) => constraint.contype === 'CONSTR_NOTNULL' || constraint.contype === 'CONSTR_PRIMARY');
      const filled = constraints.some((constraint) => ['CONSTR_DEFAULT', 'CONSTR_GENERATED', 'CONSTR_IDENTITY'].includes(constraint.contype ?? ''));
      if (notNull && !filled) {
        context.report({ message: `Adding ${table ?? ''}.${def.colname ?? ''} as NOT NULL without a default fails on existing rows and breaks inserts of the running version.`, location: notNull.location });
      }
    }
  },
);
