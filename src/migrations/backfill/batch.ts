/**
 * One batch: a short transaction that touches a bounded set of rows with a no-op UPDATE (the
 * triggers fill the new columns) and saves the cursor. Only rows still flagged are touched: a row
 * the app wrote since the triggers exist already has its new columns, and writing it again could
 * replace what the new version wrote.
 */
import type pg from 'pg';
import { NEEDS_BACKFILL_COLUMN } from '../names.js';
import { ident } from '../sql.js';
import { keyAsText, keyFromRow, keyOrder, keyParams, keyTuple } from './keys.js';
import type { TableShape } from './table.js';

export interface BatchSettings {
  lockTimeoutMs: number;
  statementTimeoutMs: number;
}

/**
 * Runs `work` in a transaction of its own with the batch's limits. enable_seqscan is off because the
 * planner estimates a row comparison from its first column only, and with stale statistics it can
 * take a key range for a large share of the table: every batch must be an index range scan, never a
 * scan of the table. synchronous_commit is off because losing the last batches in a crash is
 * harmless: their rows and their cursor are lost together, and the next run does them again.
 */
export async function inBatchTransaction<T>(client: pg.ClientBase, settings: BatchSettings, work: () => Promise<T>): Promise<T> {
  await client.query(
    `begin; set local lock_timeout = ${Math.max(1, Math.round(settings.lockTimeoutMs))}; ` +
      `set local statement_timeout = ${Math.max(1, Math.round(settings.statementTimeoutMs))}; ` +
      `set local enable_seqscan = off; set local synchronous_commit = off; ${KEY_TEXT_SETTINGS}`,
  );
  try {
    const result = await work();
    await client.query('commit');
    return result;
  } catch (error) {
    await client.query('rollback').catch(() => undefined);
    throw error;
  }
}

/**
 * Keys kept as text must read back as the same values in another session, maybe with other
 * settings: fix the output styles that could make a date or an interval ambiguous, and print floats
 * exactly. Timestamps with time zone print their offset, so TimeZone does not matter.
 */
const KEY_TEXT_SETTINGS = `set local datestyle = 'ISO, YMD'; set local intervalstyle = 'postgres'; set local extra_float_digits = 1`;

export interface KeysetStep {
  /** the batch's last key: the cursor after it commits */
  end: string[];
  /** rows in the key range at the batch's snapshot (the progress count) */
  covered: number;
  /** rows the UPDATE touched, each firing the triggers once */
  updated: number;
  /** the range reached the pass's end key */
  last: boolean;
}

/**
 * The range (after, end] holding `size` keys, then the UPDATE of that range. Finding the range's end
 * first (an index-only walk of `size` entries) keeps the UPDATE a plain range predicate, so its cost
 * does not depend on the table's size or on how far the pass has gone.
 */
export async function keysetStep(client: pg.ClientBase, shape: TableShape, after: string[] | null, passEnd: string[], size: number): Promise<KeysetStep> {
  const width = shape.keyColumns.length;
  const tuple = keyTuple(shape);
  const lower = after ? `${tuple} > ${keyParams(shape, 1)} and ` : '';
  const upperAt = after ? width + 1 : 1;
  const values = after ? [...after, ...passEnd] : [...passEnd];
  const found = await client.query<Record<string, string>>(
    `select ${keyAsText(shape)} from ${shape.sql} where ${lower}${tuple} <= ${keyParams(shape, upperAt)}
      order by ${keyOrder(shape, 'asc')} offset ${Math.max(0, Math.floor(size) - 1)} limit 1`,
    values,
  );
  const endRow = found.rows[0];
  const end = endRow ? keyFromRow(shape, endRow) : passEnd;
  const updateValues = after ? [...after, ...end] : [...end];
  const flag = ident(NEEDS_BACKFILL_COLUMN);
  const updated = await client.query(
    `update ${shape.sql} set ${flag} = false where ${lower}${tuple} <= ${keyParams(shape, upperAt)} and ${flag}`,
    updateValues,
  );
  const touched = updated.rowCount ?? 0;
  const last = !endRow || sameKey(end, passEnd);
  return { end, covered: endRow ? Math.floor(size) : touched, updated: touched, last };
}

function sameKey(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((value, index) => value === b[index]);
}

/**
 * The sweep after the keyset pass: pages [from, to) by TID range (no index, no sort), touching the
 * rows still flagged: rows inserted by a transaction still open when the pass went by, or rows with a
 * NULL in a unique key. Reading the table once in page order costs about one sequential scan in all,
 * however many batches it takes.
 */
export async function sweepStep(client: pg.ClientBase, shape: TableShape, from: number, to: number): Promise<number> {
  const flag = ident(NEEDS_BACKFILL_COLUMN);
  const updated = await client.query(`update ${shape.sql} set ${flag} = false where ctid >= $1::tid and ctid < $2::tid and ${flag}`, [
    `(${from},0)`,
    `(${to},0)`,
  ]);
  return updated.rowCount ?? 0;
}

/** The largest non-NULL key now: rows inserted after this were written through the triggers. */
export async function currentMaxKey(client: pg.ClientBase, shape: TableShape): Promise<string[] | null> {
  const notNull = shape.keyColumns.map((column) => `${ident(column)} is not null`).join(' and ');
  await client.query(`begin; ${KEY_TEXT_SETTINGS}`);
  try {
    const result = await client.query<Record<string, string>>(
      `select ${keyAsText(shape)} from ${shape.sql} where ${notNull} order by ${keyOrder(shape, 'desc')} limit 1`,
    );
    await client.query('commit');
    return result.rows[0] ? keyFromRow(shape, result.rows[0]) : null;
  } catch (error) {
    await client.query('rollback').catch(() => undefined);
    throw error;
  }
}
