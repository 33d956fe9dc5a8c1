import { formatTime } from '../../components/phase';
import type { Overview } from '../../types';
import './overview.css';

// a window further away than this is not news on the overview (`promote freeze` lists it)
const SOON_MS = 24 * 3_600_000;

/**
 * An environment's freeze in words: "Frozen (weekend) until …" while deploys are held, "Freeze weekend
 * from …" when a window starts within a day, nothing otherwise. The badge colour repeats the words.
 */
export function FreezeBadge({ environment, freeze }: { environment: string; freeze: Overview['environments'][number]['freeze'] }) {
  if (!freeze) return null;
  if (freeze.frozen) {
    return (
      <p>
        <span class="badge warn freeze" data-testid={`freeze-${environment}`}>
          Frozen ({freeze.frozen.window}) until <time dateTime={freeze.frozen.until}>{formatTime(freeze.frozen.until)}</time>
        </span>
      </p>
    );
  }
  const next = freeze.next;
  if (!next || new Date(next.startsAt).getTime() - Date.now() > SOON_MS) return null;
  return (
    <p>
      <span class="badge info freeze" data-testid={`freeze-${environment}`}>
        Freeze {next.window} from <time dateTime={next.startsAt}>{formatTime(next.startsAt)}</time>
      </span>
    </p>
  );
}

/** The first instant after `now` at which some environment's badge changes, or undefined if none will. */
export function nextFreezeChange(environments: Overview['environments'], now: number): number | undefined {
  const instants = environments.flatMap(({ freeze }) => {
    const starts = freeze?.next ? new Date(freeze.next.startsAt).getTime() : undefined;
    return [freeze?.frozen ? new Date(freeze.frozen.until).getTime() : undefined, starts, starts === undefined ? undefined : starts - SOON_MS];
  });
  const future = instants.filter((instant): instant is number => instant !== undefined && instant > now);
  return future.length > 0 ? Math.min(...future) : undefined;
}
