/**
 * Freeze windows: calendars during which deploys to an environment wait or are refused (as GitLab's
 * deploy freezes: a cron start, a duration, a time zone; or fixed dates). Pure functions of the spec
 * and an instant, so the CLI, the API and the tests ask the same question the same way.
 */
import { cronMatchesDay, parseCron, type CronSchedule } from '../system/cron.js';
import { addDays, instantOf, offsetAt, parseZonedDate, wallTimeAt, weekdayOf } from '../system/zoned-time.js';

export interface FreezeWindowSpec {
  name: string;
  /** five-field cron of the window's starts, in the freeze's time zone */
  cron?: string;
  /** how long a cron window lasts, ms */
  duration?: number;
  /** a dated window: inclusive start, exclusive end (a date is midnight in the freeze's time zone) */
  from?: string;
  until?: string;
}

export interface FreezeSpec {
  mode: 'refuse' | 'wait';
  timezone: string;
  windows: FreezeWindowSpec[];
}

export interface FreezeMoment {
  window: string;
  startsAt: Date;
  endsAt: Date;
}

const DAY = 86_400_000;
// clocks move by at most a few hours at a transition: wall times further than this from the instant
// asked about cannot be the answer, and are skipped without converting them
const SLACK = 3 * 3_600_000;
// a cron that matches no day in this long (Feb 30) never starts; leap days recur within 8 years
const HORIZON_DAYS = 8 * 366;

const schedules = new Map<string, CronSchedule>();
function schedule(cron: string): CronSchedule {
  let found = schedules.get(cron);
  if (!found) {
    found = parseCron(cron);
    schedules.set(cron, found);
  }
  return found;
}

/** The window that freezes the environment at `at` (the one ending last if several do), or undefined. */
export function activeFreeze(freeze: FreezeSpec | undefined, at: Date): FreezeMoment | undefined {
  let found: FreezeMoment | undefined;
  for (const window of freeze?.windows ?? []) {
    const moment = activeWindow(window, freeze!.timezone, at.getTime());
    if (moment && (!found || moment.endsAt > found.endsAt)) found = moment;
  }
  return found;
}

/** The next window to start strictly after `at` (the earliest start), or undefined if none ever does. */
export function nextFreeze(freeze: FreezeSpec | undefined, at: Date): FreezeMoment | undefined {
  let found: FreezeMoment | undefined;
  for (const window of freeze?.windows ?? []) {
    const moment = nextWindow(window, freeze!.timezone, at.getTime());
    if (moment && (!found || moment.startsAt < found.startsAt)) found = moment;
  }
  return found;
}

/**
 * The freeze at `at` with its end pushed past windows that begin before it ends: deploys may go only
 * once no window holds them. `window` is the one freezing now. Chaining stops after a year or 2,000
 * windows (a calendar that dense is frozen for good in practice), so it always answers, and quickly:
 * a deploy and the API ask it.
 */
export function frozenUntil(freeze: FreezeSpec | undefined, at: Date): FreezeMoment | undefined {
  const now = activeFreeze(freeze, at);
  if (!now) return undefined;
  let end = now.endsAt;
  for (let hops = 0; hops < 2_000 && end.getTime() - at.getTime() < 366 * DAY; hops++) {
    const more = activeFreeze(freeze, end);
    if (!more || more.endsAt <= end) break;
    end = more.endsAt;
  }
  return { ...now, endsAt: end };
}

function activeWindow(window: FreezeWindowSpec, timeZone: string, at: number): FreezeMoment | undefined {
  if (window.cron !== undefined && window.duration !== undefined) {
    const start = latestCronStart(schedule(window.cron), timeZone, at, window.duration);
    if (start === undefined || start + window.duration <= at) return undefined;
    return { window: window.name, startsAt: new Date(start), endsAt: new Date(start + window.duration) };
  }
  const span = datedSpan(window, timeZone);
  if (!span || at < span.from || at >= span.until) return undefined;
  return { window: window.name, startsAt: new Date(span.from), endsAt: new Date(span.until) };
}

function nextWindow(window: FreezeWindowSpec, timeZone: string, at: number): FreezeMoment | undefined {
  if (window.cron !== undefined && window.duration !== undefined) {
    const start = nextCronStart(schedule(window.cron), timeZone, at);
    return start === undefined ? undefined : { window: window.name, startsAt: new Date(start), endsAt: new Date(start + window.duration) };
  }
  const span = datedSpan(window, timeZone);
  if (!span || span.from <= at) return undefined;
  return { window: window.name, startsAt: new Date(span.from), endsAt: new Date(span.until) };
}

function datedSpan(window: FreezeWindowSpec, timeZone: string): { from: number; until: number } | undefined {
  if (window.from === undefined || window.until === undefined) return undefined;
  const from = parseZonedDate(window.from, timeZone);
  const until = parseZonedDate(window.until, timeZone);
  return from === undefined || until === undefined ? undefined : { from, until };
}

/**
 * Converts a day's wall times to instants. Most days have one offset all day, checked once with two
 * look-ups, and then converting is arithmetic; a day with a clock change converts each time exactly.
 */
function dayConverter(date: { year: number; month: number; day: number }, timeZone: string): (hour: number, minute: number) => number {
  const midnight = Date.UTC(date.year, date.month - 1, date.day);
  const offset = offsetAt(midnight - 16 * 3_600_000, timeZone);
  if (offset === offsetAt(midnight + 40 * 3_600_000, timeZone)) return (hour, minute) => midnight + hour * 3_600_000 + minute * 60_000 - offset;
  return (hour, minute) => instantOf({ ...date, hour, minute }, timeZone);
}

const wallMs = (wall: { year: number; month: number; day: number; hour: number; minute: number }) => Date.UTC(wall.year, wall.month - 1, wall.day, wall.hour, wall.minute);

/**
 * The latest start at or before `at`, looking back only as far as a window of `duration` could
 * reach: the latest start is the one ending last, since every start of one window lasts as long.
 */
function latestCronStart(cron: CronSchedule, timeZone: string, at: number, duration: number): number | undefined {
  const atWall = wallMs(wallTimeAt(at, timeZone));
  const today = wallTimeAt(at, timeZone);
  const days = Math.ceil((duration + SLACK) / DAY) + 1;
  for (let back = -1; back <= days; back++) {
    const date = addDays(today, -back);
    if (!cronMatchesDay(cron, date.month, date.day, weekdayOf(date.year, date.month, date.day))) continue;
    const convert = dayConverter(date, timeZone);
    const midnight = Date.UTC(date.year, date.month - 1, date.day);
    for (let h = cron.hourList.length - 1; h >= 0; h--) {
      const hour = cron.hourList[h]!;
      if (midnight + hour * 3_600_000 > atWall + SLACK) continue;
      for (let m = cron.minuteList.length - 1; m >= 0; m--) {
        const minute = cron.minuteList[m]!;
        const wall = midnight + hour * 3_600_000 + minute * 60_000;
        if (wall > atWall + SLACK) continue;
        if (wall < atWall - duration - SLACK) return undefined;
        const instant = convert(hour, minute);
        if (instant <= at) return instant;
      }
    }
  }
  return undefined;
}

/** The earliest start strictly after `at`. */
function nextCronStart(cron: CronSchedule, timeZone: string, at: number): number | undefined {
  const atWall = wallMs(wallTimeAt(at, timeZone));
  const today = wallTimeAt(at, timeZone);
  for (let ahead = -1; ahead <= HORIZON_DAYS; ahead++) {
    const date = addDays(today, ahead);
    if (!cronMatchesDay(cron, date.month, date.day, weekdayOf(date.year, date.month, date.day))) continue;
    const convert = dayConverter(date, timeZone);
    const midnight = Date.UTC(date.year, date.month - 1, date.day);
    for (const hour of cron.hourList) {
      if (midnight + hour * 3_600_000 + 3_599_999 < atWall - SLACK) continue;
      for (const minute of cron.minuteList) {
        if (midnight + hour * 3_600_000 + minute * 60_000 < atWall - SLACK) continue;
        const instant = convert(hour, minute);
        if (instant > at) return instant;
      }
    }
  }
  return undefined;
}

/** "weekend until 2026-11-30T07:00Z": the instant in UTC, to the minute. */
export function formatInstant(instant: Date): string {
  return `${instant.toISOString().slice(0, 16)}Z`;
}

/** The words a frozen rollout waits with; decide() compares against it to know it is its own pause. */
export function frozenReason(window: string, until: number): string {
  return `frozen by ${window} until ${formatInstant(new Date(until))}`;
}

/** What `promote freeze`, `GET /api/environments/:environment/freeze` and the overview say about one environment. */
export interface FreezeState {
  environment: string;
  /** null: the environment has no freeze windows */
  mode: 'refuse' | 'wait' | null;
  timezone: string | null;
  /** the window freezing the environment now; `until` is when deploys may go again (touching windows chained) */
  frozen: { window: string; since: string; until: string } | null;
  /** the next window to begin once the environment is open (one starting inside the current freeze changes nothing for a deploy) */
  next: { window: string; startsAt: string; endsAt: string } | null;
}

/** One environment's freeze state at `at`: the single computation the CLI, the API and the dashboard share. */
export function freezeState(environment: { name: string; freeze?: FreezeSpec | undefined }, at: Date): FreezeState {
  const freeze = environment.freeze;
  const now = frozenUntil(freeze, at);
  // the next window to begin after this freeze is over: one starting inside it changes nothing for a deploy
  const next = nextFreeze(freeze, now ? new Date(now.endsAt.getTime() - 1) : at);
  return {
    environment: environment.name,
    mode: freeze?.mode ?? null,
    timezone: freeze?.timezone ?? null,
    frozen: now ? { window: now.window, since: now.startsAt.toISOString(), until: now.endsAt.toISOString() } : null,
    next: next ? { window: next.window, startsAt: next.startsAt.toISOString(), endsAt: next.endsAt.toISOString() } : null,
  };
}
