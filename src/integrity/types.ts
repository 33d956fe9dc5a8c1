/**
 * The shapes `reconcile` takes and returns. A side is a table, or a SELECT over tables (a translated
 * view: the old rows in the new shape after a migration), in a database named by URL or by an open pool.
 */
import type pg from 'pg';
import type { Queryable } from '../store/queryable.js';

export interface SideInput {
  /** a postgres:// URL; or `pool` */
  url?: string;
  pool?: pg.Pool;
  /** a table, `name` or `schema.name` (quote mixed-case names as SQL does) */
  table?: string;
  /**
   * instead of a table: a SELECT giving the rows in the compared shape, e.g.
   * `select id, lower(email) as email from users_v1` (the translation after a migration)
   */
  query?: string;
  /** printed in reports and audit events instead of the table or query */
  label?: string;
}

export type RepairPolicy = 'source-wins' | 'flag';

export interface RepairOptions {
  /** required, no default: `source-wins` changes the target; `flag` only records the differences */
  policy: RepairPolicy;
  /** keys per repair transaction and per audit event (default 500) */
  batchRows?: number;
  /** the state store (Promote's own database) whose audit trail records every batch */
  store: Queryable;
  /** who asked, for the audit trail (default `reconcile`) */
  actor?: string;
  app?: string | null;
  environment?: string | null;
}

export interface ReconcileOptions {
  source: SideInput;
  target: SideInput;
  /** the key columns; default: the source table's primary key (or a unique not-null index), else the target's */
  key?: string[];
  /** the compared columns, in this order; default: every non-key column of the source, by name */
  columns?: string[];
  /** rows per first-level chunk (default 20 000) */
  chunkRows?: number;
  /** at most this many sub-ranges per split of a differing range; a split makes as many as it takes to reach `leafRows` (default 128) */
  bisectionFactor?: number;
  /** a range with at most this many rows is compared row by row (default 256) */
  leafRows?: number;
  /**
   * the 64-bit row hash: `auto` (default) uses hashtextextended when both servers hash probe texts
   * alike (same byte order, PostgreSQL 11 or later), else md5; `md5` always uses md5
   */
  hash?: 'auto' | 'md5';
  /** a difference found by the scan is read again after `delayMs`, `rounds` times, and reported only if it still differs every time */
  recheck?: { delayMs?: number; rounds?: number };
  repair?: RepairOptions;
  /** called on the way, for progress output */
  onProgress?: (progress: { phase: 'scan' | 'recheck' | 'repair'; done: number; total: number }) => void;
}

/** A key as the text of each key column (the columns in `report.key` order). */
export type Key = string[];

export type DifferenceKind = 'missing' | 'extra' | 'different' | 'duplicate';

export interface Difference {
  /** missing: in the source, not the target; extra: in the target, not the source; duplicate: a side holds the key more than once */
  kind: DifferenceKind;
  key: Key;
  /** for `different`: the compared columns whose values differ */
  columns?: string[];
  /** for `duplicate`: rows with this key on each side */
  rows?: { source: number; target: number };
}

export interface SideSummary {
  label: string;
  /** rows present, counted in the same snapshot as the chunks */
  rows: number;
  /** rows the chunks covered: equal to `rows`, or the run fails */
  rowsChecked: number;
  queries: number;
}

export interface ReconcileReport {
  equal: boolean;
  key: string[];
  columns: string[];
  /** `snapshot`: one database, both sides read in one exported REPEATABLE READ snapshot; `separate`: two databases */
  consistency: 'snapshot' | 'separate';
  /** the row hash both sides used (see `ReconcileOptions.hash`) */
  hash: 'hashtextextended' | 'md5';
  source: SideSummary;
  target: SideSummary;
  chunks: number;
  /** ranges whose count or checksum differed, at any bisection level */
  differingRanges: number;
  /** differences the scan found, before the re-check */
  candidates: number;
  /** candidates that were equal when read again (rows in flight during the scan) */
  settledOnRecheck: number;
  differences: Difference[];
  counts: Record<DifferenceKind, number>;
  elapsedMs: number;
  repair?: RepairReport;
}

export interface RepairReport {
  policy: RepairPolicy;
  batches: number;
  /** target rows deleted, updated and inserted (0 for `flag`) */
  deleted: number;
  updated: number;
  inserted: number;
  /** the audit-trail event of each batch */
  eventSeqs: number[];
}
