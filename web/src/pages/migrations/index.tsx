import { useState } from 'preact/hooks';
import { BackfillProgress } from '../../components/backfill';
import { EnvironmentPicker } from '../../components/environment-picker';
import { ErrorMessage } from '../../components/error-message';
import { Loading } from '../../components/loading';
import { environmentsOf, useMe } from '../../me';
import { href, type Params } from '../../router';
import { useApi } from '../../use-api';
import './migrations.css';

/** GET /api/environments/:env/migrations (src/server/migrations.ts, migrations-view.ts). */
type ReleaseMatch = 'match' | 'mismatch' | 'not in release' | 'unknown';
interface Member {
  name: string;
  checksum: string;
  match: ReleaseMatch;
  matchDetail: string;
  releaseFile: string | null;
  releaseFileSha256: string | null;
}
export interface MigrationRow {
  id: number;
  name: string;
  state: 'in flight' | 'expanded' | 'completed' | 'rolled back' | 'undo window open';
  phase: string;
  inFlight: boolean;
  checksum: string;
  versionSchema: string;
  backfilled: boolean;
  startedAt: string;
  completedAt: string | null;
  rolledBackAt: string | null;
  undoUntil: string | null;
  error: string | null;
  members: Member[];
  rollout: { id: number; version: string | null; createdBy: string | null } | null;
  release: { version: string; source: 'rollout' | 'environment' } | null;
}
interface History {
  environment: string;
  schema: string;
  migrations: MigrationRow[];
  chain: { ok: boolean; runs: number; brokenAt?: string; reason?: string };
}

const time = (iso: string | null) => (iso === null ? '' : new Date(iso).toLocaleString());

const BADGE: Record<MigrationRow['state'], string> = { 'in flight': 'info', expanded: 'warn', completed: 'ok', 'rolled back': 'bad', 'undo window open': 'warn' };
const MATCH_TEXT: Record<ReleaseMatch, { mark: string; text: string; badge: string }> = {
  match: { mark: '✓', text: 'matches', badge: 'ok' },
  mismatch: { mark: '✗', text: 'differs from', badge: 'bad' },
  'not in release': { mark: '–', text: 'not in', badge: 'warn' },
  unknown: { mark: '?', text: 'cannot compare with', badge: 'muted' },
};

/** The checksum shortened, the full one in its title and a button that copies it. */
function Checksum({ value, of }: { value: string; of: string }) {
  const [copied, setCopied] = useState<'yes' | 'no' | undefined>(undefined);
  const copy = () =>
    navigator.clipboard?.writeText(value).then(
      () => setCopied('yes'),
      () => setCopied('no'),
    ) ?? setCopied('no');
  return (
    <span class="checksum">
      <code title={value}>{value.slice(0, 12)}</code>{' '}
      <button type="button" class="small" onClick={() => void copy()} aria-label={`Copy the checksum of ${of}`}>
        Copy
      </button>
      <span role="status" class="muted">
        {copied === 'yes' ? ' copied' : copied === 'no' ? ` copy refused: select ${value}` : ''}
      </span>
    </span>
  );
}

function Match({ row }: { row: MigrationRow }) {
  return (
    <ul class="plain">
      {row.members.map((member) => {
        const shown = MATCH_TEXT[member.match];
        const release = row.release ? `release ${row.release.version}` : 'a release';
        return (
          <li key={member.name}>
            <span class={`badge ${shown.badge}`}>
              <span aria-hidden="true">{shown.mark} </span>
              {shown.text} {release}
            </span>
            {row.members.length > 1 ? <span> ({member.name})</span> : null}
            <div class="muted detail">{member.matchDetail}</div>
          </li>
        );
      })}
    </ul>
  );
}

function HistoryTable({ history }: { history: History }) {
  if (history.migrations.length === 0) return <p class="empty">No migration has run on schema {history.schema} in {history.environment}.</p>;
  // newest first: the one in flight, if any, is at the top
  const rows = [...history.migrations].reverse();
  return (
    <div class="table-wrap">
      <table class="migrations">
        <caption>Migrations of schema {history.schema} in {history.environment}, newest first</caption>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Phase</th>
            <th scope="col">Checksum</th>
            <th scope="col">Release</th>
            <th scope="col">Started</th>
            <th scope="col">Ended</th>
            <th scope="col">Applied by</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((row) => (
            <tr key={row.id} class={row.inFlight ? 'in-flight' : undefined} data-testid={row.inFlight ? 'migration-in-flight' : undefined}>
              <th scope="row">
                {row.name}
                {row.inFlight ? <span class="badge info in-flight-mark">current</span> : null}
                <div class="muted detail">version schema {row.versionSchema}</div>
              </th>
              <td>
                <span class={`badge ${BADGE[row.state]}`}>{row.state}</span>
                {row.state === 'in flight' && row.phase === 'started' && !row.backfilled ? <div class="muted detail">backfilling</div> : null}
                {row.undoUntil && row.state === 'undo window open' ? <div class="muted detail">undo until {time(row.undoUntil)}</div> : null}
                {row.error ? <div class="detail">{row.error}</div> : null}
              </td>
              <td>
                <Checksum value={row.checksum} of={row.name} />
              </td>
              <td>
                <Match row={row} />
              </td>
              <td>{time(row.startedAt)}</td>
              <td>{row.completedAt ? `completed ${time(row.completedAt)}` : row.rolledBackAt ? `rolled back ${time(row.rolledBackAt)}` : ''}</td>
              <td>
                {row.rollout ? (
                  <a href={href.rollout(row.rollout.id)}>
                    rollout #{row.rollout.id}
                    {row.rollout.version ? ` (${row.rollout.version})` : ''}
                  </a>
                ) : (
                  <span class="muted">outside a rollout (promote migrate)</span>
                )}
                {row.rollout?.createdBy ? <div class="muted detail">started by {row.rollout.createdBy}</div> : null}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function MigrationsPage({ params }: { params: Params }) {
  const { me } = useMe();
  const environment = params.environment ?? environmentsOf(me)[0];
  const history = useApi<History>(environment ? `/api/environments/${encodeURIComponent(environment)}/migrations` : undefined);
  return (
    <>
      <h1>Migrations{environment ? ` in ${environment}` : ''}</h1>
      <div class="row toolbar">
        <EnvironmentPicker current={environment} to={href.migrations} />
        <button type="button" onClick={history.reload} disabled={environment === undefined}>
          Refresh
        </button>
      </div>
      {environment === undefined ? <Loading what="environments" /> : null}
      {environment ? <BackfillProgress environment={environment} /> : null}
      {environment ? <h2>History</h2> : null}
      <ErrorMessage error={history.error} title={`Could not read the migrations of ${environment ?? 'the environment'}`} />
      {history.loading && !history.data ? <Loading what="the migration history" /> : null}
      {history.data && history.data.environment === environment ? (
        <>
          <p>
            {history.data.chain.ok ? (
              <span>
                <span aria-hidden="true">✓ </span>History chain of {history.data.chain.runs} run(s) intact.
              </span>
            ) : (
              <span class="badge bad">
                <span aria-hidden="true">✗ </span>History chain broken at {history.data.chain.brokenAt}: {history.data.chain.reason}
              </span>
            )}
          </p>
          <HistoryTable history={history.data} />
        </>
      ) : null}
    </>
  );
}
