import type { StoreMigration } from './index.js';

/**
 * The routing table of each environment, as the routers apply it. Every change bumps the revision and
 * notifies `promote_traffic` on commit, so each router process reloads within milliseconds; a router
 * that misses a notification still converges on its next reload because revisions only grow.
 */
const sql = `
create table traffic (
  app text not null,
  environment text not null,
  revision bigint not null check (revision > 0),
  config jsonb not null check (jsonb_typeof(config) = 'object'),
  updated_by text,
  updated_at timestamptz not null default now(),
  primary key (app, environment),
  foreign key (app, environment) references environments (app, name) on delete cascade
);

create function traffic_notify() returns trigger language plpgsql as $$
begin
  perform pg_notify('promote_traffic', json_build_object('app', new.app, 'environment', new.environment, 'revision', new.revision)::text);
  return new;
end
$$;
create trigger traffic_changed after insert or update on traffic
  for each row execute function traffic_notify();
`;

const traffic: StoreMigration = { version: 2, name: 'traffic routing tables', sql };
export default traffic;
