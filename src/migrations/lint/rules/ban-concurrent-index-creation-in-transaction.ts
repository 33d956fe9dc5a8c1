/**
 * ban-concurrent-index-creation-in-transaction: Postgres refuses CREATE INDEX CONCURRENTLY (and the
 * other CONCURRENTLY index commands) inside a transaction block, so the migration fails when it runs.
 * A file holding only that one statement is exempt: tools like golang-migrate then skip the wrapping
 * transaction.
 */
import { as, option } from '../ast.js';
import { defineRule } from './define.js';
import type { Statement } from '../types.js';

export const banConcurrentIndexCreationInTransaction = defineRule(
  {
    name: 'ban-concurrent-index-creation-in-transaction',
    severity: 'error',
    summary: 'CONCURRENTLY index commands fail inside a transaction.',
    help: 'Run the CONCURRENTLY statement outside any transaction: move it after the COMMIT, or into a file of its own that the migration tool runs without a transaction.',
  },
  (statement, context) => {
    if (!context.session.inTransaction || context.statementCount < 2) return;
    const what = concurrentIndexCommand(statement);
    if (what) context.report({ message: `${what} cannot run inside a transaction block: Postgres rejects it and the migration fails.` });
  },
);

function concurrentIndexCommand(statement: Statement): string | undefined {
  if (as(statement.node, 'IndexStmt')?.concurrent) return 'CREATE INDEX CONCURRENTLY';
  const drop = as(statement.node, 'DropStmt');
  if (drop?.removeType === 'OBJECT_INDEX' && drop.concurrent) return 'DROP INDEX CONCURRENTLY';
  if (option(as(statement.node, 'ReindexStmt')?.params, 'concurrently')) return 'REINDEX CONCURRENTLY';
  return undefined;
}
