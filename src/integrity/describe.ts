/**
 * What each side holds, read from the catalog before any row is: its columns and their types, the
 * unique keys a table enforces, and so the key and the compared columns. Everything that would make a
 * comparison meaningless (no usable key, key types that sort differently, a column one side lacks, a
 * translation that does not run) is refused here, before anything reads or changes rows.
 */
import type pg from 'pg';
import { PromoteError, wrapError } from '../errors.js';
import { ident } from '../migrations/sql.js';
import type { SideInput } from './types.js';

export interface ColumnInfo {
  name: string;
  /** format_type of the column, e.g. `bigint`, `numeric(10,2)`, `timestamp with time zone` */
  type: string;
  /** pg_type.typname of the base type, e.g. `int8`, `_text` */
  typname: string;
  collatable: boolean;
}

export interface SideShape {
  label: string;
  /** the FROM item: a qualified table, or the query as a subquery */
  from: string;
  /** schema-qualified table, when the side is a table */
  table?: string;
  columns: ColumnInfo[];
  /** unique keys the table enforces over NOT NULL columns (primary key first) */
  uniqueKeys: string[][];
  /** columns a repair must not write (generated) */
  generated: string[];
}

export function sideLabel(side: SideInput): string {
  return side.label ?? side.table ?? `(${(side.query ?? '').trim().replace(/\s+/g, ' ').slice(0, 60)})`;
}

export async function describeSide(db: pg.ClientBase, side: SideInput, which: 'source' | 'target'): Promise<SideShape> {
  const label = sideLabel(side);
  if ((side.table === undefined) === (side.query === undefined)) throw new PromoteError(`the ${which} needs either a table or a query (one of them)`);
  if (side.query !== undefined) {
    let result: pg.QueryResult;
    try {
      result = await db.query(`select * from (${side.query}) as promote_side limit 0`);
    } catch (error) {
      throw wrapError(`checking the ${which} query (the translation) before reconciling`, error, { hint: 'the query must be a SELECT that runs on the ' + which + ' database' });
    }
    const columns = await typesOf(db, result.fields);
    return { label, from: `(${side.query}) as promote_side`, columns, uniqueKeys: [], generated: [] };
  }
  const found = await db.query<{ oid: number; name: string }>(
    `select c.oid::int8 as oid, format('%I.%I', n.nspname, c.relname) as name from pg_class c join pg_namespace n on n.oid = c.relnamespace where c.oid = to_regclass($1)`,
    [side.table],
  ).catch((error: unknown) => { throw wrapError(`looking up the ${which} table ${side.table ?? ''}`, error); });
  const relation = found.rows[0];
  if (relation === undefined) throw new PromoteError(`the ${which} table ${side.table ?? ''} does not exist (looked it up with the search_path of the ${which} database)`);
  const columns = await db.query<ColumnInfo & { notnull: boolean; generated: boolean }>(
    `select a.attname as name, format_type(a.atttypid, a.atttypmod) as type, t.typname, t.typcollation <> 0 as collatable, a.attnotnull as notnull, a.attgenerated <> '' as generated
       from pg_attribute a join pg_type t on t.oid = a.atttypid
      where a.attrelid = $1 and a.attnum > 0 and not a.attisdropped order by a.attnum`,
    [relation.oid],
  );
  const notNull = new Set(columns.rows.filter((column) => column.notnull).map((column) => column.name));
  const indexes = await db.query<{ columns: string[] }>(
    `select array(select a.attname from unnest(i.indkey) with ordinality as k(attnum, n) join pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.attnum order by k.n)::text[] as columns
       from pg_index i where i.indrelid = $1 and i.indisunique and i.indisvalid and i.indpred is null and i.indexprs is null
      order by i.indisprimary desc, i.indnatts, i.indexrelid`,
    [relation.oid],
  );
  return {
    label,
    from: relation.name,
    table: relation.name,
    columns: columns.rows.map(({ name, type, typname, collatable }) => ({ name, type, typname, collatable })),
    uniqueKeys: indexes.rows.map((row) => row.columns).filter((key) => key.length > 0 && key.every((column) => notNull.has(column))),
    generated: columns.rows.filter((column) => column.generated).map((column) => column.name),
  };
}

async function typesOf(db: pg.ClientBase, fields: readonly pg.FieldDef[]): Promise<ColumnInfo[]> {
  const names = new Set<string>();
  for (const field of fields) {
    if (names.has(field.name)) throw new PromoteError(`the query returns two columns named ${field.name}: name each column once (use AS)`);
    names.add(field.name);
  }
  const types = await db.query<{ type: string; typname: string; collatable: boolean }>(
    `select format_type(f.oid, f.typmod) as type, t.typname, t.typcollation <> 0 as collatable
       from unnest($1::oid[], $2::int[]) with ordinality as f(oid, typmod, n) join pg_type t on t.oid = f.oid order by f.n`,
    [fields.map((field) => field.dataTypeID), fields.map((field) => field.dataTypeModifier)],
  );
  return fields.map((field, index) => ({ name: field.name, ...(types.rows[index] ?? { type: 'unknown', typname: 'unknown', collatable: false }) }));
}

/** Types that sort and compare alike on both sides, so a key range means the same rows on each. */
function keyFamily(column: ColumnInfo): string {
  if (['int2', 'int4', 'int8'].includes(column.typname)) return 'integer';
  if (['text', 'varchar', 'bpchar', 'name'].includes(column.typname)) return 'text';
  return column.typname;
}

export interface Plan {
  key: ColumnInfo[];
  /** key type per column on each side, for casting boundary values */
  sourceKey: ColumnInfo[];
  targetKey: ColumnInfo[];
  columns: ColumnInfo[];
  targetColumns: ColumnInfo[];
}

export function planComparison(source: SideShape, target: SideShape, key: string[] | undefined, columns: string[] | undefined): Plan {
  const sameSet = (a: string[], b: string[]) => a.length === b.length && a.every((name) => b.includes(name));
  let keyNames = key;
  for (const name of keyNames ?? []) {
    for (const shape of [source, target]) {
      if (!shape.columns.some((each) => each.name === name)) throw new PromoteError(`key column ${name} is not in ${shape.label} (its columns: ${shape.columns.map((each) => each.name).join(', ')})`);
    }
  }
  if (keyNames === undefined || keyNames.length === 0) {
    keyNames = source.uniqueKeys[0] ?? target.uniqueKeys[0];
    if (keyNames === undefined) {
      throw new PromoteError(`neither ${source.label} nor ${target.label} has a usable key (a primary key, or a unique index over NOT NULL columns), so rows cannot be matched`, {
        hint: 'add a primary key, or name unique columns with --key',
      });
    }
  } else if (!source.uniqueKeys.some((each) => sameSet(each, keyNames ?? [])) && !target.uniqueKeys.some((each) => sameSet(each, keyNames ?? []))) {
    throw new PromoteError(`neither ${source.label} nor ${target.label} enforces (${keyNames.join(', ')}) as unique over NOT NULL columns, so it is not a usable key`, {
      hint: 'a primary key or a unique index on those columns, on at least one side, is needed; the other side may hold duplicates (they are reported)',
    });
  }
  const find = (shape: SideShape, name: string, role: string) => {
    const column = shape.columns.find((each) => each.name === name);
    if (column === undefined) throw new PromoteError(`${role} column ${name} is not in ${shape.label} (its columns: ${shape.columns.map((each) => each.name).join(', ')})`);
    return column;
  };
  const sourceKey = keyNames.map((name) => find(source, name, 'key'));
  const targetKey = keyNames.map((name) => find(target, name, 'key'));
  sourceKey.forEach((column, index) => {
    const other = targetKey[index];
    if (other !== undefined && keyFamily(column) !== keyFamily(other)) {
      throw new PromoteError(`key column ${column.name} is ${column.type} in ${source.label} but ${other.type} in ${target.label}: keys of different types do not sort alike, so key ranges would not match`, {
        hint: 'cast one side in a query (--source-query / --target-query) so both keys have one type',
      });
    }
  });
  const names = columns ?? source.columns.map((each) => each.name).filter((name) => !keyNames.includes(name)).sort();
  if (columns !== undefined) {
    const repeated = names.find((name, index) => names.indexOf(name) !== index);
    if (repeated !== undefined) throw new PromoteError(`column ${repeated} is listed twice`);
  }
  const compared = names.filter((name) => !keyNames.includes(name));
  const missing = compared.filter((name) => !target.columns.some((each) => each.name === name));
  if (missing.length > 0) {
    throw new PromoteError(`${target.label} has no column ${missing.join(', ')} that ${source.label} has`, { hint: 'name the columns to compare with --columns, or translate one side with a query' });
  }
  return { key: sourceKey, sourceKey, targetKey, columns: compared.map((name) => find(source, name, 'compared')), targetColumns: compared.map((name) => find(target, name, 'compared')) };
}

export function quoteKey(columns: readonly ColumnInfo[]): string[] {
  return columns.map((column) => ident(column.name));
}
