/**
 * set_replica_identity: what logical replication sends to identify an updated or deleted row. It is
 * not part of either version's shape, so it is set on start and complete has nothing to do. pgroll
 * leaves it set on rollback; we restore the identity the table had before the migration, read from
 * the catalog while planning and kept in the virtual table, since rollback cannot read the catalog.
 */
import type pg from 'pg';
import { ident, qualified } from '../sql.js';
import { findTable, requireTable, type ReplicaIdentityState, type VirtualSchema, type VirtualTable } from '../virtual-schema.js';
import { guarded, hasText, regclass, relationExists } from './guards.js';
import { OperationError, type OperationHandler } from './types.js';

const TYPES: readonly ReplicaIdentityState['type'][] = ['default', 'full', 'nothing', 'index'];

export const setReplicaIdentity: OperationHandler<'set_replica_identity'> = {
  async start(operation, { schema, db }) {
    const table = requireTable(schema, operation.table);
    const wanted = identityOf(operation.identity.type, operation.identity.index, table);
    // an earlier operation of this migration may have set it already: keep the identity from before the migration
    const before = table.replicaIdentity?.before ?? (await currentIdentity(db, schema.name, table.physical));
    table.replicaIdentity = { ...wanted, before };
    return { steps: [{ sql: `alter table ${qualified(schema.name, table.physical)} replica identity ${identitySql(wanted)}` }] };
  },

  complete() {
    return { steps: [] };
  },

  rollback(operation, { before, after }) {
    const table = recordedTable(operation.table, before, after);
    const previous = table?.replicaIdentity?.before;
    if (table === undefined || previous === undefined) return [];
    const present = [`${regclass(after.name, table.physical)} is not null`];
    if (previous.index !== undefined) present.push(relationExists(after.name, previous.index));
    return [{ sql: guarded(present.join(' and '), [`alter table ${qualified(after.name, table.physical)} replica identity ${identitySql(previous)}`]) }];
  },
};

function identityOf(type: string, index: string | undefined, table: VirtualTable): ReplicaIdentityState {
  const kind = TYPES.find((each) => each === type.toLowerCase());
  if (kind === undefined) throw new OperationError(`identity type "${type}" is not one of ${TYPES.join(', ')}`);
  if (kind !== 'index') return { type: kind };
  if (!hasText(index)) throw new OperationError(`identity type "index" needs the name of the index in "index"`);
  const found = table.indexes.find((each) => each.name === index);
  if (found === undefined) {
    const names = table.indexes.map((each) => each.name);
    throw new OperationError(`index "${index}" does not exist on table "${table.name}"${names.length === 0 ? '' : ` (it has: ${names.join(', ')})`}`);
  }
  if (!found.unique) throw new OperationError(`index "${index}" of table "${table.name}" is not unique, so it cannot identify a row`);
  return { type: 'index', index };
}

function identitySql(identity: ReplicaIdentityState): string {
  return identity.type === 'index' ? `using index ${ident(identity.index ?? '')}` : identity.type;
}

/** The table's identity now; a table not yet on disk (created by this migration) starts with the default. */
async function currentIdentity(db: pg.Pool, schema: string, table: string): Promise<ReplicaIdentityState> {
  const found = await db.query<{ identity: string; index: string | null }>(
    `select c.relreplident::text as identity,
            (select i.relname from pg_index x join pg_class i on i.oid = x.indexrelid where x.indrelid = c.oid and x.indisreplident) as index
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = $1 and c.relname = $2 and c.relkind in ('r', 'p')`,
    [schema, table],
  );
  const row = found.rows[0];
  switch (row?.identity) {
    case 'f':
      return { type: 'full' };
    case 'n':
      return { type: 'nothing' };
    case 'i':
      return row.index === null ? { type: 'nothing' } : { type: 'index', index: row.index };
    default:
      return { type: 'default' };
  }
}

/** The operation's table in `after`, found by where it lives, since another operation of the migration may have renamed it. */
export function recordedTable(name: string, before: VirtualSchema, after: VirtualSchema): VirtualTable | undefined {
  const physical = findTable(before, name)?.physical;
  return (physical === undefined ? undefined : after.tables.find((table) => table.physical === physical)) ?? findTable(after, name);
}
