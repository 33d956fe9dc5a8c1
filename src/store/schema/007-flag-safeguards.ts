import type { StoreMigration } from './index.js';

/**
 * Safeguards of a flag's gradual release: every change of a flag that carries safeguards starts an
 * analysis run over its templates, judged with the flag's version. Its measurements are kept like a
 * rollout's (the same columns, one run per flag version), so a controller that restarts continues the
 * run; its verdict is kept so a run that ended is not started again.
 */
const sql = `
create table flag_safeguard_measurements (
  id bigint generated always as identity primary key,
  app text not null,
  environment text not null,
  flag text not null,
  flag_version integer not null check (flag_version >= 1),
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
  unique (app, environment, flag, flag_version, template, seq),
  foreign key (app, environment) references environments (app, name) on delete cascade
);

create table flag_safeguard_runs (
  app text not null,
  environment text not null,
  flag text not null,
  flag_version integer not null check (flag_version >= 1),
  verdict text not null check (verdict in ('Successful', 'Failed', 'Inconclusive')),
  reason text not null,
  finished_at timestamptz not null default now(),
  primary key (app, environment, flag, flag_version),
  foreign key (app, environment) references environments (app, name) on delete cascade
);
`;

const flagSafeguards: StoreMigration = { version: 7, name: 'flag safeguards', sql };
export default flagSafeguards;
