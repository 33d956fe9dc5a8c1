/**
 * The canonical text of a row, computed in the database, so the same data hashes the same on both
 * sides whatever the column types' text output would do:
 *
 * - integers as their text (int2, int4 and int8 alike), numerics with trailing zeros trimmed (`1.50`
 *   and `1.5` are the same value, and `7.00` is `7`), floats as float8 in their shortest exact text;
 * - json as jsonb text (key order and spacing normalised), bytea as hex;
 * - dates, times, timestamps and intervals as text under fixed session settings (TimeZone UTC,
 *   DateStyle ISO, IntervalStyle iso_8601): a timestamptz reads the same whatever the servers' zones;
 * - each value quoted as an SQL literal (`quote_nullable`: `'it''s'`, `''`, and NULL as the bare word
 *   NULL), joined by commas, so NULL and '' differ and no value can pass for two: `a,b` in one column
 *   never hashes like `a` and `b` in two.
 *
 * The row hash is 64 bits of hashtextextended (or md5) over key and values, as a bigint; a chunk's checksum is the
 * count of its rows and the sum of their hashes (sum(bigint) is numeric in PostgreSQL: it never
 * overflows). A sum is not a XOR: equal
 * changes to an even number of rows do not cancel, and four rows changed by the same amount change the
 * sum unless their hash deltas happen to sum to zero (a 2^-64 event).
 */
import { ident } from '../migrations/sql.js';
import type { ColumnInfo } from './describe.js';

/** SET LOCAL statements every reading transaction runs first. */
export const SESSION_SETTINGS = [
  `set local timezone = 'UTC'`,
  `set local datestyle = 'ISO, YMD'`,
  `set local intervalstyle = 'iso_8601'`,
  `set local extra_float_digits = 1`,
  `set local bytea_output = 'hex'`,
].join('; ');

const NUMERIC = new Set(['numeric', 'money']);
const FLOAT = new Set(['float4', 'float8']);

/** The column's value as canonical text (NULL stays NULL). */
export function canonicalValue(column: ColumnInfo, expression = ident(column.name)): string {
  if (NUMERIC.has(column.typname)) return `trim_scale((${expression})::numeric)::text`;
  if (FLOAT.has(column.typname)) return `(${expression})::float8::text`;
  if (column.typname === 'json') return `(${expression})::jsonb::text`;
  if (column.typname === 'bytea') return `encode(${expression}, 'hex')`;
  return `(${expression})::text`;
}

/** Quoted as an SQL literal, NULL as the bare word: injective over (NULL, any text), one evaluation of the value. */
export function encodedValue(column: ColumnInfo): string {
  return `quote_nullable(${canonicalValue(column)})`;
}

export function rowText(key: readonly ColumnInfo[], columns: readonly ColumnInfo[]): string {
  return [...key, ...columns].map(encodedValue).join(` || ',' || `);
}

/**
 * The row hash functions, both 64 bits over the same canonical text:
 * - `hashtextextended`: PostgreSQL's own 64-bit hash (the one hash partitioning uses, so it is kept
 *   stable across major versions since 11); about twice as fast as md5 here, but it depends on the
 *   server's byte order, so reconcile uses it only when both servers hash a probe text alike
 *   (see hash.ts). The text is hashed under "C", so a nondeterministic collation never makes two
 *   different texts hash alike.
 * - `md5`: the first 64 bits of md5, the same on every server; the fallback.
 */
export type HashFunction = 'hashtextextended' | 'md5';

/** The row's 64-bit hash over its canonical text, as a bigint. */
export function rowHash(key: readonly ColumnInfo[], columns: readonly ColumnInfo[], hash: HashFunction = 'md5'): string {
  const text = rowText(key, columns);
  if (hash === 'hashtextextended') return `hashtextextended((${text}) collate "C", 0)`;
  return `('x' || left(md5(${text}), 16))::bit(64)::int8`;
}

/** The key as a text[] of canonical values, the form keys are reported, compared and passed back in. */
export function keyArray(key: readonly ColumnInfo[]): string {
  return `array[${key.map((column) => canonicalValue(column)).join(', ')}]::text[]`;
}

/** The key for ordering and ranges: collatable columns under "C", so both sides sort text alike. */
export function keyOrder(key: readonly ColumnInfo[]): string {
  return `(${key.map((column) => (column.collatable ? `${ident(column.name)} collate "C"` : ident(column.name))).join(', ')})`;
}
