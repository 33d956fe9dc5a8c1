/**
 * Reads the tables of one schema of the app's database into the virtual model, where logical and
 * physical names are still the same: the starting point of a migration when none is in flight.
 */
import type { Queryable } from '../store/queryable.js';
import { wrapError } from '../errors.js';
import { TRIGGER_BOOKKEEPING_COLUMNS } from './names.js';
import type { ConstraintType, VirtualSchema, VirtualTable } from './virtual-schema.js';

const CONSTRAINT_TYPES: Record<string, ConstraintType> = { p: 'primary_key', u: 'unique', c: 'check', f: 'foreign_key', x: 'exclude', n: 'not_null' };

interface ColumnRow {
  table: string;
  column: string;
  type: string;
  not_null: boolean;
  default: string | null;
  generated: boolean;
}

interface ConstraintRow {
  table: string;
  name: string;
  type: string;
  columns: string[] | null;
  definition: string;
}

interface IndexRow {
  table: string;
  name: string;
  unique: boolean;
  columns: string[] | null;
  definition: string;
}

export async function readSchema(db: Queryable, schema: string): Promise<VirtualSchema> {
  try {
    const columns = await db.query<ColumnRow>(
      `select c.relname as table, a.attname as column, format_type(a.atttypid, a.atttypmod) as type, a.attnotnull as not_null,
              pg_get_expr(d.adbin, d.adrelid) as default, (a.attidentity <> '' or a.attgenerated <> '') as generated
         from pg_class c
         join pg_namespace n on n.oid = c.relnamespace
         join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
         left join pg_attrdef d on d.adrelid = c.oid and d.adnum = a.attnum
        where n.nspname = $1 and c.relkind in ('r', 'p') and not c.relispartition
        order by c.relname, a.attnum`,
      [schema],
    );
    const constraints = await db.query<ConstraintRow>(
      `select c.relname as table, k.conname as name, k.contype as type,
              (select array_agg(a.attname::text order by u.ord) from unnest(k.conkey) with ordinality u(attnum, ord)
                 join pg_attribute a on a.attrelid = k.conrelid and a.attnum = u.attnum) as columns,
              pg_get_constraintdef(k.oid) as definition
         from pg_constraint k
         join pg_class c on c.oid = k.conrelid
         join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = $1
        order by c.relname, k.conname`,
      [schema],
    );
    const indexes = await db.query<IndexRow>(
      `select c.relname as table, i.relname as name, x.indisunique as unique,
              (select array_agg(a.attname::text order by u.ord) from unnest(x.indkey::int2[]) with ordinality u(attnum, ord)
                 join pg_attribute a on a.attrelid = x.indrelid and a.attnum = u.attnum) as columns,
              pg_get_indexdef(x.indexrelid) as definition
         from pg_index x
         join pg_class i on i.oid = x.indexrelid
         join pg_class c on c.oid = x.indrelid
         join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = $1
        order by c.relname, i.relname`,
      [schema],
    );
    const tables = new Map<string, VirtualTable>();
    for (const row of columns.rows) {
      let table = tables.get(row.table);
      if (table === undefined) {
        table = { name: row.table, physical: row.table, columns: [], primaryKey: [], constraints: [], indexes: [] };
        tables.set(row.table, table);
      }
      if (TRIGGER_BOOKKEEPING_COLUMNS.includes(row.column)) continue;
      table.columns.push({ name: row.column, physical: row.column, type: row.type, nullable: !row.not_null, default: row.default, generated: row.generated });
    }
    for (const row of constraints.rows) {
      const table = tables.get(row.table);
      const type = CONSTRAINT_TYPES[row.type];
      if (table === undefined || type === undefined) continue;
      table.constraints.push({ name: row.name, type, columns: row.columns ?? [], definition: row.definition });
      if (type === 'primary_key') table.primaryKey = row.columns ?? [];
    }
    for (const row of indexes.rows) {
      tables.get(row.table)?.indexes.push({ name: row.name, unique: row.unique, columns: row.columns ?? [], definition: row.definition });
    }
    return { name: schema, tables: [...tables.values()] };
  } catch (error) {
    throw wrapError(`reading the tables of schema "${schema}"`, error);
  }
}
