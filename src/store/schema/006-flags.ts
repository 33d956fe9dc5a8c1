import type { StoreMigration } from './index.js';

/**
 * Feature flags per (app, environment), with their history, schedules and the Unleash SDKs that read
 * them. A flag's definition is stored as validated by `flagSchema` (src/spec/schema-flags.ts), as jsonb,
 * so fields the schema gains later need no migration. Every change bumps the scope's revision in
 * `flag_revisions`, whose trigger notifies `promote_flags` on commit: servers reload the ruleset and
 * SDK streams see the change within milliseconds; a server that misses a notification still converges
 * on its next read because revisions only grow.
 */
const sql = `
create table flags (
  app text not null,
  environment text not null,
  name text not null check (name ~ '^[A-Za-z0-9._-]{1,100}$'),
  definition jsonb not null check (jsonb_typeof(definition) = 'object' and definition->>'name' = name),
  -- optimistic concurrency: a writer that read version n may only write while it is still n
  version integer not null default 1 check (version >= 1),
  archived boolean not null default false,
  created_by text not null,
  created_at timestamptz not null default now(),
  updated_by text not null,
  updated_at timestamptz not null default now(),
  primary key (app, environment, name),
  foreign key (app, environment) references environments (app, name) on delete cascade
);

-- segments are shared by all environments of an app; the client format names them by number
create table flag_segments (
  id bigint generated always as identity primary key,
  app text not null references apps (name) on delete cascade,
  name text not null check (name ~ '^[A-Za-z0-9._-]{1,100}$'),
  description text,
  constraints jsonb not null default '[]'::jsonb check (jsonb_typeof(constraints) = 'array'),
  version integer not null default 1 check (version >= 1),
  created_by text not null,
  created_at timestamptz not null default now(),
  updated_by text not null,
  updated_at timestamptz not null default now(),
  unique (app, name)
);

-- Every change to a flag or segment: who, when, why, the definition before and after, and the JSON
-- paths that differ. Append-only; no foreign keys, so the history outlives what it describes (as events).
create table flag_changes (
  id bigint generated always as identity primary key,
  app text not null,
  -- null for a segment, which belongs to every environment of the app
  environment text,
  subject text not null check (subject in ('flag', 'segment')),
  name text not null,
  action text not null check (action ~ '^[a-z][a-z0-9_.-]*$'),
  actor text not null check (actor <> ''),
  reason text,
  before jsonb,
  after jsonb,
  diff jsonb not null default '[]'::jsonb check (jsonb_typeof(diff) = 'array'),
  version integer,
  schedule_id bigint,
  created_at timestamptz not null default now()
);
create index flag_changes_by_subject on flag_changes (app, subject, name, environment, id);

create function flag_changes_refuse_change() returns trigger language plpgsql as $$
begin
  raise exception 'promote.flag_changes is append-only: % is not allowed', tg_op
    using errcode = 'insufficient_privilege';
end
$$;
create trigger flag_changes_append_only before update or delete on flag_changes
  for each row execute function flag_changes_refuse_change();
create trigger flag_changes_no_truncate before truncate on flag_changes
  for each statement execute function flag_changes_refuse_change();

create table flag_revisions (
  app text not null,
  environment text not null,
  revision bigint not null check (revision > 0),
  updated_at timestamptz not null default now(),
  primary key (app, environment),
  foreign key (app, environment) references environments (app, name) on delete cascade
);

create function flag_revisions_notify() returns trigger language plpgsql as $$
begin
  perform pg_notify('promote_flags', json_build_object('app', new.app, 'environment', new.environment, 'revision', new.revision)::text);
  return new;
end
$$;
create trigger flag_revisions_changed after insert or update on flag_revisions
  for each row execute function flag_revisions_notify();

create table flag_schedules (
  id bigint generated always as identity primary key,
  app text not null,
  environment text not null,
  flag text not null,
  apply_at timestamptz not null,
  -- what to do, as src/flags/store-schedules.ts describes it: {"action": "enable"}, {"action": "rollout", "percent": 50}, ...
  change jsonb not null check (jsonb_typeof(change) = 'object' and change ? 'action'),
  created_by text not null check (created_by <> ''),
  reason text,
  status text not null default 'pending' check (status in ('pending', 'applied', 'cancelled', 'failed')),
  error text,
  finished_by text,
  finished_at timestamptz,
  created_at timestamptz not null default now(),
  check ((status = 'pending') = (finished_at is null)),
  check ((status = 'failed') = (error is not null)),
  foreign key (app, environment) references environments (app, name) on delete cascade
);
create index flag_schedules_due on flag_schedules (apply_at) where status = 'pending';
create index flag_schedules_by_flag on flag_schedules (app, environment, flag, apply_at);

-- Unleash SDK instances, from POST /api/client/register
create table flag_clients (
  app text not null,
  environment text not null,
  app_name text not null check (length(app_name) between 1 and 255),
  instance_id text not null check (length(instance_id) between 1 and 255),
  sdk_version text,
  strategies jsonb not null default '[]'::jsonb check (jsonb_typeof(strategies) = 'array'),
  started_at timestamptz,
  interval_ms integer check (interval_ms >= 0),
  first_seen timestamptz not null default now(),
  last_seen timestamptz not null default now(),
  primary key (app, environment, app_name, instance_id),
  foreign key (app, environment) references environments (app, name) on delete cascade
);

-- evaluation counts from POST /api/client/metrics, summed per flag, SDK app and minute
create table flag_usage (
  app text not null,
  environment text not null,
  flag text not null,
  app_name text not null,
  bucket timestamptz not null,
  yes bigint not null default 0 check (yes >= 0),
  no bigint not null default 0 check (no >= 0),
  -- variant name -> count
  variants jsonb not null default '{}'::jsonb check (jsonb_typeof(variants) = 'object'),
  primary key (app, environment, flag, bucket, app_name),
  foreign key (app, environment) references environments (app, name) on delete cascade
);
`;

const flags: StoreMigration = { version: 6, name: 'feature flags', sql };
export default flags;
