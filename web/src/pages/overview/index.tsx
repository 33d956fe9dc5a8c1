import { useEffect } from 'preact/hooks';
import { ErrorMessage } from '../../components/error-message';
import { Loading } from '../../components/loading';
import { formatTime, percent, PhaseBadge } from '../../components/phase';
import { href, type Params } from '../../router';
import { subscribe } from '../../stream';
import type { Overview } from '../../types';
import { useApi } from '../../use-api';
import { FreezeBadge, nextFreezeChange } from './freeze-badge';

/** Every environment in promotion order: what runs there, what is rolling out, and how the last rollout ended. */
export function OverviewPage(_props: { params: Params }) {
  const overview = useApi<Overview>('/api/overview');
  const { reload } = overview;
  useEffect(() => {
    // a rollout moved or traffic shifted somewhere: read the overview again (once per burst)
    let timer: number | undefined;
    const later = () => {
      window.clearTimeout(timer);
      timer = window.setTimeout(reload, 300);
    };
    const stops = [subscribe('rollout', later), subscribe('traffic', later)];
    return () => {
      window.clearTimeout(timer);
      stops.forEach((stop) => stop());
    };
  }, [reload]);
  useEffect(() => {
    // a freeze ends, a window starts, or one comes within a day without any event: read again then
    const at = nextFreezeChange(overview.data?.environments ?? [], Date.now());
    if (at === undefined) return undefined;
    const timer = window.setTimeout(reload, Math.min(at - Date.now() + 1_000, 2 ** 31 - 1));
    return () => window.clearTimeout(timer);
  }, [overview.data, reload]);
  return (
    <>
      <h1>Overview{overview.data ? ` of ${overview.data.app}` : ''}</h1>
      <ErrorMessage error={overview.error} title="Could not read the overview" />
      {!overview.data && !overview.error ? <Loading what="the environments" /> : null}
      {overview.data ? (
        <ol class="cards plain" aria-label="Environments in promotion order">
          {overview.data.environments.map((environment) => (
            <li class="card" key={environment.name} data-testid={`environment-${environment.name}`}>
              <h2>
                {environment.name} {environment.production ? <span class="badge warn">production</span> : null}
              </h2>
              <FreezeBadge environment={environment.name} freeze={environment.freeze} />
              <p>
                Running: <strong>{environment.running?.version ?? 'nothing yet'}</strong>
                {environment.running ? <span class="muted"> since {formatTime(environment.running.since)}</span> : null}
              </p>
              {environment.active ? (
                <p>
                  Rolling out{' '}
                  <a href={href.rollout(environment.active.id)}>
                    {environment.active.version ?? `release ${environment.active.releaseId}`} (#{environment.active.id})
                  </a>{' '}
                  <PhaseBadge phase={environment.active.phase} />
                  <br />
                  <span class="muted">Traffic: {Object.entries(environment.active.weights).map(([version, weight]) => `${version} ${percent(weight)}`).join(', ') || '—'}</span>
                </p>
              ) : (
                <p class="muted">No rollout in progress.</p>
              )}
              {environment.lastFinished ? (
                <p>
                  Last finished:{' '}
                  <a href={href.rollout(environment.lastFinished.id)}>
                    {environment.lastFinished.version ?? `release ${environment.lastFinished.releaseId}`} (#{environment.lastFinished.id})
                  </a>{' '}
                  <PhaseBadge phase={environment.lastFinished.phase} />
                  {environment.lastFinished.phaseReason ? <span class="muted"> {environment.lastFinished.phaseReason}</span> : null}
                </p>
              ) : null}
              <p class="row">
                <a href={href.flags(environment.name)}>Flags</a>
                <a href={href.migrations(environment.name)}>Migrations</a>
              </p>
            </li>
          ))}
        </ol>
      ) : null}
    </>
  );
}
