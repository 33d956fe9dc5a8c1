import type { StoreMigration } from './index.js';

/**
 * Votes belong to one attempt of a rollout: after `retry` the rollout starts again from its first
 * step, and the approvals of the failed attempt neither count nor stop the same people voting again.
 */
const sql = `
alter table approvals add column attempt integer not null default 1 check (attempt >= 1);
alter table approvals drop constraint approvals_rollout_id_step_index_approver_key;
-- one vote per person per step of an attempt: N approvals means N distinct approvers
alter table approvals add constraint approvals_one_vote_per_step unique (rollout_id, attempt, step_index, approver);
`;

const approvalAttempts: StoreMigration = { version: 8, name: 'approvals per rollout attempt', sql };
export default approvalAttempts;
