/**
 * transaction-nesting: Postgres has one transaction per session. A BEGIN inside an open transaction
 * only warns and changes nothing, and its COMMIT then commits the outer one early; when the migration
 * tool wraps the file in its own transaction (assumeInTransaction), any BEGIN/COMMIT in the file
 * breaks the tool's bookkeeping the same way.
 */
import { as } from '../ast.js';
import { defineRule } from './define.js';

const SPLIT = 'Put statements that need their own transaction in a file of their own, or do not assume the tool wraps files in a transaction.';

export const transactionNesting = defineRule(
  {
    name: 'transaction-nesting',
    severity: 'error',
    summary: 'BEGIN inside a transaction, or COMMIT without one, does not do what the file expects.',
    help: SPLIT,
  },
  (statement, context) => {
    const kind = as(statement.node, 'TransactionStmt')?.kind;
    const begins = kind === 'TRANS_STMT_BEGIN' || kind === 'TRANS_STMT_START';
    const ends = kind === 'TRANS_STMT_COMMIT' || kind === 'TRANS_STMT_ROLLBACK';
    if (!begins && !ends) return;
    const explicitOpen = context.session.openBegin !== undefined;
    if (context.assumeInTransaction) {
      context.report({ message: begins ? 'The migration tool already runs this file in a transaction: this BEGIN starts nothing.' : 'This ends the transaction the migration tool opened for the file: the statements after it run outside any transaction.' });
    } else if (begins && explicitOpen) {
      context.report({ message: 'A transaction is already open: this BEGIN starts nothing, and the next COMMIT ends the outer transaction.' });
    } else if (ends && !explicitOpen) {
      context.report({ message: 'There is no transaction to end here.', help: 'BEGIN a transaction earlier in the file, or remove this statement.' });
    }
  },
);
