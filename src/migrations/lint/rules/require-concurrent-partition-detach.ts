/**
 * require-concurrent-partition-detach: DETACH PARTITION takes an ACCESS EXCLUSIVE lock on the parent
 * table; Postgres 14 added a CONCURRENTLY form that needs only SHARE UPDATE EXCLUSIVE.
 */
import { as } from '../ast.js';
import { alterTable, defineRule } from './define.js';

export const requireConcurrentPartitionDetach = defineRule(
  {
    name: 'require-concurrent-partition-detach',
    severity: 'error',
    summary: 'DETACH PARTITION without CONCURRENTLY blocks reads and writes to the partitioned table.',
    help: 'Use ALTER TABLE ... DETACH PARTITION ... CONCURRENTLY (Postgres 14+), outside a transaction.',
  },
  (statement, context) => {
    const alter = alterTable(statement);
    for (const cmd of alter?.cmds ?? []) {
      const partition = cmd.subtype === 'AT_DetachPartition' ? as(cmd.def, 'PartitionCmd') : undefined;
      if (!partition || partition.concurrent) continue;
      const older = context.postgresVersion < 14 ? ' (CONCURRENTLY needs Postgres 14)' : '';
      context.report({ message: `Detaching partition ${partition.name?.relname ?? ''} takes an ACCESS EXCLUSIVE lock on ${alter?.table ?? ''}${older}.` });
    }
  },
);
