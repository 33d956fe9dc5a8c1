/**
 * strong_migrations' table of type changes Postgres makes without rewriting the table (binary
 * coercible, or only a looser limit), written against our parsed types:
 *
 *   varchar(n) -> varchar(m >= n), varchar, text      text -> varchar (no limit)
 *   varchar / text <-> citext, if the column has no index
 *   numeric(p, s) -> numeric(q >= p, s), numeric      decimal is numeric
 *   timestamp(p), timestamptz(p), time(p), interval(p) -> the same type with precision >= p
 *   timestamp <-> timestamptz on Postgres 12+ when the session time zone is UTC
 *   bit varying(n) -> bit varying(m >= n) or unlimited, cidr -> inet
 *
 * Everything else (int -> bigint, text -> varchar(n), narrowing a limit, any USING that computes new
 * values) rewrites the table and its indexes under an ACCESS EXCLUSIVE lock.
 */
import type { ColumnType } from './ast.js';

export interface CastSettings {
  postgresVersion: number;
  /** the session's TimeZone setting, if the file (or the caller) says */
  timeZone: string | undefined;
  /** whether an index covers the column; undefined when we cannot tell */
  indexed: boolean | undefined;
}

export interface CastVerdict {
  safe: boolean;
  /** why it is (un)safe, to finish a sentence: "... because <why>" */
  why: string;
}

const DEFAULT_PRECISION = 6;
const FULL_INTERVAL_RANGE = 32767;
const TEXT_LIKE = new Set(['varchar', 'text', 'citext']);

export function judgeTypeChange(from: ColumnType, to: ColumnType, settings: CastSettings): CastVerdict {
  if (from.array !== to.array) return unsafe('it changes between an array and a single value');
  const same = from.name === to.name && from.typmods.join() === to.typmods.join();
  if (same) return safe('the type does not change');
  if (TEXT_LIKE.has(from.name) && TEXT_LIKE.has(to.name)) return textChange(from, to, settings);
  switch (to.name) {
    case 'numeric':
      if (from.name !== 'numeric') break;
      if (to.typmods.length === 0) return safe('removing the precision of a numeric keeps its values as they are');
      if (from.typmods.length > 0 && (to.typmods[1] ?? 0) === (from.typmods[1] ?? 0) && (to.typmods[0] ?? 0) >= (from.typmods[0] ?? 0)) {
        return safe('a numeric with more precision at the same scale holds the same values');
      }
      return unsafe('lowering the precision or changing the scale of a numeric recomputes every value');
    case 'timestamp':
    case 'timestamptz':
      return timestampChange(from, to, settings);
    case 'time':
    case 'interval':
      if (from.name !== to.name) break;
      if (rangeOf(from) !== rangeOf(to)) return unsafe(`changing the fields of an interval recomputes every value`);
      return precisionOf(to) >= precisionOf(from) ? safe(`a ${to.name} with at least the same precision holds the same values`) : unsafe(`lowering the precision of a ${to.name} rounds every value`);
    case 'varbit':
      if (from.name !== 'varbit') break;
      return limitRaised(from, to) ? safe('a longer or no limit on bit varying keeps the stored bits') : unsafe('a shorter limit on bit varying checks every value');
    case 'inet':
      if (from.name === 'cidr') return safe('every cidr value is a valid inet value with the same representation');
      break;
  }
  return unsafe(`${from.display} and ${to.display} are stored differently, so every row is rewritten`);
}

function textChange(from: ColumnType, to: ColumnType, settings: CastSettings): CastVerdict {
  if (from.name === 'citext' || to.name === 'citext') {
    if (to.name === 'varchar' && to.typmods.length > 0) return unsafe('a length limit must be checked on every row');
    if (settings.indexed === true) return unsafe('the column is indexed, and citext compares differently, so its indexes are rebuilt');
    if (settings.indexed === undefined) return unsafe('citext compares differently, so any index on the column is rebuilt, and we cannot tell whether it has one');
    return safe('text, varchar and citext share their storage and the column has no index');
  }
  if (to.name === 'text' || (to.name === 'varchar' && to.typmods.length === 0)) return safe(`${to.display} has no length limit and stores ${from.display} as it is`);
  if (from.name === 'varchar' && limitRaised(from, to)) return safe('a longer varchar limit accepts every stored value');
  return unsafe(`a shorter or new length limit checks every stored value`);
}

function timestampChange(from: ColumnType, to: ColumnType, settings: CastSettings): CastVerdict {
  if (from.name !== 'timestamp' && from.name !== 'timestamptz') return unsafe(`${from.display} and ${to.display} are stored differently, so every row is rewritten`);
  if (precisionOf(to) < precisionOf(from)) return unsafe('lowering the precision rounds every value');
  if (from.name === to.name) return safe('a timestamp with at least the same precision holds the same values');
  if (settings.postgresVersion < 12) return unsafe('before Postgres 12 switching between timestamp and timestamptz rewrites the table');
  if (!isUtc(settings.timeZone)) {
    return unsafe('switching between timestamp and timestamptz avoids the rewrite only when the session time zone is UTC (SET TIME ZONE \'UTC\' before it)');
  }
  return safe('on Postgres 12+ with the session in UTC, timestamp and timestamptz share their storage');
}

function limitRaised(from: ColumnType, to: ColumnType): boolean {
  const before = from.typmods[0];
  const after = to.typmods[0];
  if (after === undefined) return true;
  return before !== undefined && after >= before;
}

function precisionOf(type: ColumnType): number {
  const value = type.name === 'interval' ? type.typmods[1] : type.typmods[0];
  return value === undefined || Number.isNaN(value) ? DEFAULT_PRECISION : value;
}

function rangeOf(type: ColumnType): number {
  return type.name === 'interval' ? (type.typmods[0] ?? FULL_INTERVAL_RANGE) : 0;
}

function isUtc(zone: string | undefined): boolean {
  return zone !== undefined && /^(utc|etc\/utc|gmt|etc\/gmt|z|zulu|universal|etc\/universal|\+?0+(:0+)?)$/i.test(zone.trim());
}

function safe(why: string): CastVerdict {
  return { safe: true, why };
}

function unsafe(why: string): CastVerdict {
  return { safe: false, why };
}
