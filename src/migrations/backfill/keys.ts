/**
 * SQL fragments for keyset batches. Key values travel as text and come back through a cast to the
 * column's own type: text round-trips every orderable type exactly (bigint beyond 2^53, uuid,
 * timestamps with microseconds, numeric), where JavaScript values would not, and it is what the
 * progress table can store for any key.
 */
import { ident } from '../sql.js';
import type { TableShape } from './table.js';

/** `"a"` or `("a", "b")`: a row comparison orders composite keys as the unique index does */
export function keyTuple(shape: TableShape): string {
  const columns = shape.keyColumns.map(ident);
  return columns.length === 1 ? columns[0]! : `(${columns.join(', ')})`;
}

/** the key as parameters `$first..`, each cast to its column's type */
export function keyParams(shape: TableShape, first: number): string {
  const params = shape.keyTypes.map((type, index) => `$${first + index}::${type}`);
  return params.length === 1 ? params[0]! : `(${params.join(', ')})`;
}

/** the key columns as text, named k0, k1, ... */
export function keyAsText(shape: TableShape): string {
  return shape.keyColumns.map((column, index) => `${ident(column)}::text as k${index}`).join(', ');
}

export function keyOrder(shape: TableShape, direction: 'asc' | 'desc'): string {
  return shape.keyColumns.map((column) => `${ident(column)} ${direction}`).join(', ');
}

export function keyFromRow(shape: TableShape, row: Record<string, string>): string[] {
  return shape.keyColumns.map((_, index) => row[`k${index}`]!);
}
