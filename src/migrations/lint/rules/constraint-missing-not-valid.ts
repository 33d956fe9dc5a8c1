/**
 * constraint-missing-not-valid: a CHECK, FOREIGN KEY or (Postgres 18) NOT NULL constraint added
 * without NOT VALID is checked against every row under a lock that blocks writes. Adding it NOT VALID
 * and validating later avoids that, but only if the VALIDATE runs in a later transaction: in the same
 * one, the first lock is still held during the scan.
 */
import type { Constraint } from 'libpg-query';
import type { Rule } from '../types.js';
import { addedConstraints, alterTable } from './define.js';

const VALIDATABLE = new Set<Constraint['contype']>(['CONSTR_CHECK', 'CONSTR_FOREIGN', 'CONSTR_NOTNULL']);

export const constraintMissingNotValid: Rule = {
  name: 'constraint-missing-not-valid',
  severity: 'error',
  summary: 'Constraints added without NOT VALID scan the table while blocking writes.',
  help: 'Add the constraint NOT VALID (instant; new rows are checked from then on), then VALIDATE CONSTRAINT in a separate transaction, which scans the old rows without blocking writes. With Promote, a create_constraint migration does both steps.',
  create(context) {
    /** constraints added NOT VALID in the transaction now open */
    let notValidInTransaction = new Set<string>();
    let wasInTransaction = false;
    return {
      statement(statement) {
        const inTransaction = context.session.inTransaction;
        if (!inTransaction || !wasInTransaction) notValidInTransaction = new Set();
        wasInTransaction = inTransaction;
        for (const { table, constraint } of addedConstraints(statement)) {
          if (!VALIDATABLE.has(constraint.contype)) continue;
          if (constraint.skip_validation) {
            if (constraint.conname && inTransaction) notValidInTransaction.add(constraint.conname);
          } else if (!context.isNewTable(table)) {
            const name = constraint.conname ? `constraint ${constraint.conname}` : 'a constraint';
            context.report({ message: `Adding ${name} checks every existing row while blocking writes to ${table ?? 'the table'}.`, location: constraint.location });
          }
        }
        for (const cmd of alterTable(statement)?.cmds ?? []) {
          if (cmd.subtype === 'AT_ValidateConstraint' && cmd.name && notValidInTransaction.has(cmd.name)) {
            context.report({
              message: `Validating ${cmd.name} in the transaction that added it NOT VALID keeps the write-blocking lock for the whole scan.`,
              help: 'Commit after adding the constraint NOT VALID, and VALIDATE CONSTRAINT in a later transaction (or migration).',
            });
          }
        }
      },
    };
  },
};
