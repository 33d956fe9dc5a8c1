/**
 * ban-drop-not-null: once a column may be NULL, code written against the old guarantee (the running
 * version, reports, triggers) can meet NULLs it never handled.
 */
import { alterTable, defineRule } from './define.js';

export const banDropNotNull = defineRule(
  {
    name: 'ban-drop-not-null',
    severity: 'warning',
    summary: 'Dropping NOT NULL can break readers that rely on the column always having a value.',
    help: 'Make sure every running version (and every report or trigger) handles NULL in this column before dropping the constraint, or keep a marker value instead of NULL. With Promote, alter_column with nullable: true and a `down` that maps NULL back keeps old readers whole while two versions run.',
  },
  (statement, context) => {
    const alter = alterTable(statement);
    if (!alter || context.isNewTable(alter.table)) return;
    for (const cmd of alter.cmds) {
      if (cmd.subtype === 'AT_DropNotNull') context.report({ message: `Dropping NOT NULL on ${alter.table ?? ''}.${cmd.name ?? ''} lets NULLs reach readers that assumed there were none.` });
    }
  },
);
