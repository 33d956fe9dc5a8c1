import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import type { DeliveryReport, DurationSummary, Rate } from '../../../../src/report/types';
import { ErrorMessage } from '../../components/error-message';
import { Loading } from '../../components/loading';
import { Table } from '../../components/table';
import { href, type Params } from '../../router';
import { useApi } from '../../use-api';
import './report.css';

const PERIODS = [
  { value: '7d', label: 'last 7 days' },
  { value: '30d', label: 'last 30 days' },
  { value: '90d', label: 'last 90 days' },
] as const;

export function formatDuration(ms: number | null): string {
  if (ms === null) return 'no data';
  const seconds = ms / 1000;
  if (seconds < 60) return `${seconds < 10 ? seconds.toFixed(1) : Math.round(seconds)} s`;
  const minutes = seconds / 60;
  if (minutes < 60) return `${Math.floor(minutes)} min ${Math.round(seconds % 60)} s`;
  const hours = minutes / 60;
  if (hours < 48) return `${hours.toFixed(1)} h`;
  return `${(hours / 24).toFixed(1)} d`;
}

const percent = (rate: Rate) => (rate.value === null ? 'no data' : `${(rate.value * 100).toFixed(rate.value === 0 || rate.value === 1 ? 0 : 1)}%`);
const perWeek = (value: number | null) => (value === null ? 'no data' : `${value.toFixed(value >= 10 ? 0 : 1)} / week`);

/** One figure: its value ("no data" when nothing to compute it from), the counts behind it, and its definition on hover and focus. */
function Tile({ id, title, value, missing, counts, definition }: { id: string; title: string; value: string; missing: boolean; counts: ComponentChildren; definition: string }) {
  return (
    <article class="tile" tabIndex={0} aria-labelledby={`${id}-title`} aria-describedby={`${id}-definition`} data-testid={`tile-${id}`}>
      <h2 id={`${id}-title`}>{title}</h2>
      <p class={missing ? 'figure no-data' : 'figure'} data-testid={`figure-${id}`}>
        {value}
      </p>
      <p class="counts">{counts}</p>
      <p class="definition" id={`${id}-definition`} role="tooltip">
        {definition}
      </p>
    </article>
  );
}

function durationCounts(summary: DurationSummary, one: string, many: string): string {
  if (summary.count === 0) return `no ${many} in the period`;
  return `median of ${summary.count} ${summary.count === 1 ? one : many}; mean ${formatDuration(summary.meanMs)}, p90 ${formatDuration(summary.p90Ms)}, max ${formatDuration(summary.maxMs)}`;
}

function Tiles({ report }: { report: DeliveryReport }) {
  const { deploymentFrequency: deploys, leadTime, changeFailureRate: failures, rollbacks, recovery, migrations, integrity } = report;
  return (
    <div class="tiles">
      <Tile
        id="deployment-frequency"
        title="Deployment frequency"
        value={deploys.count === 0 ? 'no data' : perWeek(deploys.perWeek)}
        missing={deploys.count === 0}
        counts={`${deploys.count} production deployment${deploys.count === 1 ? '' : 's'} in ${report.days.toFixed(0)} days`}
        definition="Production rollouts of a new release that reached Healthy in the period (rollbacks excluded), per week of the period."
      />
      <Tile
        id="lead-time"
        title="Lead time for changes"
        value={formatDuration(leadTime.medianMs)}
        missing={leadTime.medianMs === null}
        counts={durationCounts(leadTime, 'production deployment', 'production deployments')}
        definition="From the release being recorded to its production rollout reaching Healthy, over the deployments counted in deployment frequency (median)."
      />
      <Tile
        id="change-failure-rate"
        title="Change failure rate"
        value={percent(failures)}
        missing={failures.value === null}
        counts={`${failures.numerator} failed of ${failures.denominator} finished production rollout${failures.denominator === 1 ? '' : 's'} (rolled back ${failures.rolledBack}, aborted ${failures.aborted}, degraded ${failures.degraded}, rolled back later ${failures.rolledBackLater})`}
        definition="Finished production rollouts of new releases that failed (ended RolledBack, Aborted, Degraded, or Healthy then undone by promote rollback) over all finished production rollouts."
      />
      <Tile
        id="mttd"
        title="Time to detect (MTTD)"
        value={formatDuration(recovery.mttd.medianMs)}
        missing={recovery.mttd.medianMs === null}
        counts={durationCounts(recovery.mttd, 'automatic rollback', 'automatic rollbacks')}
        definition="From a release first taking production traffic to Promote's decision to roll it back, over automatic rollbacks (median)."
      />
      <Tile
        id="mttr"
        title="Time to restore (MTTR)"
        value={formatDuration(recovery.mttr.medianMs)}
        missing={recovery.mttr.medianMs === null}
        counts={durationCounts(recovery.mttr, 'automatic rollback', 'automatic rollbacks')}
        definition="From the decision to roll back to traffic being back on the stable version, over automatic rollbacks (median)."
      />
      <Tile
        id="rollbacks"
        title="Rollbacks"
        value={String(rollbacks.count)}
        missing={false}
        counts={`automatic ${rollbacks.automatic}, abort ${rollbacks.abort}, manual ${rollbacks.manual}; succeeded ${percent(rollbacks.successRate)} (${rollbacks.successRate.numerator} of ${rollbacks.successRate.denominator}); unfinished ${rollbacks.unfinished}`}
        definition="Rollbacks started in the period in every environment: automatic (the engine decided), abort (a person aborted), manual (promote rollback). Success: traffic back on the stable version."
      />
      <Tile
        id="migrations"
        title="Migration success"
        value={percent(migrations)}
        missing={migrations.value === null}
        counts={`${migrations.numerator} of ${migrations.denominator} migrate steps succeeded (expand ${migrations.byPhase.expand.succeeded}/${migrations.byPhase.expand.succeeded + migrations.byPhase.expand.failed}, contract ${migrations.byPhase.contract.succeeded}/${migrations.byPhase.contract.succeeded + migrations.byPhase.contract.failed}, rollback ${migrations.byPhase.rollback.succeeded}/${migrations.byPhase.rollback.succeeded + migrations.byPhase.rollback.failed}); ${migrations.rolledBack} expand${migrations.rolledBack === 1 ? '' : 's'} rolled back later`}
        definition="Migrate steps (expand, contract, and the rollback of an expand) that finished in the period and succeeded, over all that finished."
      />
      <Tile
        id="integrity"
        title="Integrity"
        value={integrity.verifySteps === 0 && integrity.reconcileBatches === 0 ? 'no data' : `${integrity.checksFailed + integrity.reconcileDifferences} difference${integrity.checksFailed + integrity.reconcileDifferences === 1 ? '' : 's'}`}
        missing={integrity.verifySteps === 0 && integrity.reconcileBatches === 0}
        counts={`${integrity.verifySteps} verify step${integrity.verifySteps === 1 ? '' : 's'} (${integrity.verifyFailed} failed, ${integrity.checksFailed} checks failed); ${integrity.reconcileDifferences} differences repaired or flagged in ${integrity.reconcileBatches} reconcile batches`}
        definition={`Differences found by verify steps' integrity checks, and differences recorded by promote reconcile --repair. ${integrity.note}`}
      />
    </div>
  );
}

function Details({ report }: { report: DeliveryReport }) {
  return (
    <>
      <h2>Incidents caught in production</h2>
      <Table
        caption="Automatic rollbacks with their detection and recovery times"
        hideCaption
        empty="No automatic rollback in the period."
        rows={report.recovery.incidents}
        rowKey={(incident) => incident.rolloutId}
        columns={[
          { label: 'Rollout', cell: (incident) => <a href={href.rollout(incident.rolloutId)}>#{incident.rolloutId}</a> },
          { label: 'Version', cell: (incident) => `${incident.version} in ${incident.environment}` },
          { label: 'Detected after', cell: (incident) => formatDuration(incident.mttdMs), numeric: true },
          { label: 'Restored after', cell: (incident) => formatDuration(incident.mttrMs), numeric: true },
          { label: 'Evidence', cell: (incident) => incident.reason },
        ]}
      />
      <h2>Rollbacks</h2>
      <Table
        caption="Rollbacks started in the period"
        hideCaption
        empty="No rollback in the period."
        rows={report.rollbacks.records}
        rowKey={(record) => `${record.kind}-${record.rolloutId}`}
        columns={[
          { label: 'When', cell: (record) => new Date(record.at).toLocaleString() },
          { label: 'Kind', cell: (record) => record.kind },
          { label: 'Rollout', cell: (record) => <a href={href.rollout(record.rolloutId)}>#{record.rolloutId}</a> },
          { label: 'Version', cell: (record) => `${record.version} in ${record.environment}` },
          { label: 'Result', cell: (record) => record.result },
          { label: 'Reason', cell: (record) => record.reason },
        ]}
      />
    </>
  );
}

export function ReportPage(_props: { params: Params }) {
  const [since, setSince] = useState<string>('30d');
  const report = useApi<DeliveryReport>(`/api/report?since=${since}`);
  const shown = report.data;
  return (
    <>
      <h1>Delivery report</h1>
      <div class="row toolbar">
        <label>
          Period{' '}
          <select value={since} onChange={(event) => setSince(event.currentTarget.value)}>
            {PERIODS.map((period) => (
              <option key={period.value} value={period.value}>
                {period.label}
              </option>
            ))}
          </select>
        </label>
        <button type="button" onClick={report.reload}>
          Refresh
        </button>
      </div>
      <ErrorMessage error={report.error} title="Could not compute the delivery report" />
      {report.loading && !shown ? <Loading what="the report" /> : null}
      {shown ? (
        <>
          <p class="muted">
            {shown.app ?? 'Every app'}, {new Date(shown.since).toLocaleString()} to {new Date(shown.until).toLocaleString()}; production: {shown.production.length > 0 ? shown.production.join(', ') : 'none'}.
            {report.loading ? ' Updating…' : ''} Hover over or focus a figure for its definition.
          </p>
          <Tiles report={shown} />
          <Details report={shown} />
        </>
      ) : null}
    </>
  );
}
