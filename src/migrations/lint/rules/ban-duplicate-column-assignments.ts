/**
 * ban-duplicate-column-assignments: naming a column twice in CREATE TABLE, a view's column list,
 * INSERT's column list or UPDATE ... SET is an error Postgres raises only when the migration runs.
 */
import type { Node } from 'libpg-query';
import { as, strings } from '../ast.js';
import { defineRule } from './define.js';

export const banDuplicateColumnAssignments = defineRule(
  {
    name: 'ban-duplicate-column-assignments',
    severity: 'error',
    summary: 'A column named twice in one statement makes Postgres reject it when the migration runs.',
    help: 'Name each column once.',
  },
  (statement, context) => {
    const seen = new Set<string>();
    for (const name of columnNames(statement.node)) {
      if (name === undefined) continue;
      if (seen.has(name)) context.report({ message: `Column ${name} is named more than once; Postgres rejects the statement.` });
      seen.add(name);
    }
  },
);

function columnNames(node: Node): Array<string | undefined> {
  const create = as(node, 'CreateStmt');
  if (create) return (create.tableElts ?? []).map((element) => as(element, 'ColumnDef')?.colname);
  const view = as(node, 'ViewStmt');
  if (view) return strings(view.aliases);
  return targets(as(node, 'InsertStmt')?.cols ?? as(node, 'UpdateStmt')?.targetList);
}

/** SET a[1] = x, a[2] = y assigns two parts of one column, which is allowed: only whole columns count. */
function targets(list: Node[] | undefined): Array<string | undefined> {
  return (list ?? []).map((item) => as(item, 'ResTarget')).map((target) => (target?.indirection?.length ? undefined : target?.name));
}
