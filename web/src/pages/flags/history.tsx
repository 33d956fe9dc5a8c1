import { useEffect, useRef } from 'preact/hooks';
import { ErrorMessage } from '../../components/error-message';
import { Loading } from '../../components/loading';
import { useApi } from '../../use-api';
import { jsonLines, lineDiff } from './diff';

/** GET .../flags/:name/history (src/flags/store-changes.ts FlagChange), newest first. */
interface FlagChange {
  id: number;
  action: string;
  actor: string;
  reason: string | null;
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
  diff: string[];
  version: number | null;
  scheduleId: number | null;
  createdAt: string;
}

const MARK = { same: ' ', added: '+', removed: '-' } as const;
const SAID = { same: 'unchanged', added: 'added', removed: 'removed' } as const;

/** Before and after as one block of lines, each added or removed line marked with + or - as well as colour. */
function Diff({ change }: { change: FlagChange }) {
  const lines = lineDiff(jsonLines(change.before), jsonLines(change.after));
  const added = lines.filter((line) => line.kind === 'added').length;
  const removed = lines.filter((line) => line.kind === 'removed').length;
  return (
    <>
      <p class="muted detail">
        {added} line{added === 1 ? '' : 's'} added (+), {removed} removed (-){change.diff.length > 0 ? `; changed: ${change.diff.join(', ')}` : ''}
      </p>
      <pre class="diff" aria-label={`Definition of the flag before and after change ${change.id}: lines starting with + were added, with - removed`}>
        {lines.map((line, index) => (
          <span key={index} class={`diff-${line.kind}`} title={SAID[line.kind]}>
            {MARK[line.kind]} {line.text}
          </span>
        ))}
      </pre>
    </>
  );
}

export function FlagHistory({ app, environment, flag, refresh }: { app: string; environment: string; flag: string; refresh: number }) {
  const history = useApi<FlagChange[]>(`/api/apps/${encodeURIComponent(app)}/environments/${encodeURIComponent(environment)}/flags/${encodeURIComponent(flag)}/history?limit=50`);
  const { reload } = history;
  // a change of the flag (here or elsewhere: `refresh` moves) reloads the history; the first load is useApi's
  const shown = useRef(refresh);
  useEffect(() => {
    if (shown.current === refresh) return;
    shown.current = refresh;
    reload();
  }, [refresh, reload]);
  return (
    <section aria-label={`History of ${flag}`} class="flag-history">
      <ErrorMessage error={history.error} title={`Could not read the history of ${flag}`} />
      {history.loading && !history.data ? <Loading what={`the history of ${flag}`} /> : null}
      {history.data && history.data.length === 0 ? <p class="empty">No recorded change.</p> : null}
      <ol class="changes">
        {history.data?.map((change) => (
          <li key={change.id}>
            <p>
              <strong>{change.action}</strong> by {change.actor}, {new Date(change.createdAt).toLocaleString()}
              {change.version !== null ? ` (version ${change.version})` : ''}
              {change.scheduleId !== null ? `, by schedule #${change.scheduleId}` : ''}
            </p>
            <p>{change.reason ? <>Reason: {change.reason}</> : <span class="muted">No reason given.</span>}</p>
            <Diff change={change} />
          </li>
        ))}
      </ol>
    </section>
  );
}
