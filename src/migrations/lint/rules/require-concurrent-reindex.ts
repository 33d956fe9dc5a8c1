/**
 * require-concurrent-reindex: a plain REINDEX locks out writes to the table (and reads that would use
 * the index) for the whole rebuild; since Postgres 12 it can rebuild concurrently.
 */
import { as, option } from '../ast.js';
import { defineRule } from './define.js';

export const requireConcurrentReindex = defineRule(
  {
    name: 'require-concurrent-reindex',
    severity: 'error',
    summary: 'REINDEX without CONCURRENTLY blocks the table while the index is rebuilt.',
    help: 'Use REINDEX ... CONCURRENTLY (Postgres 12+), outside a transaction. On older servers, build a new index CONCURRENTLY and drop the old one CONCURRENTLY.',
  },
  (statement, context) => {
    const reindex = as(statement.node, 'ReindexStmt');
    if (!reindex || option(reindex.params, 'concurrently')) return;
    if (reindex.kind === 'REINDEX_OBJECT_SYSTEM') return;
    context.report({ message: `REINDEX ${reindex.relation?.relname ?? reindex.name ?? ''} without CONCURRENTLY blocks writes, and the reads that need the index, until the rebuild ends.` });
  },
);
