/**
 * prefer-text-field: varchar(n) bakes a length limit into the type; raising it is cheap but lowering
 * it, or changing it on older servers, rewrites the table. text with a CHECK on length can be changed
 * with NOT VALID constraints instead.
 */
import { defineTypeRule } from './define.js';

export const preferTextField = defineTypeRule(
  {
    name: 'prefer-text-field',
    severity: 'warning',
    summary: 'varchar(n) puts the length limit in the type, where changing it can lock the table.',
    help: 'Use text with a CHECK (length(col) <= n) constraint: the limit can then be changed with NOT VALID constraints, without touching the column.',
  },
  (type) => (type.name === 'varchar' && type.typmods.length > 0 ? 'a length limit in the type is hard to change later; use text with a CHECK constraint' : undefined),
);
