/**
 * Checks that the file format (format.ts, like pgroll's schema) cannot express and pgroll itself only
 * makes when a migration starts: here they run on the file, so a migration that would fail on the
 * production database is refused before anything touches it. Problems that only might be wrong are
 * warnings: a file pgroll runs must still load.
 */
import type { PathProblem, PathSegment } from '../spec/problems.js';
import type { Operation } from './operations.js';

export type Severity = 'error' | 'warning';

export interface SemanticProblem extends PathProblem {
  severity: Severity;
}

/** Types whose columns get a value without `default` or `up` (a sequence). */
const IMPLICIT_DEFAULT_TYPES = new Set(['smallserial', 'serial', 'bigserial', 'serial2', 'serial4', 'serial8']);

/**
 * The problems of a migration whose operations at `operations[index]` passed the format. `total` is
 * the length of the operations list (invalid operations included): an empty list is a problem, and
 * an isolated operation cannot share the migration with any other.
 */
export function checkOperations(operations: ReadonlyMap<number, Operation>, total: number): SemanticProblem[] {
  if (total === 0) {
    return [{ path: ['operations'], severity: 'error', message: 'a migration needs at least one operation; the list is empty' }];
  }
  const problems: SemanticProblem[] = [];
  for (const [index, operation] of operations) {
    problems.push(...checkOperation(operation, ['operations', index, operation.kind], total));
  }
  return problems;
}

function checkOperation(operation: Operation, at: PathSegment[], total: number): SemanticProblem[] {
  const error = (path: PathSegment[], message: string): SemanticProblem => ({ path, message, severity: 'error' });
  switch (operation.kind) {
    case 'add_column': {
      const { column } = operation;
      const problems: SemanticProblem[] = [];
      const getsValue = column.nullable === true || column.default !== undefined || nonEmpty(operation.up) || column.generated !== undefined;
      if (!getsValue && !IMPLICIT_DEFAULT_TYPES.has(column.type.trim().toLowerCase())) {
        problems.push(
          error(
            [...at, 'column'],
            `column "${column.name}" is NOT NULL (nullable defaults to false) with no "default" and no "up": adding it fails on a table that has rows; ` +
              'set "up" to the value for existing rows, give it a "default", or make it "nullable: true"',
          ),
        );
      }
      if (column.pk === true) {
        problems.push(error([...at, 'column', 'pk'], 'adding a primary key column to an existing table is not supported: add the column, then create_constraint with type primary_key'));
      }
      if (nonEmpty(column.generated?.expression) && column.generated?.identity !== undefined) {
        problems.push(error([...at, 'column', 'generated'], 'a generated column has an "expression" or an "identity", not both'));
      }
      return problems;
    }
    case 'alter_column':
      if (operation.type !== undefined && (!nonEmpty(operation.up) || !nonEmpty(operation.down))) {
        const missing = [nonEmpty(operation.up) ? undefined : '"up" (old value -> new type)', nonEmpty(operation.down) ? undefined : '"down" (new value -> old type)'];
        return [
          error(
            at,
            `changing the type of "${operation.column}" to ${operation.type} needs both "up" and "down", so the old and the new version can both write during the migration; ` +
              `empty: ${missing.filter((text) => text !== undefined).join(' and ')}`,
          ),
        ];
      }
      return [];
    case 'drop_column':
      if (!nonEmpty(operation.down)) {
        return [
          {
            path: at,
            severity: 'warning',
            message:
              `no "down": until the migration completes, the old version reads NULL in "${operation.column}" for rows the new version writes, ` +
              'and those writes fail if the column is NOT NULL without a default; set "down" to the value the old version should see',
          },
        ];
      }
      return [];
    case 'sql': {
      const problems: SemanticProblem[] = [];
      if (!nonEmpty(operation.up)) problems.push(error([...at, 'up'], '"up" is empty: there is no SQL to run'));
      // pgroll cannot build a version schema around arbitrary SQL run on start
      if (operation.onComplete !== true && total > 1) {
        problems.push(error(at, 'an sql operation that runs on start must be the only operation of its migration: move it to a migration of its own, or set "onComplete: true"'));
      }
      return problems;
    }
    default:
      return [];
  }
}

function nonEmpty(text: string | undefined): boolean {
  return text !== undefined && text.trim() !== '';
}
