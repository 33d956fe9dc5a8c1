/**
 * ban-uncommitted-transaction: a BEGIN never followed by COMMIT leaves the migration's changes in a
 * transaction that is rolled back when the session ends: the tool reports success and nothing changed.
 */
import { as } from '../ast.js';
import type { Rule, Statement } from '../types.js';

export const banUncommittedTransaction: Rule = {
  name: 'ban-uncommitted-transaction',
  severity: 'error',
  summary: 'A transaction opened and never committed is rolled back when the session ends.',
  help: 'Add COMMIT (or ROLLBACK) after the last statement of the transaction.',
  create(context) {
    let open: Statement | undefined;
    return {
      statement(statement) {
        const kind = as(statement.node, 'TransactionStmt')?.kind;
        if (kind === 'TRANS_STMT_BEGIN' || kind === 'TRANS_STMT_START') open ??= statement;
        if (kind === 'TRANS_STMT_COMMIT' || kind === 'TRANS_STMT_ROLLBACK' || kind === 'TRANS_STMT_PREPARE') open = undefined;
      },
      end() {
        if (open) context.report({ message: 'This transaction is never committed: its changes are rolled back when the session ends.', statement: open });
      },
    };
  },
};
