/**
 * ban-alter-domain-with-add-constraint: adding a constraint to a domain checks every row of every
 * column that uses it, across tables, while blocking writes to them.
 */
import { as } from '../ast.js';
import { defineRule } from './define.js';

export const banAlterDomainWithAddConstraint = defineRule(
  {
    name: 'ban-alter-domain-with-add-constraint',
    severity: 'error',
    summary: 'Adding a constraint to a domain checks every column that uses it, in every table.',
    help: 'Put the CHECK on the columns themselves, added NOT VALID and validated in a separate transaction.',
  },
  (statement, context) => {
    const domain = as(statement.node, 'AlterDomainStmt');
    if (domain?.subtype === 'C') context.report({ message: 'Adding a constraint to a domain scans every column of that type in every table, blocking writes to them.' });
  },
);
