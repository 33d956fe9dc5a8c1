/**
 * Wall-clock time in an IANA time zone, through Intl.DateTimeFormat (no time-zone database of our
 * own). A wall time is the fields a clock on the wall shows; an instant is ms since the epoch.
 */

export interface WallTime {
  year: number;
  /** 1-12 */
  month: number;
  day: number;
  hour: number;
  minute: number;
  second?: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let found = formatters.get(timeZone);
  if (!found) {
    found = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' });
    formatters.set(timeZone, found);
  }
  return found;
}

/** Whether the runtime knows this IANA zone name. */
export function isTimeZone(name: string): boolean {
  if (name.length === 0 || name.length > 64) return false;
  try {
    formatter(name);
    return true;
  } catch {
    return false;
  }
}

/** The wall time an instant shows in a zone. */
export function wallTimeAt(instant: number, timeZone: string): Required<WallTime> {
  const parts: Record<string, number> = {};
  for (const part of formatter(timeZone).formatToParts(instant)) if (part.type !== 'literal') parts[part.type] = Number(part.value);
  return { year: parts.year!, month: parts.month!, day: parts.day!, hour: parts.hour! % 24, minute: parts.minute!, second: parts.second! };
}

/** How far the zone's clocks are ahead of UTC at an instant, in ms. */
export function offsetAt(instant: number, timeZone: string): number {
  const wall = wallTimeAt(instant, timeZone);
  const asUtc = Date.UTC(wall.year, wall.month - 1, wall.day, wall.hour, wall.minute, wall.second);
  return asUtc - (instant - (((instant % 1000) + 1000) % 1000));
}

/**
 * The instant a wall time happens in a zone. A wall time that happens twice (clocks going back) gives
 * the earlier; one that never happens (clocks going forward) gives the instant the same distance
 * past the jump, as a clock that was not changed would show it.
 */
export function instantOf(wall: WallTime, timeZone: string): number {
  const asUtc = Date.UTC(wall.year, wall.month - 1, wall.day, wall.hour, wall.minute, wall.second ?? 0);
  const before = asUtc - offsetAt(asUtc - 86_400_000 / 2, timeZone);
  const first = asUtc - offsetAt(asUtc, timeZone);
  // try the offsets on both sides of a possible transition; the earliest that shows this wall time wins
  for (const candidate of [Math.min(before, first), Math.max(before, first)]) {
    if (asUtc - offsetAt(candidate, timeZone) === candidate) return candidate;
  }
  return before;
}

/** Day of the week of a calendar date, 0 = Sunday. */
export function weekdayOf(year: number, month: number, day: number): number {
  return new Date(Date.UTC(year, month - 1, day)).getUTCDay();
}

/** The calendar date `days` after (or before) a date. */
export function addDays(date: { year: number; month: number; day: number }, days: number): { year: number; month: number; day: number } {
  const moved = new Date(Date.UTC(date.year, date.month - 1, date.day + days));
  return { year: moved.getUTCFullYear(), month: moved.getUTCMonth() + 1, day: moved.getUTCDate() };
}

const LOCAL_DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2}))?)?$/;

/**
 * The instant of a date or date-time written in promote.yaml: with an offset or Z it is absolute;
 * without one (2026-12-20, 2026-12-20T08:00) it is wall time in the given zone. Undefined when the
 * text is not such a date.
 */
export function parseZonedDate(text: string, timeZone: string): number | undefined {
  const local = LOCAL_DATE_TIME.exec(text);
  if (local) {
    const [year, month, day, hour, minute, second] = local.slice(1).map((part) => (part === undefined ? 0 : Number(part))) as [number, number, number, number, number, number];
    const check = new Date(Date.UTC(year, month - 1, day));
    if (check.getUTCMonth() !== month - 1 || check.getUTCDate() !== day || hour > 23 || minute > 59 || second > 59) return undefined;
    return instantOf({ year, month, day, hour, minute, second }, timeZone);
  }
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/i.test(text)) return undefined;
  const instant = Date.parse(text);
  return Number.isNaN(instant) ? undefined : instant;
}
