/**
 * Which lock a statement needs on a table that already exists, for the timeout rules: a DDL statement
 * that has to wait for its lock makes every later query on the table queue behind it, so it needs a
 * lock_timeout. Statements that only touch objects made earlier in the same file need none.
 */
import { as, lastName, option } from './ast.js';
import type { RuleContext, Statement } from './types.js';

const SHARE_UPDATE_EXCLUSIVE_COMMANDS = new Set(['AT_ValidateConstraint', 'AT_SetStatistics', 'AT_SetOptions', 'AT_ResetOptions', 'AT_SetRelOptions', 'AT_ResetRelOptions', 'AT_ClusterOn', 'AT_DropCluster']);

/** The lock mode a statement takes on an existing relation, or undefined when it takes none worth a timeout. */
export function lockTaken(statement: Statement, context: RuleContext): string | undefined {
  const node = statement.node;
  const onExisting = (table: string | undefined, mode: string) => (context.isNewTable(table) ? undefined : mode);
  const alter = as(node, 'AlterTableStmt');
  if (alter) {
    const modes = (alter.cmds ?? []).map((item) => {
      const cmd = as(item, 'AlterTableCmd');
      if (SHARE_UPDATE_EXCLUSIVE_COMMANDS.has(cmd?.subtype ?? '')) return 'SHARE UPDATE EXCLUSIVE';
      if (cmd?.subtype === 'AT_AddConstraint' && as(cmd.def, 'Constraint')?.contype === 'CONSTR_FOREIGN') return 'SHARE ROW EXCLUSIVE';
      if (cmd?.subtype === 'AT_DetachPartition' && as(cmd.def, 'PartitionCmd')?.concurrent) return 'SHARE UPDATE EXCLUSIVE';
      return 'ACCESS EXCLUSIVE';
    });
    const strongest = modes.includes('ACCESS EXCLUSIVE') ? 'ACCESS EXCLUSIVE' : modes[0];
    return strongest && onExisting(alter.relation?.relname, strongest);
  }
  const index = as(node, 'IndexStmt');
  if (index) return onExisting(index.relation?.relname, index.concurrent ? 'SHARE UPDATE EXCLUSIVE' : 'SHARE');
  const create = as(node, 'CreateStmt');
  if (create) {
    const references = JSON.stringify(create.tableElts ?? []).includes('"CONSTR_FOREIGN"');
    return references ? 'SHARE ROW EXCLUSIVE' : undefined;
  }
  const drop = as(node, 'DropStmt');
  if (drop) {
    if (drop.removeType === 'OBJECT_INDEX' && drop.concurrent) return 'SHARE UPDATE EXCLUSIVE';
    const names = (drop.objects ?? []).map((object) => lastName(as(object, 'List')?.items));
    return names.every((name) => context.isNewTable(name)) ? undefined : 'ACCESS EXCLUSIVE';
  }
  const rename = as(node, 'RenameStmt');
  if (rename) return onExisting(rename.relation?.relname, 'ACCESS EXCLUSIVE');
  if (as(node, 'ReindexStmt')) return option(as(node, 'ReindexStmt')?.params, 'concurrently') ? 'SHARE UPDATE EXCLUSIVE' : 'ACCESS EXCLUSIVE';
  if (as(node, 'VacuumStmt')) return option(as(node, 'VacuumStmt')?.options, 'full') ? 'ACCESS EXCLUSIVE' : undefined;
  if (as(node, 'CreateTrigStmt')) return onExisting(as(node, 'CreateTrigStmt')?.relation?.relname, 'SHARE ROW EXCLUSIVE');
  if (as(node, 'CommentStmt')) return 'SHARE UPDATE EXCLUSIVE';
  const simple: Record<string, string> = {
    TruncateStmt: 'ACCESS EXCLUSIVE',
    ClusterStmt: 'ACCESS EXCLUSIVE',
    LockStmt: 'an explicit',
    RefreshMatViewStmt: 'EXCLUSIVE',
    AlterDomainStmt: 'SHARE',
    AlterEnumStmt: 'ACCESS EXCLUSIVE',
    CreatePolicyStmt: 'ACCESS EXCLUSIVE',
    AlterPolicyStmt: 'ACCESS EXCLUSIVE',
    RuleStmt: 'ACCESS EXCLUSIVE',
    AlterObjectSchemaStmt: 'ACCESS EXCLUSIVE',
    AlterOwnerStmt: 'ACCESS EXCLUSIVE',
    AlterSeqStmt: 'ACCESS EXCLUSIVE',
    CreateStatsStmt: 'SHARE UPDATE EXCLUSIVE',
  };
  return simple[statement.kind];
}
