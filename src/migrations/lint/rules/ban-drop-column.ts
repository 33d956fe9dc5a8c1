/**
 * ban-drop-column: a column dropped while the running version still reads or writes it breaks that
 * version at once. Dropping is the contract half of expand/contract and belongs after the release
 * that stopped using the column.
 */
import { alterTable, defineRule } from './define.js';

export const banDropColumn = defineRule(
  {
    name: 'ban-drop-column',
    severity: 'error',
    summary: 'Dropping a column breaks clients that still read or write it.',
    help: 'Contract later: first release code that no longer reads or writes the column, then drop it once no running version uses it. With Promote, a drop_column migration runs in the contract phase, after the old version is gone, and keeps the column aside for a rollback window.',
  },
  (statement, context) => {
    const alter = alterTable(statement);
    if (!alter || context.isNewTable(alter.table)) return;
    for (const cmd of alter.cmds) {
      if (cmd.subtype === 'AT_DropColumn') context.report({ message: `Dropping column ${alter.table ?? ''}.${cmd.name ?? ''} breaks any running version that still reads or writes it.` });
    }
  },
);
