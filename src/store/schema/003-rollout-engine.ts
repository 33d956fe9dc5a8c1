import type { StoreMigration } from './index.js';

/**
 * What the rollout controller needs to survive being killed at any instant: the plan and the engine
 * state of each rollout, the commands people gave it, and every action with its outcome. An action
 * row is written as started before the action runs, so a controller that restarts knows which actions
 * may have happened and asks the executor instead of blindly repeating them.
 */
const sql = `
alter table rollouts add column plan jsonb;
alter table rollouts add column state jsonb;
alter table rollouts add column wake_at timestamptz;

create table rollout_commands (
  id bigint generated always as identity primary key,
  rollout_id bigint not null references rollouts (id) on delete cascade,
  command jsonb not null check (jsonb_typeof(command) = 'object'),
  created_at timestamptz not null default now(),
  -- set when the engine has taken the command into a decision
  applied_at timestamptz
);
create index rollout_commands_pending on rollout_commands (rollout_id, id) where applied_at is null;

create table rollout_actions (
  rollout_id bigint not null references rollouts (id) on delete cascade,
  id text not null,
  action jsonb not null,
  status text not null check (status in ('started', 'succeeded', 'failed', 'running')),
  outcome jsonb,
  started_at timestamptz not null default now(),
  finished_at timestamptz,
  primary key (rollout_id, id)
);

create function rollout_wake() returns trigger language plpgsql as $$
begin
  perform pg_notify('promote_rollouts', new.rollout_id::text);
  return new;
end
$$;
create trigger rollout_command_added after insert on rollout_commands
  for each row execute function rollout_wake();
`;

const rolloutEngine: StoreMigration = { version: 3, name: 'rollout engine state', sql };
export default rolloutEngine;
