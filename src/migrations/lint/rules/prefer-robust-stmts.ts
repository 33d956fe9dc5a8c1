/**
 * prefer-robust-stmts: a migration that runs outside a transaction and fails half way leaves the
 * first half applied; run again, it then fails on the first statement that already happened. IF [NOT]
 * EXISTS guards (or a transaction) make each statement safe to repeat. CREATE INDEX CONCURRENTLY
 * never runs in a transaction, so it always needs a name and IF NOT EXISTS.
 */
import { as } from '../ast.js';
import type { Rule, Statement } from '../types.js';
import { alterTable } from './define.js';

const NOT_EXISTS = "Missing IF NOT EXISTS: if the migration fails part way, running it again fails here.";
const EXISTS = "Missing IF EXISTS: if the migration fails part way, running it again fails here.";

export const preferRobustStmts: Rule = {
  name: 'prefer-robust-stmts',
  severity: 'warning',
  summary: 'Statements outside a transaction should be safe to run twice.',
  help: 'Guard each statement (CREATE ... IF NOT EXISTS, DROP ... IF EXISTS, ADD COLUMN IF NOT EXISTS, DROP CONSTRAINT IF EXISTS before ADD CONSTRAINT), or run the file in a transaction.',
  create(context) {
    /** constraints dropped earlier in the file: adding one of them again is a re-runnable pair */
    const dropped = new Set<string>();
    return {
      statement(statement) {
        for (const message of problems(statement, context.session.inTransaction, dropped, (name) => context.isNewTable(name))) context.report({ message });
      },
    };
  },
};

function problems(statement: Statement, inTransaction: boolean, dropped: Set<string>, isNewTable: (name: string | undefined) => boolean): string[] {
  const node = statement.node;
  const index = as(node, 'IndexStmt');
  if (index) {
    if (index.if_not_exists && index.idxname) return [];
    if (index.concurrent) return [index.idxname ? NOT_EXISTS : `${NOT_EXISTS} A CONCURRENTLY index also needs a name, or every failed run leaves another invalid index behind.`];
    return inTransaction ? [] : [NOT_EXISTS];
  }
  const alter = alterTable(statement);
  for (const cmd of alter?.cmds ?? []) if (cmd.subtype === 'AT_DropConstraint' && cmd.name) dropped.add(cmd.name);
  if (inTransaction) return [];
  if (alter) {
    if (isNewTable(alter.table)) return [];
    return alter.cmds.flatMap((cmd) => {
      if (cmd.missing_ok) return [];
      if (cmd.subtype === 'AT_AddColumn') return [NOT_EXISTS];
      if (cmd.subtype === 'AT_DropColumn' || cmd.subtype === 'AT_DropConstraint') return [EXISTS];
      if (cmd.subtype === 'AT_AddConstraint') {
        const name = as(cmd.def, 'Constraint')?.conname;
        return name && dropped.has(name) ? [] : ['Adding a constraint outside a transaction cannot be repeated: DROP CONSTRAINT IF EXISTS it first, or use a transaction.'];
      }
      return [];
    });
  }
  const create = as(node, 'CreateStmt');
  if (create) return create.if_not_exists || (create.relation?.relpersistence === 't' && create.oncommit === 'ONCOMMIT_DROP') ? [] : [NOT_EXISTS];
  const drop = as(node, 'DropStmt');
  if (drop && ['OBJECT_TABLE', 'OBJECT_INDEX', 'OBJECT_TYPE', 'OBJECT_VIEW', 'OBJECT_SEQUENCE', 'OBJECT_DOMAIN'].includes(drop.removeType ?? '')) return drop.missing_ok ? [] : [EXISTS];
  const rename = as(node, 'RenameStmt');
  if (rename && !rename.missing_ok && !isNewTable(rename.relation?.relname)) return ['A rename cannot be repeated: if the migration fails after it, running it again fails here. Run the file in a transaction.'];
  return [];
}
