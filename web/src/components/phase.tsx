/** A rollout phase as a badge; the colour repeats the word, it never replaces it. */
const KIND: Record<string, string> = { Healthy: 'ok', Progressing: 'info', Paused: 'warn', Pending: 'muted', Degraded: 'bad', RolledBack: 'bad', Aborted: 'bad' };

export function PhaseBadge({ phase, testId }: { phase: string; testId?: string }) {
  return (
    <span class={`badge ${KIND[phase] ?? 'muted'}`} data-testid={testId}>
      {phase}
    </span>
  );
}

export const isActivePhase = (phase: string) => phase === 'Pending' || phase === 'Progressing' || phase === 'Paused';
export const isFailedPhase = (phase: string) => phase === 'Degraded' || phase === 'RolledBack' || phase === 'Aborted';

export function formatTime(value: string | number | null | undefined): string {
  if (value === null || value === undefined) return '—';
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? String(value) : date.toLocaleString();
}

export function percent(weight: number): string {
  return `${Math.round(weight * 100) / 100}%`;
}
