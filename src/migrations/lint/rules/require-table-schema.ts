/**
 * require-table-schema (opt-in): a table named without its schema is resolved through search_path,
 * which differs between connections, roles and tools; the migration can then change a table other
 * than the one its author meant.
 */
import type { RangeVar } from 'libpg-query';
import { as } from '../ast.js';
import { defineRule } from './define.js';

export const requireTableSchema = defineRule(
  {
    name: 'require-table-schema',
    severity: 'warning',
    optIn: true,
    summary: 'Tables named without a schema depend on the search_path of whoever runs the migration.',
    help: 'Qualify the table with its schema: public.orders rather than orders.',
  },
  (statement, context) => {
    const node = statement.node;
    const relations: Array<RangeVar | undefined> = [
      as(node, 'CreateStmt')?.relation,
      as(node, 'AlterTableStmt')?.relation,
      as(node, 'CreateTableAsStmt')?.into?.rel,
    ];
    const drop = as(node, 'DropStmt');
    const unqualifiedDrops = drop?.removeType === 'OBJECT_TABLE' ? (drop.objects ?? []).filter((object) => (as(object, 'List')?.items ?? []).length === 1).length : 0;
    const unqualified = relations.filter((relation) => relation && !relation.schemaname).length + unqualifiedDrops;
    if (unqualified > 0) context.report({ message: 'This statement names a table without its schema, so it acts on whatever the search_path finds first.' });
  },
);
