/**
 * ban-drop-table: a table dropped while a running version still uses it breaks that version, and its
 * rows are gone for good. A table made earlier in the same file is exempt: nothing uses it yet.
 */
import { as, lastName } from '../ast.js';
import { defineRule } from './define.js';

export const banDropTable = defineRule(
  {
    name: 'ban-drop-table',
    severity: 'error',
    summary: 'Dropping a table breaks clients that still use it and loses its rows.',
    help: 'Contract later: release code that no longer uses the table, keep a backup of its rows, then drop it once no running version reads it. With Promote, a drop_table migration runs in the contract phase, after the old version is gone.',
  },
  (statement, context) => {
    const drop = as(statement.node, 'DropStmt');
    if (drop?.removeType !== 'OBJECT_TABLE') return;
    for (const object of drop.objects ?? []) {
      const name = lastName(as(object, 'List')?.items);
      if (!context.isNewTable(name)) context.report({ message: `Dropping table ${name ?? ''} breaks any running version that still uses it, and its rows are gone.` });
    }
  },
);
