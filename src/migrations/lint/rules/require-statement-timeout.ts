/**
 * require-statement-timeout: without a statement_timeout a migration that turns out slow (a scan, a
 * rewrite) holds its locks for as long as it takes. Reported once per file, at the first statement
 * that locks an existing table.
 */
import { lockTaken } from '../locks.js';
import type { Rule } from '../types.js';

export const requireStatementTimeout: Rule = {
  name: 'require-statement-timeout',
  severity: 'warning',
  summary: 'DDL without a statement_timeout can hold its locks for as long as it runs.',
  help: "SET statement_timeout = '5min' (or what the slowest expected statement needs) at the top of the file, and 0 just before a long CONCURRENTLY build. If the migration tool sets one on the connection, ignore this rule for the file.",
  create(context) {
    let reported = false;
    return {
      statement(statement) {
        if (reported || context.session.statementTimeout || !lockTaken(statement, context)) return;
        reported = true;
        context.report({ message: 'No statement_timeout is set before this statement: if it runs long it holds its locks until it ends.' });
      },
    };
  },
};
