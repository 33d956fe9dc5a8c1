import { useEffect, useState } from 'preact/hooks';
import { post } from '../../api';
import { EnvironmentPicker } from '../../components/environment-picker';
import { ErrorMessage } from '../../components/error-message';
import { Loading } from '../../components/loading';
import { can, environmentsOf, useMe } from '../../me';
import { href, type Params } from '../../router';
import { subscribe } from '../../stream';
import { useApi } from '../../use-api';
import { FlagHistory } from './history';
import { ToggleDialog } from './toggle';
import './flags.css';

/** A flag as the admin API answers (src/flags/admin-routes.ts); the definition is promote.yaml's flag shape. */
export interface Strategy {
  name: string;
  parameters?: Record<string, unknown>;
  constraints?: unknown[];
  segments?: unknown[];
}
export interface Flag {
  name: string;
  version: number;
  archived: boolean;
  definition: { enabled?: boolean; type?: string; description?: string; strategies?: Strategy[] };
  updatedBy?: string;
  updatedAt: string;
}

/** The percentage of the flag's flexibleRollout, when it has one. */
export function rolloutPercent(flag: Flag): number | undefined {
  const strategy = flag.definition.strategies?.find((each) => each.name === 'flexibleRollout');
  const value = strategy?.parameters?.rollout;
  const percent = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : undefined;
  return percent !== undefined && Number.isFinite(percent) ? percent : undefined;
}

export function strategiesSummary(flag: Flag): string {
  const strategies = flag.definition.strategies ?? [];
  if (strategies.length === 0) return 'everyone (no strategy)';
  return strategies
    .map((strategy) => {
      const conditions = (strategy.constraints?.length ?? 0) + (strategy.segments?.length ?? 0);
      const value = strategy.parameters?.rollout;
      const rollout = strategy.name === 'flexibleRollout' && (typeof value === 'string' || typeof value === 'number') ? ` ${value}%` : '';
      return `${strategy.name}${rollout}${conditions > 0 ? ` (${conditions} condition${conditions === 1 ? '' : 's'})` : ''}`;
    })
    .join(', ');
}

function FlagsTable({ app, environment, flags, writable, onChanged }: { app: string; environment: string; flags: Flag[]; writable: boolean; onChanged: () => void }) {
  const [toggling, setToggling] = useState<Flag | undefined>(undefined);
  const [open, setOpen] = useState<Record<string, boolean>>({});
  const [historyTick, setHistoryTick] = useState(0);
  if (flags.length === 0) return <p class="empty">No flags in {environment}.</p>;
  // the flag as last read: a change made meanwhile (the list reloads on the flags event) shows in the open dialog
  const current = toggling === undefined ? undefined : (flags.find((flag) => flag.name === toggling.name) ?? toggling);
  const toggle = async (flag: Flag, reason: string) => {
    const turn = flag.definition.enabled === true ? 'disable' : 'enable';
    try {
      await post(`/api/apps/${encodeURIComponent(app)}/environments/${encodeURIComponent(environment)}/flags/${encodeURIComponent(flag.name)}/${turn}`, { reason, expectedVersion: flag.version });
    } catch (problem) {
      // refused (a version conflict, a role): read the flag again so a second try starts from what is there
      onChanged();
      throw problem;
    }
    setToggling(undefined);
    setHistoryTick((tick) => tick + 1);
    onChanged();
  };
  return (
    <div class="table-wrap">
      <table class="flags">
        <caption>Flags of {app} in {environment}</caption>
        <thead>
          <tr>
            <th scope="col">Flag</th>
            <th scope="col">Enabled</th>
            <th scope="col">Strategies</th>
            <th scope="col" class="num">Rollout</th>
            <th scope="col">Last change</th>
            <th scope="col">Actions</th>
          </tr>
        </thead>
        {flags.map((flag) => {
          const enabled = flag.definition.enabled === true;
          const percent = rolloutPercent(flag);
          const historyId = `history-${flag.name}`;
          return (
            <tbody key={flag.name}>
              <tr data-testid={`flag-${flag.name}`}>
                <th scope="row">
                  <code>{flag.name}</code>
                  {flag.definition.description ? <div class="muted detail">{flag.definition.description}</div> : null}
                </th>
                <td>
                  <span class={`badge ${enabled ? 'ok' : 'muted'}`} data-testid={`flag-state-${flag.name}`}>
                    {enabled ? 'on' : 'off'}
                  </span>
                </td>
                <td>{strategiesSummary(flag)}</td>
                <td class="num">{percent === undefined ? <span class="muted">–</span> : `${percent}%`}</td>
                <td>
                  {flag.updatedBy ?? 'unknown'}, {new Date(flag.updatedAt).toLocaleString()}
                  <div class="muted detail">version {flag.version}</div>
                </td>
                <td class="actions">
                  {writable ? (
                    <button type="button" onClick={() => setToggling(flag)}>
                      Toggle<span class="visually-hidden"> {flag.name}</span>
                    </button>
                  ) : null}
                  <button type="button" aria-expanded={open[flag.name] === true} aria-controls={historyId} onClick={() => setOpen({ ...open, [flag.name]: !open[flag.name] })}>
                    History<span class="visually-hidden"> of {flag.name}</span>
                  </button>
                </td>
              </tr>
              <tr id={historyId} hidden={!open[flag.name]} class="history-row">
                <td colSpan={6}>{open[flag.name] ? <FlagHistory app={app} environment={environment} flag={flag.name} refresh={historyTick + flag.version} /> : null}</td>
              </tr>
            </tbody>
          );
        })}
      </table>
      {current ? <ToggleDialog flag={current} environment={environment} onConfirm={(reason) => toggle(current, reason)} onClose={() => setToggling(undefined)} /> : null}
    </div>
  );
}

/** One environment's flags; keyed by environment, so nothing of another environment's list (or its open dialog) carries over. */
function EnvironmentFlags({ app, environment, writable }: { app: string; environment: string; writable: boolean }) {
  const flags = useApi<Flag[]>(`/api/apps/${encodeURIComponent(app)}/environments/${encodeURIComponent(environment)}/flags`);
  const { reload } = flags;
  // a change made elsewhere (the CLI, a rollout's setFlag step, another browser) shows at once
  useEffect(
    () =>
      subscribe('flags', (data) => {
        if ((data as { environment?: string } | null)?.environment === environment) reload();
      }),
    [environment, reload],
  );
  return (
    <>
      <div class="row toolbar">
        <button type="button" onClick={reload}>
          Refresh
        </button>
      </div>
      <ErrorMessage error={flags.error} title={`Could not read the flags of ${environment}`} />
      {flags.loading && !flags.data ? <Loading what="flags" /> : null}
      {flags.data ? <FlagsTable app={app} environment={environment} flags={flags.data} writable={writable} onChanged={reload} /> : null}
    </>
  );
}

export function FlagsPage({ params }: { params: Params }) {
  const { me } = useMe();
  const environment = params.environment ?? environmentsOf(me)[0];
  const app = useApi<{ name: string; environments: string[] }>('/api/app');
  const writable = environment !== undefined && can(me, 'flag.write', environment);
  return (
    <>
      <h1>Flags{environment ? ` in ${environment}` : ''}</h1>
      <div class="row toolbar">
        <EnvironmentPicker current={environment} to={href.flags} />
      </div>
      {me && environment && !writable ? <p class="muted">Your role ({me.role}) may not change flags in {environment}: the list is read-only.</p> : null}
      <ErrorMessage error={app.error} title="Could not read the app" />
      {app.loading && !app.data ? <Loading what="the app" /> : null}
      {app.data && environment ? <EnvironmentFlags key={`${app.data.name}/${environment}`} app={app.data.name} environment={environment} writable={writable} /> : null}
    </>
  );
}
