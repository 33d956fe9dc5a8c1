/**
 * renaming-column: a rename takes effect at once, while the running version still uses the old name,
 * so every query of that version that names the column fails until it is replaced.
 */
import { as } from '../ast.js';
import { defineRule } from './define.js';

export const renamingColumn = defineRule(
  {
    name: 'renaming-column',
    severity: 'error',
    summary: 'Renaming a column breaks clients that still use the old name.',
    help: 'Expand/contract instead: add the column under its new name, keep both in step with a trigger and backfill it, move the app to the new name, then drop the old column. With Promote, an alter_column migration with `name` does this, and old and new app versions each see the name they expect.',
  },
  (statement, context) => {
    const rename = as(statement.node, 'RenameStmt');
    if (rename?.renameType !== 'OBJECT_COLUMN' || context.isNewTable(rename.relation?.relname)) return;
    context.report({ message: `Renaming ${rename.relation?.relname ?? ''}.${rename.subname ?? ''} to ${rename.newname ?? ''} breaks the running version's queries that use the old name.` });
  },
);
