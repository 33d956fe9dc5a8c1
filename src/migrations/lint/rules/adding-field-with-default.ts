/**
 * adding-field-with-default: ADD COLUMN with a DEFAULT rewrites the whole table under an ACCESS
 * EXCLUSIVE lock unless the server is Postgres 11+ and the default is not volatile. Stored generated
 * columns, identity columns and serial columns fill every row too. Virtual generated columns
 * (Postgres 18) store nothing and are fine.
 */
import { columnType } from '../ast.js';
import { volatilePart } from '../volatility.js';
import { addedColumns, defineRule } from './define.js';

const SERIALS = new Set(['serial', 'serial2', 'serial4', 'serial8', 'smallserial', 'bigserial']);

export const addingFieldWithDefault = defineRule(
  {
    name: 'adding-field-with-default',
    severity: 'error',
    summary: 'Adding a column whose default must be computed per row rewrites the table under an exclusive lock.',
    help: 'Add the column without the default, SET DEFAULT for new rows, then backfill existing rows in batches (and a trigger for computed values). With Promote, an add_column migration with `up` fills existing rows in resumable, throttled batches.',
  },
  (statement, context) => {
    for (const { table, def, constraints } of addedColumns(statement)) {
      if (context.isNewTable(table)) continue;
      const column = `${table ?? ''}.${def.colname ?? ''}`;
      for (const constraint of constraints) {
        if (constraint.contype === 'CONSTR_DEFAULT') {
          if (context.postgresVersion < 11) {
            context.report({ message: `Adding ${column} with a DEFAULT rewrites the table before Postgres 11, blocking reads and writes.`, location: constraint.location });
            continue;
          }
          const volatile = volatilePart(constraint.raw_expr, context.schema);
          if (volatile) context.report({ message: `Adding ${column} with the volatile default ${volatile} rewrites the table under an ACCESS EXCLUSIVE lock.`, location: constraint.location });
        } else if (constraint.contype === 'CONSTR_GENERATED' && constraint.generated_kind !== 'v') {
          context.report({ message: `Adding the stored generated column ${column} rewrites the table under an ACCESS EXCLUSIVE lock.`, location: constraint.location });
        } else if (constraint.contype === 'CONSTR_IDENTITY') {
          context.report({ message: `Adding the identity column ${column} fills every row, rewriting the table under an ACCESS EXCLUSIVE lock.`, location: constraint.location });
        }
      }
      const type = columnType(def.typeName);
      if (type && SERIALS.has(type.name)) context.report({ message: `Adding the ${type.name} column ${column} fills every row from a sequence, rewriting the table under an ACCESS EXCLUSIVE lock.`, location: def.typeName?.location });
    }
  },
);
