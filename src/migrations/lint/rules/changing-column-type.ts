/**
 * changing-column-type: ALTER COLUMN ... TYPE takes an ACCESS EXCLUSIVE lock and, unless the change is
 * in strong_migrations' safe-cast table (see ../safe-casts.ts), rewrites the table and its indexes
 * while every read and write waits; the running version may also not understand the new type. The
 * current type comes from the schema the earlier migrations built.
 */
import type { AlterTableCmd, Node } from 'libpg-query';
import { as, columnType, lastName } from '../ast.js';
import { judgeTypeChange } from '../safe-casts.js';
import { alterTable, defineRule } from './define.js';

export const changingColumnType = defineRule(
  {
    name: 'changing-column-type',
    severity: 'error',
    summary: 'Changing a column type rewrites the table under an ACCESS EXCLUSIVE lock, unless the cast is known to be safe.',
    help: 'Expand/contract instead: add a new column of the new type, backfill it with a batched update while a trigger keeps it in step with writes, switch readers to it, then drop the old one. With Promote, an alter_column migration with `type`, `up` and `down` does this while old and new versions both run.',
  },
  (statement, context) => {
    const alter = alterTable(statement);
    if (!alter?.table || context.isNewTable(alter.table)) return;
    for (const cmd of alter.cmds) {
      if (cmd.subtype !== 'AT_AlterColumnType' || !cmd.name) continue;
      const def = as(cmd.def, 'ColumnDef');
      const to = columnType(def?.typeName);
      if (!to) continue;
      const column = `${alter.table}.${cmd.name}`;
      const from = context.schema.column(alter.table, cmd.name)?.type;
      if (computesNewValues(cmd, def?.raw_default)) {
        context.report({ message: `Changing ${column} to ${to.display} with a USING expression rewrites the table under an ACCESS EXCLUSIVE lock, blocking reads and writes.`, location: def?.location });
        continue;
      }
      if (!from) {
        context.report({
          message: `Changing ${column} to ${to.display} rewrites the table under an ACCESS EXCLUSIVE lock unless the cast is binary coercible, and its current type is not known from the migrations read.`,
          help: `${changingColumnType.help} If the change is in the safe list (varchar(n) to a longer varchar or text, numeric to more precision, ...), lint the earlier migrations with this one so the current type is known, or ignore the rule on this statement.`,
          location: def?.location,
        });
        continue;
      }
      const timeZone = context.session.timeZone;
      const verdict = judgeTypeChange(from, to, { postgresVersion: context.postgresVersion, timeZone, indexed: context.schema.isIndexed(alter.table, cmd.name) });
      if (!verdict.safe) {
        context.report({ message: `Changing ${column} from ${from.display} to ${to.display} rewrites the table and its indexes under an ACCESS EXCLUSIVE lock, blocking reads and writes: ${verdict.why}.`, location: def?.location });
      }
    }
  },
);

/** USING that is more than the column itself (possibly cast to the new type) computes every row anew. */
function computesNewValues(cmd: AlterTableCmd, using: Node | undefined): boolean {
  if (!using) return false;
  const inner = as(using, 'TypeCast')?.arg ?? using;
  return lastName(as(inner, 'ColumnRef')?.fields) !== cmd.name;
}
