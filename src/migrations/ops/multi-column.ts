/**
 * What create_constraint, drop_constraint and drop_multicolumn_constraint share: finding the
 * constraint a file names, checking the per-column `up`/`down` maps against the columns they
 * duplicate, and deciding whether the table has rows to backfill.
 */
import type pg from 'pg';
import { wrapError } from '../../errors.js';
import type { MultiColumnSql } from '../operations.js';
import { qualified, literal } from '../sql.js';
import type { VirtualConstraint, VirtualTable } from '../virtual-schema.js';
import { OperationError } from './types.js';

/** The constraint, or an error naming the ones the table has (NOT NULL is a column's nullability, not listed). */
export function requireConstraint(table: VirtualTable, name: string): VirtualConstraint {
  const constraints = table.constraints.filter((constraint) => constraint.type !== 'not_null');
  const found = constraints.find((constraint) => constraint.name === name);
  if (found !== undefined) return found;
  const existing = constraints.map((constraint) => constraint.name);
  throw new OperationError(`constraint "${name}" does not exist on table "${table.name}"${existing.length === 0 ? ' (it has none)' : ` (it has: ${existing.join(', ')})`}`);
}

/** The columns of a constraint by the names the migration uses (a constraint lists physical names). */
export function constraintColumns(table: VirtualTable, constraint: VirtualConstraint): string[] {
  return constraint.columns.map((physical) => table.columns.find((column) => column.physical === physical)?.name ?? physical);
}

/**
 * A map of `up` or `down` must name only the columns the operation duplicates, and, when `required`,
 * each of them (an empty expression still means "the value unchanged").
 */
export function checkColumnSql(field: string, sql: MultiColumnSql | undefined, columns: readonly string[], required: boolean): void {
  for (const name of Object.keys(sql ?? {})) {
    if (!columns.includes(name)) throw new OperationError(`${field} names column "${name}", which the constraint does not cover (it covers: ${columns.join(', ')})`);
  }
  if (!required) return;
  const missing = columns.filter((column) => sql?.[column] === undefined);
  if (missing.length > 0) throw new OperationError(`${field} has no expression for column${missing.length > 1 ? 's' : ''} ${missing.map((column) => `"${column}"`).join(', ')}`);
}

/**
 * Whether the table is on disk already. One that is not is made by an earlier operation of the same
 * migration and is empty when the triggers come, so it needs no backfill (nor the key a backfill walks).
 */
export async function tableOnDisk(db: pg.Pool, schema: string, table: string): Promise<boolean> {
  try {
    const result = await db.query<{ found: boolean }>(`select to_regclass(${literal(qualified(schema, table))}) is not null as found`);
    return result.rows[0]?.found === true;
  } catch (error) {
    throw wrapError(`looking for table "${table}"`, error);
  }
}

/** Whether a relation (an index's name is one) of this name exists in the schema. */
export async function relationOnDisk(db: pg.Pool, schema: string, name: string): Promise<boolean> {
  return tableOnDisk(db, schema, name);
}
