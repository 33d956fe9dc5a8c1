/**
 * require-enum-value-ordering: ALTER TYPE ... ADD VALUE without BEFORE or AFTER appends the value, and
 * enums compare by position, so `status < 'approved'` silently changes meaning if the new value
 * belongs in the middle.
 */
import { as } from '../ast.js';
import { defineRule } from './define.js';

export const requireEnumValueOrdering = defineRule(
  {
    name: 'require-enum-value-ordering',
    severity: 'warning',
    summary: 'ADD VALUE without BEFORE/AFTER appends the value, which changes how the enum sorts and compares.',
    help: "Say where the value goes: ALTER TYPE ... ADD VALUE 'x' BEFORE 'y' (or AFTER 'z').",
  },
  (statement, context) => {
    const alter = as(statement.node, 'AlterEnumStmt');
    if (alter?.newVal !== undefined && alter.oldVal === undefined && !alter.newValNeighbor) {
      context.report({ message: `Adding enum value '${alter.newVal}' without BEFORE or AFTER appends it: comparisons and ORDER BY on the enum use that position.` });
    }
  },
);
