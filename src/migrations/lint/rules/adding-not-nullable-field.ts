/**
 * adding-not-nullable-field: SET NOT NULL scans the whole table under an ACCESS EXCLUSIVE lock. From
 * Postgres 12 the scan is skipped when a validated CHECK (col IS NOT NULL) (or, on 18, a validated NOT
 * NULL constraint) already proves it, so the safe path is: add the check NOT VALID, validate it,
 * then SET NOT NULL. The schema model remembers such checks across migration files.
 */
import { alterTable, defineRule } from './define.js';

export const addingNotNullableField = defineRule(
  {
    name: 'adding-not-nullable-field',
    severity: 'error',
    summary: 'SET NOT NULL scans the table while blocking reads and writes.',
    help: 'ADD CONSTRAINT ... CHECK (col IS NOT NULL) NOT VALID, backfill any NULLs, VALIDATE CONSTRAINT in a separate transaction, then SET NOT NULL (Postgres 12+ skips the scan) and drop the check. With Promote, alter_column with nullable: false and an `up` for NULL rows does this.',
  },
  (statement, context) => {
    const alter = alterTable(statement);
    if (!alter?.table || context.isNewTable(alter.table)) return;
    const table = context.schema.tables.get(alter.table);
    for (const cmd of alter.cmds) {
      if (cmd.subtype !== 'AT_SetNotNull') continue;
      if (context.postgresVersion >= 12) {
        const proven = [...(table?.checks.values() ?? [])].some((check) => check.validated && check.notNullColumn === cmd.name);
        // a VALIDATE of a constraint added by a migration we have not read: give it the benefit of the doubt
        if (proven || context.schema.validatedUnknownCheck.has(alter.table)) continue;
      }
      context.report({ message: `Setting ${alter.table}.${cmd.name ?? ''} NOT NULL scans the table under an ACCESS EXCLUSIVE lock, blocking reads and writes.` });
    }
  },
);
