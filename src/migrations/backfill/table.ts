/**
 * What the backfill needs to know about its table before the first batch: that it exists, has the
 * flag column, and has a unique index on the key in the order given, because keyset batches are only
 * cheap and only exact when every step is an index range scan over a unique key.
 */
import type pg from 'pg';
import { PromoteError } from '../../errors.js';
import { NEEDS_BACKFILL_COLUMN } from '../names.js';
import { qualified } from '../sql.js';

export interface TableShape {
  oid: number;
  /** schema-qualified and quoted, ready for a statement */
  sql: string;
  /** for messages */
  display: string;
  keyColumns: string[];
  /** format_type of each key column: the cast that turns a key kept as text back into its value */
  keyTypes: string[];
}

export async function describeTable(client: pg.ClientBase, schema: string, table: string, primaryKey: string[]): Promise<TableShape> {
  const display = `${schema}.${table}`;
  const found = await client.query<{ oid: number; relkind: string }>(
    `select c.oid::int8 as oid, c.relkind from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = $1 and c.relname = $2`,
    [schema, table],
  );
  const relation = found.rows[0];
  if (!relation || !['r', 'p'].includes(relation.relkind)) throw new PromoteError(`cannot backfill ${display}: no such table`);
  const oid = Number(relation.oid);

  const keyColumns = primaryKey.length > 0 ? primaryKey : await catalogPrimaryKey(client, oid);
  if (keyColumns.length === 0) {
    throw new PromoteError(`cannot backfill ${display}: the table has no primary key`, {
      hint: 'the backfill walks a table in primary-key order, batch by batch, so it can stop and resume without skipping or repeating a row; add a primary key (or give the columns of a unique NOT NULL index) and start again',
    });
  }

  const columns = await client.query<{ name: string; type: string }>(
    `select a.attname as name, format_type(a.atttypid, a.atttypmod) as type
       from pg_attribute a where a.attrelid = $1::oid and a.attnum > 0 and not a.attisdropped and a.attname = any($2::text[])`,
    [oid, [...keyColumns, NEEDS_BACKFILL_COLUMN]],
  );
  const types = new Map(columns.rows.map((row) => [row.name, row.type]));
  const missing = keyColumns.filter((column) => !types.has(column));
  if (missing.length > 0) throw new PromoteError(`cannot backfill ${display}: no column ${missing.map((c) => `"${c}"`).join(', ')} for its key`);
  if (!types.has(NEEDS_BACKFILL_COLUMN)) {
    throw new PromoteError(`cannot backfill ${display}: it has no ${NEEDS_BACKFILL_COLUMN} column`, {
      hint: 'the migration adds that column when it starts; run the backfill of a started migration',
    });
  }

  const unique = await client.query(
    `select 1 from pg_index i
      where i.indrelid = $1::oid and i.indisunique and i.indisvalid and i.indpred is null and i.indexprs is null
        and i.indnkeyatts = cardinality($2::text[])
        and (select array_agg(a.attname::text order by k.n)
               from unnest(i.indkey::int2[]) with ordinality k(attnum, n)
               join pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.attnum
              where k.n <= i.indnkeyatts) = $2::text[]
      limit 1`,
    [oid, keyColumns],
  );
  if (unique.rowCount === 0) {
    throw new PromoteError(`cannot backfill ${display}: no primary key or unique index on (${keyColumns.join(', ')}) in that order`, {
      hint: 'keyset batches need a unique index on exactly the key columns, or each batch would scan the table',
    });
  }
  return { oid, sql: qualified(schema, table), display, keyColumns, keyTypes: keyColumns.map((column) => types.get(column)!) };
}

async function catalogPrimaryKey(client: pg.ClientBase, oid: number): Promise<string[]> {
  const result = await client.query<{ name: string }>(
    `select a.attname as name
       from pg_index i cross join lateral unnest(i.indkey::int2[]) with ordinality k(attnum, n)
       join pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.attnum
      where i.indrelid = $1::oid and i.indisprimary
      order by k.n`,
    [oid],
  );
  return result.rows.map((row) => row.name);
}

/** How many rows the progress line starts from: the planner's estimate, or a count when it has none yet. */
export async function estimateRows(client: pg.ClientBase, shape: TableShape): Promise<number> {
  const stats = await client.query<{ reltuples: number }>(`select reltuples::float8 as reltuples from pg_class where oid = $1::oid`, [shape.oid]);
  const estimate = stats.rows[0]?.reltuples ?? -1;
  if (estimate >= 0) return Math.round(estimate);
  const counted = await client.query<{ count: string }>(`select count(*) from ${shape.sql}`);
  return Number(counted.rows[0]?.count ?? 0);
}

/**
 * The table's size in pages now: where the final sweep stops (rows added later were written by the
 * triggers). A partitioned table has no pages of its own; a TID range applies to each partition
 * alike, so the sweep runs to the largest partition's size.
 */
export async function tablePages(client: pg.ClientBase, shape: TableShape): Promise<{ pages: number; rowsPerPage: number }> {
  const result = await client.query<{ pages: string; reltuples: number; relpages: string }>(
    `select max(pg_relation_size(t.relid)) / current_setting('block_size')::int8 as pages,
            sum(greatest(c.reltuples, 0))::float8 as reltuples, sum(c.relpages)::int8 as relpages
       from (select $1::oid::regclass as relid union select relid from pg_partition_tree($1::oid) where isleaf) t
       join pg_class c on c.oid = t.relid`,
    [shape.oid],
  );
  const row = result.rows[0];
  const rowsPerPage = row && Number(row.relpages) > 0 && row.reltuples > 0 ? row.reltuples / Number(row.relpages) : 50;
  return { pages: Number(row?.pages ?? 0), rowsPerPage: Math.max(1, rowsPerPage) };
}
