/**
 * create_index: the index is built CONCURRENTLY on start, so writers of either version are never
 * blocked for the length of the build; it names the columns as the new version sees them, so a
 * column added earlier in the same migration is indexed in its temporary column (the index follows
 * the column when complete renames it). Complete has nothing to do; rollback drops the index.
 *
 * A CONCURRENTLY build that fails (a duplicate under a unique index, a cancelled build) leaves an
 * INVALID index behind, still maintained on every write. The failed start's rollback drops it, and a
 * start that finds an invalid index of its name on its table (a rollback that never ran) drops it
 * before building again.
 */
import type pg from 'pg';
import { renameColumnReferences } from '../expression.js';
import type { CreateIndex, IndexField } from '../operations.js';
import { ident, qualified } from '../sql.js';
import { requireColumn, requireTable, type VirtualSchema, type VirtualTable } from '../virtual-schema.js';
import { hasText } from './guards.js';
import { OperationError, type OperationHandler, type Step } from './types.js';

export const createIndex: OperationHandler<'create_index'> = {
  async start(operation, { schema, db }) {
    requireIdentifier(operation.name, 'name');
    const table = requireTable(schema, operation.table);
    if (operation.columns.length === 0) throw new OperationError(`index "${operation.name}" lists no columns`);
    const physical = operation.columns.map((field) => requireColumn(table, field.column).physical);
    const repair = await checkNameIsFree(db, schema, table, operation.name);
    const body = await indexBodySql(operation, schema.name, table, physical);
    const unique = operation.unique === true ? 'unique ' : '';
    const steps: Step[] = [];
    if (repair) steps.push(dropIndexStep(schema.name, operation.name));
    steps.push({ sql: `create ${unique}index concurrently ${ident(operation.name)} ${body}`, outsideTransaction: true });
    table.indexes = table.indexes.filter((index) => index.name !== operation.name);
    table.indexes.push({ name: operation.name, unique: operation.unique === true, columns: physical, definition: `create ${unique}index ${ident(operation.name)} ${body}` });
    return { steps };
  },

  complete() {
    return { steps: [] };
  },

  rollback(operation, { after }) {
    return [dropIndexStep(after.name, operation.name)];
  },
};

/** `drop index concurrently if exists`: idempotent, and it does not block the table's writers. */
export function dropIndexStep(schema: string, name: string): Step {
  return { sql: `drop index concurrently if exists ${qualified(schema, name)}`, outsideTransaction: true };
}

/** PostgreSQL would silently cut a longer name, and later phases would look for the uncut one. */
export function requireIdentifier(name: string, field: string): void {
  if (name.trim() === '') throw new OperationError(`"${field}" is empty`);
  if (Buffer.byteLength(name, 'utf8') > 63) throw new OperationError(`"${field}" ${name} is longer than PostgreSQL's limit of 63 bytes for a name`);
}

/**
 * Index names share the schema's namespace with tables, views and sequences. Returns true when the
 * name is held by an invalid index on this very table: the leftover of an earlier failed build, which
 * start may drop; any other holder is refused.
 */
async function checkNameIsFree(db: pg.Pool, schema: VirtualSchema, table: VirtualTable, name: string): Promise<boolean> {
  const found = await db.query<{ kind: string; valid: boolean | null; table: string | null }>(
    `select c.relkind::text as kind, x.indisvalid as valid, t.relname as table
       from pg_class c
       join pg_namespace n on n.oid = c.relnamespace
       left join pg_index x on x.indexrelid = c.oid
       left join pg_class t on t.oid = x.indrelid
      where n.nspname = $1 and c.relname = $2`,
    [schema.name, name],
  );
  const existing = found.rows[0];
  if (existing?.kind === 'i' && existing.valid === false && existing.table === table.physical) return true;
  const owner = schema.tables.find((each) => each.indexes.some((index) => index.name === name));
  if (owner !== undefined) throw new OperationError(`index "${name}" already exists on table "${owner.name}"`);
  if (existing !== undefined) throw new OperationError(`the name "${name}" is taken: schema "${schema.name}" has a ${relationKind(existing.kind)} of that name`);
  return false;
}

function relationKind(relkind: string): string {
  const kinds: Record<string, string> = { r: 'table', p: 'table', i: 'index', I: 'index', S: 'sequence', v: 'view', m: 'materialized view', f: 'foreign table', c: 'type' };
  return kinds[relkind] ?? 'relation';
}

/** CREATE INDEX from `on` to the end: table, method, elements, storage parameters and predicate. */
async function indexBodySql(operation: CreateIndex, schemaName: string, table: VirtualTable, physical: readonly string[]): Promise<string> {
  const parts = [`on ${qualified(schemaName, table.physical)}`];
  if (operation.method !== undefined) parts.push(`using ${ident(operation.method)}`);
  parts.push(`(${operation.columns.map((field, index) => indexElementSql(field, physical[index] ?? field.column)).join(', ')})`);
  if (hasText(operation.storage_parameters)) parts.push(`with (${operation.storage_parameters})`);
  if (hasText(operation.predicate)) {
    const renames = new Map(table.columns.filter((column) => column.name !== column.physical).map((column) => [column.name, column.physical]));
    const predicate = renames.size === 0 ? operation.predicate : await renameColumnReferences(operation.predicate, renames);
    parts.push(`where (${predicate})`);
  }
  return parts.join(' ');
}

/** One index element. Collation and operator class are SQL names the file writes as SQL (`"C"`, `pg_catalog.text_ops`), as in pgroll. */
function indexElementSql(field: IndexField, physical: string): string {
  let sql = ident(physical);
  if (hasText(field.collate)) sql += ` collate ${field.collate}`;
  if (field.opclass !== undefined && hasText(field.opclass.name)) {
    sql += ` ${field.opclass.name}`;
    if (field.opclass.params !== undefined && field.opclass.params.length > 0) sql += ` (${field.opclass.params.join(', ')})`;
  }
  if (field.sort !== undefined) sql += ` ${field.sort}`;
  if (field.nulls !== undefined) sql += ` nulls ${field.nulls}`;
  return sql;
}
