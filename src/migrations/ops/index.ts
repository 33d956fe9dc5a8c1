/** Every operation's handler, by the name a migration file gives it. */
import type { OperationName } from '../operations.js';
import { addColumn } from './add-column.js';
import { alterColumn } from './alter-column.js';
import { createIndex } from './create-index.js';
import { dropIndex } from './drop-index.js';
import { renameConstraint } from './rename-constraint.js';
import { setReplicaIdentity } from './set-replica-identity.js';
import { createConstraint } from './create-constraint.js';
import { dropConstraint } from './drop-constraint.js';
import { dropMultiColumnConstraint } from './drop-multicolumn-constraint.js';
import { createTable } from './create-table.js';
import { dropColumn } from './drop-column.js';
import { dropTable } from './drop-table.js';
import { rawSql } from './raw-sql.js';
import { renameColumn } from './rename-column.js';
import { renameTable } from './rename-table.js';
import type { OperationHandler } from './types.js';

// every operation name has a handler: the compiler refuses the map without one
const HANDLERS: { [K in OperationName]: OperationHandler<K> } = {
  add_column: addColumn,
  alter_column: alterColumn,
  create_index: createIndex,
  drop_index: dropIndex,
  rename_constraint: renameConstraint,
  set_replica_identity: setReplicaIdentity,
  create_constraint: createConstraint,
  drop_constraint: dropConstraint,
  drop_multicolumn_constraint: dropMultiColumnConstraint,
  create_table: createTable,
  drop_column: dropColumn,
  drop_table: dropTable,
  rename_column: renameColumn,
  rename_table: renameTable,
  sql: rawSql,
};

export function handlerFor<K extends OperationName>(kind: K): OperationHandler<K> {
  return HANDLERS[kind];
}
