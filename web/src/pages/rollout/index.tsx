import { useEffect, useRef, useState } from 'preact/hooks';
import { BackfillProgress } from '../../components/backfill';
import { ErrorMessage } from '../../components/error-message';
import { Loading } from '../../components/loading';
import { formatTime, isActivePhase, isFailedPhase, PhaseBadge } from '../../components/phase';
import { Table } from '../../components/table';
import { href, type Params } from '../../router';
import { onReconnect, subscribe } from '../../stream';
import type { AuditEvent, Measurement, Rollout, RolloutDetail } from '../../types';
import { useApi } from '../../use-api';
import { RolloutActions } from './actions';
import { AuditEvents, StepTimeline } from './timeline';
import { TrafficCharts, TrafficSplit } from './traffic';
import { FailureSummary, Verdicts } from './verdicts';

/**
 * One rollout: where it is (phase, reason, steps, traffic split), why (the analyses' verdicts with their
 * numbers, the failing one first), what it changed (flags, backfill) and what happened (audit events),
 * kept current from the event stream; with the actions the viewer's role allows.
 */
export function RolloutPage({ params }: { params: Params }) {
  const id = Number(params.id);
  if (!Number.isInteger(id) || id < 1) return <ErrorMessage error={new Error(`"${params.id}" is not a rollout number`)} />;
  return <RolloutView key={id} id={id} />;
}

function RolloutView({ id }: { id: number }) {
  const detail = useApi<RolloutDetail>(`/api/rollouts/${id}/detail`);
  const measurements = useApi<Measurement[]>(`/api/rollouts/${id}/measurements`);
  const events = useApi<AuditEvent[]>(`/api/rollouts/${id}/events`);
  const [live, setLive] = useState<{ rollout?: Rollout; weights?: Record<string, number>; events: AuditEvent[] }>({ events: [] });
  const environment = detail.data?.rollout.environment;
  /** the rollout weights last seen, from the page's read or the stream */
  const lastWeights = useRef<string | undefined>(undefined);
  if (lastWeights.current === undefined && detail.data) lastWeights.current = JSON.stringify(detail.data.rollout.weights);
  const reloadDetail = detail.reload;
  const reloadMeasurements = measurements.reload;

  useEffect(() => {
    let timer: number | undefined;
    // steps, verdicts and flags are read again after a burst of changes, not per event
    const refresh = () => {
      window.clearTimeout(timer);
      timer = window.setTimeout(() => {
        reloadDetail();
        reloadMeasurements();
      }, 300);
    };
    const stops = [
      subscribe('rollout', (data) => {
        const rollout = data as Rollout;
        if (rollout.id !== id) return;
        // the rollout's weights replace the router's only when they changed: a rollout event about
        // something else (a phase, a step) may be read before the traffic change it follows
        const changed = JSON.stringify(rollout.weights) !== lastWeights.current;
        lastWeights.current = JSON.stringify(rollout.weights);
        setLive((previous) => ({ ...previous, rollout, weights: changed ? rollout.weights : previous.weights }));
        refresh();
      }),
      subscribe('event', (data) => {
        const event = data as AuditEvent;
        if (event.rolloutId !== id) return;
        setLive((previous) => (previous.events.some((each) => each.seq === event.seq) ? previous : { ...previous, events: [...previous.events, event] }));
        refresh();
      }),
      subscribe('traffic', (data) => {
        const traffic = data as { environment: string; weights: Record<string, number> };
        if (traffic.environment === environment) setLive((previous) => ({ ...previous, weights: traffic.weights }));
      }),
      // what the stream said before it was lost may be stale: the page's reads (useApi) start again
      onReconnect(() => {
        lastWeights.current = undefined;
        setLive((previous) => ({ events: previous.events }));
      }),
    ];
    return () => {
      window.clearTimeout(timer);
      stops.forEach((stop) => stop());
    };
  }, [id, environment, reloadDetail, reloadMeasurements]);

  if (detail.error && !detail.data) return <ErrorMessage error={detail.error} title={`Could not read rollout #${id}`} />;
  if (!detail.data) return <Loading what={`rollout #${id}`} />;
  const data = detail.data;
  // the stream's copy is newer than the page's until the next read catches up
  const rollout = live.rollout && live.rollout.updatedAt >= data.rollout.updatedAt ? live.rollout : data.rollout;
  const shown: RolloutDetail = { ...data, rollout };
  const active = isActivePhase(rollout.phase);
  const weights = active && live.weights ? live.weights : rollout.weights;
  const allEvents = [...(events.data ?? []), ...live.events.filter((event) => !(events.data ?? []).some((each) => each.seq === event.seq))].sort((a, b) => b.seq - a.seq);

  return (
    <>
      <p>
        <a href={href.overview()}>Overview</a> › {rollout.environment}
      </p>
      <div class="rollout-head">
        <h1>
          Rollout #{rollout.id}: {data.version ?? `release ${rollout.releaseId}`} to {rollout.environment}
        </h1>
        <PhaseBadge phase={rollout.phase} testId="rollout-phase" />
      </div>
      <p class="muted">
        {data.strategy ? `${data.strategy.type} strategy ${data.strategy.name}` : ''}
        {data.stableVersion ? `; stable ${data.stableVersion}` : ''}
        {`; started by ${rollout.createdBy ?? 'unknown'} at ${formatTime(rollout.createdAt)}; updated ${formatTime(rollout.updatedAt)}`}
      </p>
      {rollout.phaseReason && !isFailedPhase(rollout.phase) ? <p data-testid="phase-reason">{rollout.phaseReason}</p> : null}
      {isFailedPhase(rollout.phase) ? <FailureSummary phase={rollout.phase} reason={rollout.phaseReason} measurements={measurements.data ?? []} /> : null}
      <RolloutActions detail={shown} onDone={() => { reloadDetail(); events.reload(); }} />

      <h2>Traffic</h2>
      <TrafficSplit weights={weights} />
      <TrafficCharts environment={rollout.environment} thresholds={data.thresholds} live={active} />
      {data.thresholds.some((each) => each.bound === null) ? (
        <p class="muted">
          Judged against the stable version: {data.thresholds.filter((each) => each.bound === null).map((each) => `${each.template} (${each.condition ?? each.judge ?? ''})`).join('; ')}
        </p>
      ) : null}

      <h2>Steps</h2>
      <StepTimeline steps={data.steps} />

      <h2>Analysis</h2>
      <ErrorMessage error={measurements.error} title="Could not read the measurements" />
      <Verdicts measurements={measurements.data ?? []} />

      <BackfillProgress environment={rollout.environment} headingLevel={2} />

      <h2>Flags touched</h2>
      <Table
        caption="Flag steps of the plan"
        hideCaption={false}
        columns={[
          { label: 'Step', cell: (row) => row.step + 1, numeric: true },
          { label: 'Flag', cell: (row) => <a href={href.flags(rollout.environment)}>{row.flag}</a> },
          { label: 'Change', cell: (row) => JSON.stringify(Object.fromEntries(Object.entries(row.change).filter(([name]) => name !== 'flag'))) },
        ]}
        rows={data.flags.steps}
        empty="The plan changes no flag."
      />
      <Table
        caption="Flag changes during the rollout"
        columns={[
          { label: 'Time', cell: (row) => formatTime(row.createdAt) },
          { label: 'Flag', cell: (row) => row.flag },
          { label: 'Action', cell: (row) => row.action },
          { label: 'Actor', cell: (row) => row.actor },
          { label: 'Reason', cell: (row) => row.reason ?? '' },
        ]}
        rows={data.flags.changes}
        empty="No flag of this environment changed during the rollout."
      />

      <h2>Audit events</h2>
      <ErrorMessage error={events.error} title="Could not read the events" />
      <AuditEvents events={allEvents} />
    </>
  );
}
