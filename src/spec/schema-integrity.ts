/**
 * Integrity checks that `verify` steps run against an environment's app database. Each is a read-only
 * assertion: it passes when it finds nothing wrong, and fails with the offending rows as evidence.
 */
import { z } from 'zod';
import { durationSchema } from './duration.js';
import { nameSchema, nonEmptyString } from './schema-meta.js';

const checkTimeout = durationSchema.prefault('60s').describe('Give up after this long (statement_timeout); a check that times out fails.');

const tableColumns = z.array(nonEmptyString).min(1);

const reconcileSideSchema = z
  .strictObject({
    table: nonEmptyString.optional().describe('A table, `name` or `schema.name`.'),
    query: nonEmptyString.optional().describe('Instead of a table: a SELECT giving the rows in the compared shape (a translation after a migration).'),
    environment: nameSchema.optional().describe('Read this side from another environment\'s database; default: the environment the step runs in.'),
  })
  .superRefine((side, ctx) => {
    if ((side.table === undefined) === (side.query === undefined)) ctx.addIssue({ code: 'custom', message: 'a side is a `table` or a `query`, exactly one of them' });
  });

export const integrityCheckSchema = z
  .discriminatedUnion('type', [
    z
      .strictObject({
        type: z.literal('sql'),
        query: nonEmptyString.describe('A SELECT that returns the rows that break the rule; the check passes when it returns none.'),
        description: z.string().optional().describe('The rule, in words, for reports.'),
        timeout: checkTimeout,
      })
      .describe('A business rule as a query that must return zero rows.'),
    z
      .strictObject({
        type: z.literal('notNull'),
        table: nonEmptyString.describe('The table, `name` or `schema.name`.'),
        columns: tableColumns.describe('Columns that must hold a value in every row.'),
        timeout: checkTimeout,
      })
      .describe('No NULLs where the new shape requires a value (a backfill that missed rows shows here).'),
    z
      .strictObject({
        type: z.literal('references'),
        table: nonEmptyString.describe('The referencing table.'),
        columns: tableColumns.describe('Its referencing columns.'),
        references: z.strictObject({ table: nonEmptyString, columns: tableColumns }).describe('The referenced table and columns.'),
        timeout: checkTimeout,
      })
      .describe('Referential integrity: every non-NULL reference finds its row, declared as a foreign key or not.'),
    z
      .strictObject({
        type: z.literal('reconcile'),
        source: reconcileSideSchema.describe('The rows as they should be: the legacy table, say.'),
        target: reconcileSideSchema.describe('The rows to prove: the new table, or a query over it.'),
        key: tableColumns.optional().describe('Key columns; default: the primary key.'),
        columns: tableColumns.optional().describe('Compared columns; default: every non-key column of the source.'),
        timeout: checkTimeout,
      })
      .describe('Reconciliation (chunked checksums and bisection): the check fails on any missing, extra or different row; it never repairs.'),
    z
      .strictObject({
        type: z.literal('schema'),
        against: nameSchema.optional().describe('The environment to compare with; default: the one before in the promotion order.'),
        timeout: checkTimeout,
      })
      .describe('The same migration history (names and checksums) and the same shape (tables, columns, types, constraints, indexes) as another environment.'),
  ])
  .superRefine((check, ctx) => {
    if (check.type === 'references' && check.columns.length !== check.references.columns.length) {
      ctx.addIssue({ code: 'custom', path: ['references', 'columns'], message: `${check.columns.length} referencing column(s) need as many referenced columns, got ${check.references.columns.length}` });
    }
  })
  .describe('A data integrity check.');

export type IntegrityCheckSpec = z.output<typeof integrityCheckSchema>;
