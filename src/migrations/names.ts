/**
 * The names Promote gives the objects it adds to an app's database during a migration. They share
 * the `_promote_` prefix, so a reader of the catalog knows whose they are, and each is a pure function
 * of the table and column, so complete and rollback find what start made without remembering it.
 */
import { boundedName } from './sql.js';

/** The schema in the app's database where Promote keeps its migration state and helper functions. */
export const STATE_SCHEMA = 'promote_migrate';

/** Marks rows the backfill has still to visit: any write through a trigger clears it. */
export const NEEDS_BACKFILL_COLUMN = '_promote_needs_backfill';

/**
 * Whether the row's last write came from the new version. The integrity gate checks such a row
 * with `down` (old = down(new)) and any other with `up` (new = up(old)): a value the new version
 * wrote need not survive a round trip through down and up.
 */
export const NEW_VERSION_WROTE_COLUMN = '_promote_new_version_wrote';

/** The bookkeeping columns a migration adds to a table with dual-write triggers. */
export const TRIGGER_BOOKKEEPING_COLUMNS: readonly string[] = [NEEDS_BACKFILL_COLUMN, NEW_VERSION_WROTE_COLUMN];

/** The physical column that holds the new version of a column while two versions live. */
export function newColumnName(column: string): string {
  return boundedName(`_promote_new_${column}`);
}

/** Where a contracted column is kept aside while the contract can still be undone. */
export function removedColumnName(column: string): string {
  return boundedName(`_promote_removed_${column}`);
}

/** The trigger (and its function) that computes `target` from the other version's columns. */
export function triggerName(table: string, target: string): string {
  return boundedName(`_promote_trg_${table}_${target}`);
}

/** The temporary NOT NULL check of a column added NOT NULL without a default, validated on complete. */
export function notNullCheckName(column: string): string {
  return boundedName(`_promote_not_null_${column}`);
}

export function uniqueIndexName(table: string, column: string): string {
  return boundedName(`_promote_unique_${table}_${column}`);
}

/** pgroll's rule: a migration's views live in `<schema>_<version_schema or name>`. */
export function versionSchemaName(schema: string, version: string): string {
  return `${schema}_${version}`;
}
