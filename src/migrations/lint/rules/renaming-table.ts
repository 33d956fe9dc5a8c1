/**
 * renaming-table: like a column rename, a table rename is instant for the database and fatal for the
 * running version, whose queries still name the old table.
 */
import { as } from '../ast.js';
import { defineRule } from './define.js';

export const renamingTable = defineRule(
  {
    name: 'renaming-table',
    severity: 'error',
    summary: 'Renaming a table breaks clients that still use the old name.',
    help: 'Keep both names while two versions run: rename the table and create a view with the old name (or the reverse), move the app to the new name, then drop the view. With Promote, a rename_table migration exposes each app version the name it expects.',
  },
  (statement, context) => {
    const rename = as(statement.node, 'RenameStmt');
    if (rename?.renameType !== 'OBJECT_TABLE' || context.isNewTable(rename.relation?.relname)) return;
    context.report({ message: `Renaming table ${rename.relation?.relname ?? ''} to ${rename.newname ?? ''} breaks the running version's queries that use the old name.` });
  },
);
