import type { StoreMigration } from './index.js';

/**
 * The core aggregates. Runs with search_path set to the store schema. Names are singular concepts from
 * DESIGN.md; every table has created_at; identifiers of apps and environments are their names, as in
 * promote.yaml, so events and URLs stay readable.
 */
const sql = `
create table apps (
  name text primary key check (name ~ '^[a-z][a-z0-9-]{0,62}$'),
  description text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

create table environments (
  app text not null references apps (name) on delete cascade,
  name text not null check (name ~ '^[a-z][a-z0-9-]{0,62}$'),
  -- promotion order: a release reaches an environment only through the ones with a lower position
  position integer not null check (position >= 0),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (app, name),
  unique (app, position) deferrable initially deferred
);

create table releases (
  id bigint generated always as identity primary key,
  app text not null references apps (name) on delete restrict,
  version text not null check (length(version) between 1 and 128),
  digest text not null check (digest ~ '^sha256:[0-9a-f]{64}$'),
  artifact text,
  -- file name -> sha256 of each migration the release needs, as found when it was created
  migration_checksums jsonb not null default '{}'::jsonb check (jsonb_typeof(migration_checksums) = 'object'),
  created_by text,
  created_at timestamptz not null default now(),
  unique (app, version)
);

create table rollouts (
  id bigint generated always as identity primary key,
  app text not null,
  environment text not null,
  release_id bigint not null references releases (id) on delete restrict,
  -- the release serving before this rollout: where a rollback returns traffic
  stable_release_id bigint references releases (id) on delete restrict,
  strategy jsonb not null,
  phase text not null default 'Pending'
    check (phase in ('Pending', 'Progressing', 'Paused', 'Healthy', 'Degraded', 'RolledBack', 'Aborted')),
  phase_reason text,
  current_step integer not null default 0 check (current_step >= 0),
  -- version -> percentage of traffic; the sum is 100 once traffic has been assigned
  weights jsonb not null default '{}'::jsonb check (jsonb_typeof(weights) = 'object'),
  created_by text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  foreign key (app, environment) references environments (app, name) on delete restrict
);
create index rollouts_by_environment on rollouts (app, environment, created_at desc);
-- at most one rollout in flight per environment
create unique index rollouts_one_active on rollouts (app, environment)
  where phase in ('Pending', 'Progressing', 'Paused');

-- The audit trail: append-only, one hash chain over all events. Each row's hash covers its content and
-- the previous row's hash, so an edited, deleted or reordered row breaks the chain from that row on.
create table events (
  seq bigint primary key,
  app text,
  environment text,
  rollout_id bigint references rollouts (id) on delete restrict,
  type text not null check (type ~ '^[a-z][a-z0-9_.-]*$'),
  actor text not null,
  data jsonb not null default '{}'::jsonb,
  created_at timestamptz not null,
  prev_hash text not null,
  hash text not null unique
);
create index events_by_rollout on events (rollout_id, seq) where rollout_id is not null;

create function events_refuse_change() returns trigger language plpgsql as $$
begin
  raise exception 'promote.events is append-only: % is not allowed', tg_op
    using errcode = 'insufficient_privilege';
end
$$;
create trigger events_append_only before update or delete on events
  for each row execute function events_refuse_change();
create trigger events_no_truncate before truncate on events
  for each statement execute function events_refuse_change();

create table approvals (
  id bigint generated always as identity primary key,
  rollout_id bigint not null references rollouts (id) on delete cascade,
  step_index integer not null check (step_index >= 0),
  approver text not null,
  decision text not null check (decision in ('approved', 'rejected')),
  reason text,
  created_at timestamptz not null default now(),
  expires_at timestamptz,
  -- one vote per person per step: N approvals means N distinct approvers
  unique (rollout_id, step_index, approver),
  check (expires_at is null or expires_at > created_at)
);
`;

const core: StoreMigration = { version: 1, name: 'core aggregates', sql };
export default core;
