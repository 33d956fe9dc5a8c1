/**
 * require-concurrent-index-creation: CREATE INDEX without CONCURRENTLY holds a SHARE lock for the
 * whole build, so every write to the table waits, for minutes on a large one. An index on a table
 * made earlier in the same file is exempt: that table is empty and unused.
 */
import { as } from '../ast.js';
import { defineRule } from './define.js';

export const requireConcurrentIndexCreation = defineRule(
  {
    name: 'require-concurrent-index-creation',
    severity: 'error',
    summary: 'CREATE INDEX without CONCURRENTLY blocks writes to the table while the index builds.',
    help: 'Use CREATE INDEX CONCURRENTLY (outside a transaction, with IF NOT EXISTS and a name). With Promote, a create_index migration builds concurrently and repairs an invalid index left by an interrupted build.',
  },
  (statement, context) => {
    const index = as(statement.node, 'IndexStmt');
    if (!index || index.concurrent || context.isNewTable(index.relation?.relname)) return;
    const name = index.idxname ? `index ${index.idxname}` : 'an index';
    context.report({ message: `Creating ${name} on ${index.relation?.relname ?? ''} without CONCURRENTLY blocks writes to the table until the build ends.` });
  },
);
