import { formatTime } from '../../components/phase';
import type { AuditEvent, StepView } from '../../types';

const STATE_TEXT: Record<StepView['state'], string> = { done: 'done', current: 'current', failed: 'failed here', pending: 'pending', skipped: 'not run' };
const STATE_KIND: Record<StepView['state'], string> = { done: 'ok', current: 'info', failed: 'bad', pending: 'muted', skipped: 'muted' };

export function StepTimeline({ steps }: { steps: StepView[] }) {
  if (steps.length === 0) return <p class="muted">This rollout has no plan recorded.</p>;
  return (
    <ol class="timeline" data-testid="step-timeline">
      {steps.map((step) => (
        <li key={step.index} class={`step ${step.state}`} aria-current={step.state === 'current' ? 'step' : undefined} data-state={step.state}>
          <span class="step-number">{step.index + 1}</span> <span class="step-label">{step.label}</span> <span class={`badge ${STATE_KIND[step.state]}`}>{STATE_TEXT[step.state]}</span>
          {step.startedAt || step.finishedAt ? (
            <span class="muted">
              {' '}
              {step.startedAt ? `started ${formatTime(step.startedAt)}` : ''}
              {step.finishedAt ? `, finished ${formatTime(step.finishedAt)}` : ''}
            </span>
          ) : null}
        </li>
      ))}
    </ol>
  );
}

function summary(event: AuditEvent): string {
  const data = event.data;
  if (typeof data.reason === 'string') return data.reason;
  if (typeof data.label === 'string') return data.label;
  if (typeof data.summary === 'string') return data.summary;
  // action.started carries the action itself: say what it is about to do
  const action = data.action as { kind?: unknown; id?: unknown } | undefined;
  if (action !== null && typeof action === 'object' && typeof action.kind === 'string') return `starting ${action.kind}${typeof action.id === 'string' ? ` (${action.id})` : ''}`;
  const plain = Object.entries(data).filter(([, value]) => ['string', 'number', 'boolean'].includes(typeof value));
  return plain.map(([name, value]) => `${name} ${String(value)}`).join(', ');
}

export function AuditEvents({ events }: { events: AuditEvent[] }) {
  if (events.length === 0) return <p class="muted">No events yet.</p>;
  return (
    <div class="table-wrap">
      <table aria-live="polite">
        <caption>Audit events, newest first</caption>
        <thead>
          <tr>
            <th scope="col">Time</th>
            <th scope="col">Event</th>
            <th scope="col">Actor</th>
            <th scope="col">What</th>
          </tr>
        </thead>
        <tbody>
          {events.map((event) => (
            <tr key={event.seq}>
              <td>{formatTime(event.createdAt)}</td>
              <td>
                <code>{event.type}</code>
              </td>
              <td>{event.actor}</td>
              <td>
                {summary(event)}
                <details>
                  <summary>data</summary>
                  <pre>{JSON.stringify(event.data, null, 2)}</pre>
                </details>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
