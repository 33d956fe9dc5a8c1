/**
 * ban-create-domain-with-constraint: a constraint on a domain is checked against every column that
 * uses the domain whenever it changes, and Postgres cannot reason about it the way it can about
 * varchar(n), so later changes tend to rewrite or rescan tables.
 */
import { as } from '../ast.js';
import { defineRule } from './define.js';

export const banCreateDomainWithConstraint = defineRule(
  {
    name: 'ban-create-domain-with-constraint',
    severity: 'error',
    summary: 'Domains with constraints make later changes rescan every column that uses them.',
    help: 'Create the domain without a constraint (or use the base type) and put CHECK constraints on the columns themselves, where NOT VALID and VALIDATE make them safe to change.',
  },
  (statement, context) => {
    const domain = as(statement.node, 'CreateDomainStmt');
    for (const node of domain?.constraints ?? []) {
      const constraint = as(node, 'Constraint');
      if (constraint?.contype === 'CONSTR_CHECK' || constraint?.contype === 'CONSTR_NOTNULL') {
        context.report({ message: 'A domain with a constraint ties every column of that type to it: changing it later rescans them all.', location: constraint.location });
      }
    }
  },
);
