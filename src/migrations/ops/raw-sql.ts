/**
 * sql: arbitrary SQL, which no version schema can be built around: it runs on start (alone in its
 * migration) or, with `onComplete`, on complete; the schema is read again afterwards. Rollback runs
 * `down` when start ran `up`.
 */
import { hasText } from './guards.js';
import type { OperationHandler } from './types.js';

export const rawSql: OperationHandler<'sql'> = {
  start(operation) {
    if (operation.onComplete === true) return { steps: [] };
    return { steps: [{ sql: operation.up }], refreshSchema: true };
  },

  complete(operation) {
    if (operation.onComplete !== true) return { steps: [] };
    return { steps: [{ sql: operation.up }], refreshSchema: true };
  },

  rollback(operation) {
    if (operation.onComplete === true || !hasText(operation.down)) return [];
    return [{ sql: operation.down }];
  },
};
