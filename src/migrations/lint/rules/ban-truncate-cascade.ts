/**
 * ban-truncate-cascade: TRUNCATE ... CASCADE also empties every table that references these ones,
 * and the tables that reference those, which is rarely what the author looked at.
 */
import { as } from '../ast.js';
import { defineRule } from './define.js';

export const banTruncateCascade = defineRule(
  {
    name: 'ban-truncate-cascade',
    severity: 'error',
    summary: 'TRUNCATE CASCADE also empties every table that references the truncated ones.',
    help: 'Name every table to empty explicitly, without CASCADE, so the statement fails instead of silently emptying tables nobody listed.',
  },
  (statement, context) => {
    const truncate = as(statement.node, 'TruncateStmt');
    if (truncate?.behavior === 'DROP_CASCADE') context.report({ message: 'TRUNCATE ... CASCADE also empties every table with a foreign key to these, recursively.' });
  },
);
