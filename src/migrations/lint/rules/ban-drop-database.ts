/**
 * ban-drop-database: no migration should drop a database; one that does is almost surely a script
 * run against the wrong place.
 */
import { as } from '../ast.js';
import { defineRule } from './define.js';

export const banDropDatabase = defineRule(
  {
    name: 'ban-drop-database',
    severity: 'error',
    summary: 'Dropping a database breaks every client of it.',
    help: 'Remove the statement: databases are created and dropped by operators, not by application migrations.',
  },
  (statement, context) => {
    const drop = as(statement.node, 'DropdbStmt');
    if (drop) context.report({ message: `Dropping database ${drop.dbname ?? ''} breaks every client of it.` });
  },
);
