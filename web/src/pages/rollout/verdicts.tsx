import type { ComponentChildren } from 'preact';
import { formatTime } from '../../components/phase';
import type { Measurement } from '../../types';

const VERDICT_KIND: Record<string, string> = { Successful: 'ok', Failed: 'bad', Inconclusive: 'warn', NoData: 'muted', Error: 'bad' };

function Verdict({ verdict }: { verdict: string }) {
  return <span class={`badge ${VERDICT_KIND[verdict] ?? 'muted'}`}>{verdict}</span>;
}

function isPlain(value: unknown): value is string | number | boolean | null {
  return value === null || ['string', 'number', 'boolean'].includes(typeof value);
}

function show(value: unknown): string {
  if (typeof value === 'number') return Number.isInteger(value) ? String(value) : value.toPrecision(4);
  if (isPlain(value)) return String(value);
  if (Array.isArray(value)) return `${value.length} values`;
  return JSON.stringify(value);
}

/** The numbers of an object (statistics, raw inputs) as `name value` pairs; nested ones stay in the JSON below. */
function Numbers({ values }: { values: Record<string, unknown> | null | undefined }): ComponentChildren {
  if (!values) return <span class="muted">—</span>;
  const entries = Object.entries(values).filter(([, value]) => isPlain(value) || Array.isArray(value));
  if (entries.length === 0) return <span class="muted">see JSON</span>;
  return (
    <dl class="pairs">
      {entries.slice(0, 8).map(([name, value]) => (
        <div key={name}>
          <dt>{name}</dt>
          <dd>{show(value)}</dd>
        </div>
      ))}
    </dl>
  );
}

/** Why it failed, first: the failing measurement with its statistic and the inputs behind it. */
export function FailureSummary({ phase, reason, measurements }: { phase: string; reason: string | null; measurements: Measurement[] }) {
  const failing = [...measurements].reverse().find((each) => each.verdict === 'Failed' || each.verdict === 'Error');
  return (
    <section class="why" aria-labelledby="why-heading">
      <h2 id="why-heading">Why it is {phase}</h2>
      <p>{reason ?? 'No reason was recorded.'}</p>
      {failing ? (
        <div>
          <p>
            The last failing measurement: <strong>{failing.template}</strong> #{failing.seq} at {formatTime(failing.takenAt)} <Verdict verdict={failing.verdict} />: {failing.reason}
          </p>
          <div class="row top">
            <div>
              <h3>Statistics</h3>
              <Numbers values={failing.statistics} />
            </div>
            <div>
              <h3>Candidate</h3>
              <Numbers values={failing.candidate} />
            </div>
            <div>
              <h3>Baseline</h3>
              <Numbers values={failing.baseline} />
            </div>
          </div>
        </div>
      ) : null}
    </section>
  );
}

export function Verdicts({ measurements }: { measurements: Measurement[] }) {
  if (measurements.length === 0) return <p class="muted">No analysis measurements yet.</p>;
  const newest = [...measurements].reverse();
  return (
    <div class="table-wrap">
      <table>
        <caption>Analysis measurements, newest first</caption>
        <thead>
          <tr>
            <th scope="col">Template</th>
            <th scope="col">Verdict</th>
            <th scope="col">Statistic</th>
            <th scope="col">Candidate</th>
            <th scope="col">Baseline</th>
            <th scope="col">Details</th>
          </tr>
        </thead>
        <tbody>
          {newest.map((each) => (
            <tr key={each.id}>
              <td>
                {each.template} <span class="muted">#{each.seq}</span>
                {each.critical ? <span class="badge bad">critical</span> : null}
                {each.dryRun ? <span class="badge muted">dry run</span> : null}
                <br />
                <span class="muted">{formatTime(each.takenAt)}</span>
              </td>
              <td>
                <Verdict verdict={each.verdict} />
                <br />
                {each.reason}
              </td>
              <td>
                <Numbers values={each.statistics} />
              </td>
              <td>
                <Numbers values={each.candidate} />
              </td>
              <td>
                <Numbers values={each.baseline} />
              </td>
              <td>
                <details>
                  <summary>JSON</summary>
                  <pre>{JSON.stringify(each, null, 2)}</pre>
                </details>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
