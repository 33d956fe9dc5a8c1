/**
 * require-concurrent-index-deletion: DROP INDEX takes an ACCESS EXCLUSIVE lock on the index's table,
 * and while it waits for that lock every query on the table queues behind it.
 */
import { as, lastName } from '../ast.js';
import { defineRule } from './define.js';

export const requireConcurrentIndexDeletion = defineRule(
  {
    name: 'require-concurrent-index-deletion',
    severity: 'error',
    summary: 'DROP INDEX without CONCURRENTLY blocks reads and writes to the table.',
    help: 'Use DROP INDEX CONCURRENTLY IF EXISTS, outside a transaction: it waits for running queries instead of blocking new ones. With Promote, a drop_index migration does this.',
  },
  (statement, context) => {
    const drop = as(statement.node, 'DropStmt');
    if (drop?.removeType !== 'OBJECT_INDEX' || drop.concurrent) return;
    const names = (drop.objects ?? []).map((object) => lastName(as(object, 'List')?.items) ?? '');
    const onNewTables = names.every((name) => context.isNewTable(context.schema.indexes.get(name)?.table));
    if (!onNewTables) context.report({ message: `Dropping index ${names.join(', ')} without CONCURRENTLY takes an ACCESS EXCLUSIVE lock on its table.` });
  },
);
