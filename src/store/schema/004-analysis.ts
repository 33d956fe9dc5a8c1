import type { StoreMigration } from './index.js';

/**
 * Analysis evidence and app-reported signals. Every measurement an analysis takes is a row with its
 * raw inputs, statistic and verdict, so `promote explain` can show why a rollout went the way it did,
 * and a controller that restarts mid-analysis continues from the measurements already taken.
 * Reported metrics are what the app and its users send: SDK metrics (experiment mismatches,
 * dual-write failures) and user feedback scores, per version.
 */
const sql = `
create table analysis_measurements (
  id bigint generated always as identity primary key,
  rollout_id bigint not null references rollouts (id) on delete cascade,
  -- the startAnalysis action this measurement belongs to
  action_id text not null,
  template text not null,
  seq integer not null check (seq >= 1),
  taken_at timestamptz not null default now(),
  verdict text not null check (verdict in ('Successful', 'Failed', 'Inconclusive', 'NoData', 'Error')),
  reason text not null,
  dry_run boolean not null default false,
  critical boolean not null default false,
  candidate jsonb,
  baseline jsonb,
  statistics jsonb not null default '{}',
  unique (rollout_id, action_id, template, seq)
);

create table reported_metrics (
  id bigint generated always as identity primary key,
  app text not null references apps (name) on delete cascade,
  environment text not null,
  version text not null,
  metric text not null check (metric <> ''),
  value double precision not null check (value = value and value not in ('Infinity', '-Infinity')),
  reported_at timestamptz not null default now(),
  context jsonb not null default '{}'
);
create index reported_metrics_lookup on reported_metrics (app, environment, version, metric, reported_at);
`;

const analysis: StoreMigration = { version: 4, name: 'analysis evidence and reported metrics', sql };
export default analysis;
