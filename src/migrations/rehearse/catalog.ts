/**
 * Reads what a copy of one schema needs from the app database's catalog. pg_dump cannot help: the
 * client on the machine may be older than the server. Everything is read in one read-only snapshot
 * with search_path = pg_catalog, so every expression, type and constraint the catalog prints names its
 * schema and means the same thing when the copy runs it on another database.
 */
import type pg from 'pg';

export interface ColumnInfo {
  table: string;
  name: string;
  type: string;
  notNull: boolean;
  /** '' (none), 'a' (always) or 'd' (by default) */
  identity: string;
  /** '' (none), 's' (stored) or 'v' (virtual) */
  generated: string;
  /** the default, or the generation expression */
  expression: string | null;
  collation: string | null;
  comment: string | null;
  /** the identity column's sequence and its options */
  identitySequence: SequenceInfo | null;
}

export interface SequenceInfo {
  schema: string;
  name: string;
  type: string;
  start: string;
  increment: string;
  min: string;
  max: string;
  cache: string;
  cycle: boolean;
  lastValue: string | null;
  /** the table and column a serial's sequence belongs to */
  ownedBy: { table: string; column: string } | null;
}

export interface TableInfo {
  name: string;
  kind: string;
  unlogged: boolean;
  partition: boolean;
  replicaIdentity: string;
  /** the index of `replica identity using index` */
  replicaIndex: string | null;
  comment: string | null;
}

export interface ConstraintInfo {
  table: string;
  name: string;
  type: string;
  definition: string;
  validated: boolean;
  /** the schema of a foreign key's referenced table */
  referencedSchema: string | null;
  referencedTable: string | null;
  columns: string[];
  referencedColumns: string[];
}

export interface IndexInfo {
  table: string;
  name: string;
  definition: string;
}

export interface EnumInfo {
  schema: string;
  name: string;
  labels: string[];
}

export interface ExtensionInfo {
  name: string;
  schema: string;
}

export interface Catalog {
  schema: string;
  extensions: ExtensionInfo[];
  enums: EnumInfo[];
  /** column types the copy cannot make: domains, composite and range types of the app's own */
  unsupportedTypes: { table: string; column: string; type: string; kind: string }[];
  sequences: SequenceInfo[];
  tables: TableInfo[];
  columns: ColumnInfo[];
  constraints: ConstraintInfo[];
  indexes: IndexInfo[];
  /** what lives in the schema and is not copied: views, triggers, functions */
  skipped: { kind: string; name: string }[];
}

const SEQUENCE_FIELDS = `format_type(q.seqtypid, null) as type, q.seqstart::text as start, q.seqincrement::text as increment,
  q.seqmin::text as min, q.seqmax::text as max, q.seqcache::text as cache, q.seqcycle as cycle, pg_sequence_last_value(s.oid)::text as "lastValue"`;

/** Runs in a transaction the caller opened read-only (the snapshot the sampled rows are read in too). */
export async function readCatalog(client: pg.ClientBase, schema: string): Promise<Catalog> {
  await client.query('set local search_path = pg_catalog');
  const tables = await client.query<TableInfo>(
    `select c.relname as name, c.relkind as kind, c.relpersistence = 'u' as unlogged, c.relispartition as partition,
            c.relreplident as "replicaIdentity", obj_description(c.oid, 'pg_class') as comment,
            (select i.relname from pg_index x join pg_class i on i.oid = x.indexrelid where x.indrelid = c.oid and x.indisreplident) as "replicaIndex"
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = $1 and c.relkind in ('r', 'p')
      order by c.relname`,
    [schema],
  );
  const columns = await client.query<Omit<ColumnInfo, 'identitySequence'> & { seq: string | null }>(
    `select c.relname as table, a.attname as name, format_type(a.atttypid, a.atttypmod) as type, a.attnotnull as "notNull",
            a.attidentity::text as identity, a.attgenerated::text as generated, pg_get_expr(d.adbin, d.adrelid) as expression,
            case when a.attcollation <> 0 and a.attcollation <> t.typcollation
                 then (select quote_ident(cn.nspname) || '.' || quote_ident(co.collname) from pg_collation co join pg_namespace cn on cn.oid = co.collnamespace where co.oid = a.attcollation) end as collation,
            col_description(c.oid, a.attnum) as comment,
            (select dep.objid::text from pg_depend dep where dep.refobjid = c.oid and dep.refobjsubid = a.attnum and dep.classid = 'pg_class'::regclass and dep.deptype = 'i') as seq
       from pg_attribute a
       join pg_class c on c.oid = a.attrelid
       join pg_namespace n on n.oid = c.relnamespace
       join pg_type t on t.oid = a.atttypid
       left join pg_attrdef d on d.adrelid = c.oid and d.adnum = a.attnum
      where n.nspname = $1 and c.relkind in ('r', 'p') and a.attnum > 0 and not a.attisdropped
      order by c.relname, a.attnum`,
    [schema],
  );
  const sequences = await client.query<SequenceInfo & { oid: string; identity: boolean; owner_table: string | null; owner_column: string | null; owner_schema: string | null }>(
    `select s.oid::text as oid, n.nspname as schema, s.relname as name, ${SEQUENCE_FIELDS},
            exists (select 1 from pg_depend dep where dep.objid = s.oid and dep.classid = 'pg_class'::regclass and dep.deptype = 'i') as identity,
            oc.relname as owner_table, oa.attname as owner_column, ocn.nspname as owner_schema
       from pg_class s
       join pg_namespace n on n.oid = s.relnamespace
       join pg_sequence q on q.seqrelid = s.oid
       left join pg_depend od on od.objid = s.oid and od.classid = 'pg_class'::regclass and od.refclassid = 'pg_class'::regclass and od.deptype = 'a' and od.refobjsubid > 0
       left join pg_class oc on oc.oid = od.refobjid
       left join pg_namespace ocn on ocn.oid = oc.relnamespace
       left join pg_attribute oa on oa.attrelid = od.refobjid and oa.attnum = od.refobjsubid
      where s.relkind = 'S' and (n.nspname = $1 or s.oid in (
              select dep.objid from pg_depend dep join pg_class t on t.oid = dep.refobjid join pg_namespace tn on tn.oid = t.relnamespace
               where tn.nspname = $1 and dep.classid = 'pg_class'::regclass and dep.deptype = 'i'))
      order by s.relname`,
    [schema],
  );
  const bySequenceOid = new Map(sequences.rows.map((row) => [row.oid, row]));
  const constraints = await client.query<ConstraintInfo>(
    `select c.relname as table, k.conname as name, k.contype::text as type, pg_get_constraintdef(k.oid) as definition, k.convalidated as validated,
            fn.nspname as "referencedSchema", f.relname as "referencedTable",
            coalesce((select array_agg(a.attname::text order by u.ord) from unnest(k.conkey) with ordinality u(attnum, ord)
                        join pg_attribute a on a.attrelid = k.conrelid and a.attnum = u.attnum), '{}') as columns,
            coalesce((select array_agg(a.attname::text order by u.ord) from unnest(k.confkey) with ordinality u(attnum, ord)
                        join pg_attribute a on a.attrelid = k.confrelid and a.attnum = u.attnum), '{}') as "referencedColumns"
       from pg_constraint k
       join pg_class c on c.oid = k.conrelid
       join pg_namespace n on n.oid = c.relnamespace
       left join pg_class f on f.oid = k.confrelid
       left join pg_namespace fn on fn.oid = f.relnamespace
      where n.nspname = $1 and c.relkind in ('r', 'p') and k.conislocal
      order by c.relname, k.conname`,
    [schema],
  );
  const indexes = await client.query<IndexInfo>(
    `select c.relname as table, i.relname as name, pg_get_indexdef(x.indexrelid) as definition
       from pg_index x
       join pg_class i on i.oid = x.indexrelid
       join pg_class c on c.oid = x.indrelid
       join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = $1 and c.relkind in ('r', 'p')
        and not exists (select 1 from pg_constraint k where k.conindid = x.indexrelid and k.conrelid = x.indrelid and k.contype in ('p', 'u', 'x'))
      order by c.relname, i.relname`,
    [schema],
  );
  // the element type of an array column counts: an enum[] needs the enum
  const usedTypes = `select distinct case when t.typcategory = 'A' and t.typelem <> 0 then t.typelem else t.oid end as oid
       from pg_attribute a join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace join pg_type t on t.oid = a.atttypid
      where n.nspname = $1 and c.relkind in ('r', 'p') and a.attnum > 0 and not a.attisdropped`;
  const enums = await client.query<EnumInfo>(
    `select n.nspname as schema, t.typname as name, array_agg(e.enumlabel::text order by e.enumsortorder) as labels
       from pg_type t join pg_namespace n on n.oid = t.typnamespace join pg_enum e on e.enumtypid = t.oid
      where n.nspname = $1 or t.oid in (${usedTypes})
      group by n.nspname, t.typname order by n.nspname, t.typname`,
    [schema],
  );
  const unsupported = await client.query<{ table: string; column: string; type: string; kind: string }>(
    `select c.relname as table, a.attname as column, format_type(a.atttypid, a.atttypmod) as type,
            case t.typtype when 'd' then 'domain' when 'c' then 'composite type' when 'r' then 'range type' else 'type' end as kind
       from pg_attribute a join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace
       join pg_type t on t.oid = case when (select typcategory from pg_type where oid = a.atttypid) = 'A' then (select typelem from pg_type where oid = a.atttypid) else a.atttypid end
       join pg_namespace tn on tn.oid = t.typnamespace
      where n.nspname = $1 and c.relkind in ('r', 'p') and a.attnum > 0 and not a.attisdropped
        and t.typtype in ('d', 'c', 'r', 'm') and tn.nspname not in ('pg_catalog', 'information_schema')
        and not exists (select 1 from pg_depend dep where dep.objid = t.oid and dep.classid = 'pg_type'::regclass and dep.deptype = 'e')
        and not (t.typtype = 'c' and exists (select 1 from pg_class r where r.oid = t.typrelid and r.relkind in ('r', 'p')))`,
    [schema],
  );
  const extensions = await client.query<ExtensionInfo>(
    `select e.extname as name, n.nspname as schema from pg_extension e join pg_namespace n on n.oid = e.extnamespace where e.extname <> 'plpgsql' order by e.extname`,
  );
  const skipped = await client.query<{ kind: string; name: string }>(
    `select case c.relkind when 'v' then 'view' when 'm' then 'materialized view' else 'foreign table' end as kind, c.relname as name
       from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = $1 and c.relkind in ('v', 'm', 'f')
     union all
     select 'trigger', c.relname || '.' || g.tgname from pg_trigger g join pg_class c on c.oid = g.tgrelid join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = $1 and not g.tgisinternal
     union all
     select 'function', p.proname from pg_proc p join pg_namespace n on n.oid = p.pronamespace
      where n.nspname = $1 and not exists (select 1 from pg_depend dep where dep.objid = p.oid and dep.classid = 'pg_proc'::regclass and dep.deptype = 'e')
     order by 1, 2`,
    [schema],
  );
  const strip = ({ oid: _oid, identity: _identity, owner_table, owner_column, owner_schema, ...sequence }: (typeof sequences.rows)[number]): SequenceInfo => ({
    ...sequence,
    ownedBy: owner_table !== null && owner_column !== null && owner_schema === schema ? { table: owner_table, column: owner_column } : null,
  });
  return {
    schema,
    extensions: extensions.rows,
    enums: enums.rows,
    unsupportedTypes: unsupported.rows,
    sequences: sequences.rows.filter((row) => !row.identity).map(strip),
    tables: tables.rows,
    columns: columns.rows.map(({ seq, ...column }) => {
      const sequence = seq === null ? undefined : bySequenceOid.get(seq);
      return { ...column, identitySequence: sequence === undefined ? null : strip(sequence) };
    }),
    constraints: constraints.rows,
    indexes: indexes.rows,
    skipped: skipped.rows,
  };
}
