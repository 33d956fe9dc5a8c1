/**
 * prefer-repack: VACUUM FULL and CLUSTER rewrite the table under an ACCESS EXCLUSIVE lock, blocking
 * reads and writes for the whole rewrite. Postgres 19's REPACK (CONCURRENTLY), or the pg_repack
 * extension before it, does the same work while the table stays in use.
 */
import { as, option } from '../ast.js';
import { defineRule } from './define.js';

export const preferRepack = defineRule(
  {
    name: 'prefer-repack',
    severity: 'error',
    summary: 'VACUUM FULL and CLUSTER block reads and writes for the whole rewrite.',
    help: 'Use REPACK (CONCURRENTLY) on Postgres 19+, or the pg_repack extension on older servers; both rewrite the table while it stays in use.',
  },
  (statement, context) => {
    const vacuum = as(statement.node, 'VacuumStmt');
    const what = vacuum?.is_vacuumcmd && option(vacuum.options, 'full') ? 'VACUUM FULL' : as(statement.node, 'ClusterStmt') ? 'CLUSTER' : undefined;
    if (!what) return;
    const instead = context.postgresVersion >= 19 ? 'use REPACK (CONCURRENTLY)' : 'use pg_repack (or REPACK CONCURRENTLY on Postgres 19+)';
    context.report({ message: `${what} rewrites the table under an ACCESS EXCLUSIVE lock, blocking reads and writes until it ends; ${instead}.` });
  },
);
