/**
 * require-lock-timeout: a DDL statement waiting for its lock (behind one long query or idle
 * transaction) makes every later query on the table queue behind it, an outage that looks like a
 * slow migration. A lock_timeout turns that into a quick, retryable failure. Reported once per file,
 * at the first statement that needs a lock on an existing table.
 */
import { lockTaken } from '../locks.js';
import type { Rule } from '../types.js';

export const requireLockTimeout: Rule = {
  name: 'require-lock-timeout',
  severity: 'error',
  summary: 'DDL without a lock_timeout can queue every query on the table behind it.',
  help: "SET lock_timeout = '2s' at the top of the file (and retry the migration when it times out). If the migration tool already sets one on the connection, ignore this rule for the file. Promote's own migrations run every DDL with a lock_timeout and retries with backoff.",
  create(context) {
    let reported = false;
    return {
      statement(statement) {
        if (reported || context.session.lockTimeout) return;
        const lock = lockTaken(statement, context);
        if (!lock) return;
        reported = true;
        context.report({ message: `No lock_timeout is set before this statement, which needs ${article(lock)} lock: waiting for it blocks every later query on the table.` });
      },
    };
  },
};

function article(lock: string): string {
  if (!/^[A-Z]/.test(lock)) return lock;
  return /^[AEIOU]/.test(lock) ? `an ${lock}` : `a ${lock}`;
}
