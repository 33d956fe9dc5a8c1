import { useEffect, useState } from 'preact/hooks';
import { api } from '../api';
import { ErrorMessage } from './error-message';
import './backfill.css';

/** GET /api/environments/:env/backfill (src/server/migrations.ts). */
export interface BackfillTable {
  table: string;
  phase: 'pending' | 'keyset' | 'sweep' | 'done';
  rowsDone: number;
  rowsTotal: number;
  rowsPerSecond: number | null;
  rateBasis: 'interval' | 'average' | null;
  etaSeconds: number | null;
  batches: number;
  startedAt: string | null;
  updatedAt: string | null;
  /** seconds since the table's last committed batch */
  idleSeconds: number | null;
}

export interface Backfill {
  environment: string;
  /** false: none runs (migration, runPhase and startedAt are null, tables empty) */
  inFlight: boolean;
  migration: string | null;
  schema: string;
  runPhase: string | null;
  startedAt: string | null;
  rowsTotalSource: string;
  tables: BackfillTable[];
}

/** A table whose last batch is older than this is shown as stalled, its ETA unknown. */
const STALLED_AFTER_S = 30;

/** Polled every 2 s while a backfill runs; less often while none does, so one that starts shows up. */
const IN_FLIGHT_POLL_MS = 2_000;
const IDLE_POLL_MS = 10_000;

const count = new Intl.NumberFormat('en');

export function formatEta(seconds: number | null): string {
  if (seconds === null) return 'unknown';
  if (seconds < 1) return 'under a second';
  const whole = Math.ceil(seconds);
  const hours = Math.floor(whole / 3600);
  const minutes = Math.floor((whole % 3600) / 60);
  const rest = whole % 60;
  return hours > 0 ? `${hours} h ${minutes} min` : minutes > 0 ? `${minutes} min ${rest} s` : `${rest} s`;
}

function TableProgress({ environment, table }: { environment: string; table: BackfillTable }) {
  const id = `backfill-${environment}-${table.table}`;
  const share = table.rowsTotal > 0 ? Math.min(1, table.rowsDone / table.rowsTotal) : table.phase === 'done' ? 1 : 0;
  const percent = Math.round(share * 100);
  const stalled = table.phase !== 'done' && table.phase !== 'pending' && table.idleSeconds !== null && table.idleSeconds > STALLED_AFTER_S;
  const state = table.phase === 'pending' ? 'not started' : table.phase === 'done' ? 'done' : stalled ? `stalled: no batch for ${formatEta(table.idleSeconds)}` : table.phase === 'sweep' ? 'sweeping pages' : 'in progress';
  const rate = stalled ? 'no rate while stalled' : table.rowsPerSecond === null ? 'rate unknown' : `${count.format(Math.round(table.rowsPerSecond))} rows/s${table.rateBasis === 'average' ? ' (average so far)' : ''}`;
  const eta = table.phase === 'done' ? 'done' : stalled ? 'unknown' : formatEta(table.etaSeconds);
  return (
    <li class="backfill-table">
      <label for={id} class="block">
        <span>
          <strong>{table.table}</strong>: {percent}% ({state})
        </span>
        <progress id={id} max={100} value={percent} />
      </label>
      <p class="muted backfill-figures">
        {count.format(table.rowsDone)} of ~{count.format(table.rowsTotal)} rows · {rate} · ETA {eta}
      </p>
    </li>
  );
}

/**
 * The in-flight backfill of an environment's app database: a progress bar per table with rows done
 * and total (an estimate), rows/s and ETA. Shows nothing but a short note while no backfill runs.
 */
export function BackfillProgress({ environment, headingLevel = 2 }: { environment: string; headingLevel?: 2 | 3 }) {
  const [backfill, setBackfill] = useState<Backfill | null | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  useEffect(() => {
    const controller = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    setBackfill(undefined);
    setError(undefined);
    const poll = async () => {
      let next = IDLE_POLL_MS;
      try {
        const found = await api<Backfill>(`/api/environments/${encodeURIComponent(environment)}/backfill`, { signal: controller.signal });
        setBackfill(found.inFlight ? found : null);
        setError(undefined);
        if (found.inFlight) next = IN_FLIGHT_POLL_MS;
      } catch (problem) {
        if (controller.signal.aborted) return;
        setError(problem);
      }
      if (!controller.signal.aborted) timer = setTimeout(() => void poll(), next);
    };
    void poll();
    return () => {
      controller.abort();
      if (timer !== undefined) clearTimeout(timer);
    };
  }, [environment]);
  const Heading = headingLevel === 2 ? 'h2' : 'h3';
  return (
    <section class="backfill" aria-labelledby={`backfill-heading-${environment}`} data-testid="backfill-progress">
      <Heading id={`backfill-heading-${environment}`}>Backfill</Heading>
      <ErrorMessage error={error} title={`Could not read the backfill of ${environment}`} />
      {backfill === undefined && error === undefined ? <p class="loading" role="status">Reading the backfill…</p> : null}
      {backfill === null ? <p class="empty">No backfill in flight in {environment}.</p> : null}
      {backfill ? (
        <>
          <p>
            Migration <code>{backfill.migration}</code> on schema <code>{backfill.schema}</code>
            {backfill.startedAt ? `, started ${new Date(backfill.startedAt).toLocaleString()}` : ''}. Row totals are estimates ({backfill.rowsTotalSource}).
          </p>
          <ul class="backfill-tables">
            {backfill.tables.map((table) => (
              <TableProgress key={table.table} environment={environment} table={table} />
            ))}
          </ul>
        </>
      ) : null}
    </section>
  );
}
