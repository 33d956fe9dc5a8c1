import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cronMatchesDay, CronError, parseCron } from '../system/cron.js';
import { instantOf, parseZonedDate, wallTimeAt } from '../system/zoned-time.js';
import { activeFreeze, frozenUntil, nextFreeze, type FreezeSpec } from './freeze.js';

const H = 3_600_000;
const at = (iso: string) => new Date(iso);
const iso = (moment: { startsAt: Date; endsAt: Date; window: string } | undefined) => moment && { window: moment.window, startsAt: moment.startsAt.toISOString(), endsAt: moment.endsAt.toISOString() };

const berlinWeekend: FreezeSpec = {
  mode: 'refuse',
  timezone: 'Europe/Berlin',
  windows: [
    { name: 'weekend', cron: '0 18 * * 5', duration: 62 * H },
    { name: 'year-end', from: '2026-12-20', until: '2027-01-04' },
  ],
};

describe('cron parsing', () => {
  it('reads lists, ranges, steps, names and Sunday as 7', () => {
    const cron = parseCron('*/15 9-17/4 1,15 jan-mar MON-fri,7');
    expect([...cron.minutes]).toEqual([0, 15, 30, 45]);
    expect([...cron.hours]).toEqual([9, 13, 17]);
    expect([...cron.daysOfMonth]).toEqual([1, 15]);
    expect([...cron.months]).toEqual([1, 2, 3]);
    expect([...cron.daysOfWeek].sort()).toEqual([0, 1, 2, 3, 4, 5]);
    expect(cron.eitherDay).toBe(true);
    expect([...parseCron('5/20 * * * *').minutes]).toEqual([5, 25, 45]);
  });

  it('matches either restricted day field (Vixie), both when one is *', () => {
    const either = parseCron('0 0 13 * fri');
    expect(cronMatchesDay(either, 3, 13, 2)).toBe(true); // the 13th, a Tuesday
    expect(cronMatchesDay(either, 3, 6, 5)).toBe(true); // a Friday, the 6th
    expect(cronMatchesDay(either, 3, 7, 6)).toBe(false);
    const weekdays = parseCron('0 0 * * 1-5');
    expect(cronMatchesDay(weekdays, 3, 7, 6)).toBe(false);
    expect(cronMatchesDay(weekdays, 3, 9, 1)).toBe(true);
  });

  it.each([
    ['0 18 * *', 'expected 5 fields (minute hour day-of-month month day-of-week), got 4'],
    ['', 'expected 5 fields (minute hour day-of-month month day-of-week), got 0'],
    ['60 * * * *', 'minute field "60": 60 is outside 0-59'],
    ['0 24 * * *', 'hour field "24": 24 is outside 0-23'],
    ['0 0 0 * *', 'day of month field "0": 0 is outside 1-31'],
    ['0 0 * 13 *', 'month field "13": 13 is outside 1-12'],
    ['0 0 * * 8', 'day of week field "8": 8 is outside 0-7'],
    ['0 0 * * fry', 'day of week field "fry": "fry" is not a number from 0 to 7 or a name (sun, mon, …)'],
    ['*/0 * * * *', 'minute field "*/0": step "0" must be a whole number from 1'],
    ['0 5-2 * * *', 'hour field "5-2": range 5-2 runs backwards'],
    ['0 1,,2 * * *', 'hour field "1,,2": "" is not a value, range or step'],
  ])('refuses %j: %s', (text, message) => {
    expect(() => parseCron(text)).toThrow(new CronError(message));
  });
});

describe('time zones', () => {
  it('turns wall times into instants across Berlin DST changes', () => {
    expect(new Date(instantOf({ year: 2026, month: 11, day: 27, hour: 18, minute: 0 }, 'Europe/Berlin')).toISOString()).toBe('2026-11-27T17:00:00.000Z');
    expect(new Date(instantOf({ year: 2026, month: 7, day: 3, hour: 18, minute: 0 }, 'Europe/Berlin')).toISOString()).toBe('2026-07-03T16:00:00.000Z');
    // 02:30 does not happen on 2026-03-29 (02:00 -> 03:00): an unchanged clock would show it at 03:30 CEST
    expect(new Date(instantOf({ year: 2026, month: 3, day: 29, hour: 2, minute: 30 }, 'Europe/Berlin')).toISOString()).toBe('2026-03-29T01:30:00.000Z');
    // 02:30 happens twice on 2026-10-25 (03:00 -> 02:00): the earlier one
    expect(new Date(instantOf({ year: 2026, month: 10, day: 25, hour: 2, minute: 30 }, 'Europe/Berlin')).toISOString()).toBe('2026-10-25T00:30:00.000Z');
    expect(wallTimeAt(Date.parse('2026-10-25T01:30:00Z'), 'Europe/Berlin')).toMatchObject({ hour: 2, minute: 30 });
  });

  it('reads dates in the zone unless they carry an offset, and refuses impossible ones', () => {
    expect(parseZonedDate('2026-12-20', 'Europe/Berlin')).toBe(Date.parse('2026-12-19T23:00:00Z'));
    expect(parseZonedDate('2026-12-20T08:30', 'America/New_York')).toBe(Date.parse('2026-12-20T13:30:00Z'));
    expect(parseZonedDate('2026-12-20T08:30:00+02:00', 'America/New_York')).toBe(Date.parse('2026-12-20T06:30:00Z'));
    expect(parseZonedDate('2026-02-30', 'UTC')).toBeUndefined();
    expect(parseZonedDate('next friday', 'UTC')).toBeUndefined();
  });
});

describe('freeze calendar vectors', () => {
  it('is frozen through the Berlin weekend and says when it ends', () => {
    expect(activeFreeze(berlinWeekend, at('2026-11-27T16:59:59Z'))).toBeUndefined();
    expect(iso(activeFreeze(berlinWeekend, at('2026-11-27T17:00:00Z')))).toEqual({ window: 'weekend', startsAt: '2026-11-27T17:00:00.000Z', endsAt: '2026-11-30T07:00:00.000Z' });
    expect(iso(activeFreeze(berlinWeekend, at('2026-11-30T06:59:59Z')))?.window).toBe('weekend');
    expect(activeFreeze(berlinWeekend, at('2026-11-30T07:00:00Z'))).toBeUndefined();
    expect(iso(nextFreeze(berlinWeekend, at('2026-11-30T07:00:00Z')))).toEqual({ window: 'weekend', startsAt: '2026-12-04T17:00:00.000Z', endsAt: '2026-12-07T07:00:00.000Z' });
  });

  it('follows the summer-time offset of the zone', () => {
    expect(iso(activeFreeze(berlinWeekend, at('2026-07-03T16:00:00Z')))?.startsAt).toBe('2026-07-03T16:00:00.000Z');
  });

  it('dated windows are inclusive from, exclusive until, midnight in the zone', () => {
    const yearEnd: FreezeSpec = { ...berlinWeekend, windows: [berlinWeekend.windows[1]!] };
    expect(activeFreeze(yearEnd, at('2026-12-19T22:59:59Z'))).toBeUndefined();
    expect(iso(activeFreeze(yearEnd, at('2026-12-19T23:00:00Z')))).toEqual({ window: 'year-end', startsAt: '2026-12-19T23:00:00.000Z', endsAt: '2027-01-03T23:00:00.000Z' });
    expect(activeFreeze(yearEnd, at('2027-01-03T23:00:00Z'))).toBeUndefined();
    // with the weekend too: Monday after the weekend is still year-end
    expect(iso(activeFreeze(berlinWeekend, at('2026-12-21T10:00:00Z')))?.window).toBe('year-end');
  });

  it('picks the window ending last, and chains windows that overlap or touch', () => {
    // 2027-01-01 is a Friday: the weekend window (to 2027-01-04T07:00Z) outlasts year-end (2027-01-03T23:00Z)
    expect(iso(activeFreeze(berlinWeekend, at('2027-01-02T12:00:00Z')))?.window).toBe('weekend');
    // on 2026-12-18 (Friday) the weekend runs until Monday 07:00Z, and year-end has begun by then
    expect(iso(frozenUntil(berlinWeekend, at('2026-12-18T18:00:00Z')))).toEqual({ window: 'weekend', startsAt: '2026-12-18T17:00:00.000Z', endsAt: '2027-01-04T07:00:00.000Z' });
    const touching: FreezeSpec = { mode: 'wait', timezone: 'UTC', windows: [{ name: 'a', from: '2026-01-01', until: '2026-01-02' }, { name: 'b', from: '2026-01-02', until: '2026-01-03' }] };
    expect(frozenUntil(touching, at('2026-01-01T12:00:00Z'))?.endsAt.toISOString()).toBe('2026-01-03T00:00:00.000Z');
  });

  it('a cron that never matches never freezes, and nothing crashes on it', () => {
    const never: FreezeSpec = { mode: 'refuse', timezone: 'UTC', windows: [{ name: 'never', cron: '0 0 30 2 *', duration: H }] };
    expect(activeFreeze(never, at('2026-03-01T00:30:00Z'))).toBeUndefined();
    expect(nextFreeze(never, at('2026-03-01T00:30:00Z'))).toBeUndefined();
    const leap: FreezeSpec = { mode: 'refuse', timezone: 'UTC', windows: [{ name: 'leap', cron: '0 0 29 2 *', duration: H }] };
    expect(nextFreeze(leap, at('2026-03-01T00:00:00Z'))?.startsAt.toISOString()).toBe('2028-02-29T00:00:00.000Z');
  });
});

// ---- properties -----------------------------------------------------------------------------------

const ZONES = ['UTC', 'Europe/Berlin', 'America/New_York', 'Australia/Lord_Howe', 'Asia/Kolkata', 'America/Santiago', 'Pacific/Chatham'];
const part = (min: number, max: number) =>
  fc.oneof(
    fc.constant('*'),
    fc.integer({ min, max }).map(String),
    fc.tuple(fc.integer({ min, max }), fc.integer({ min, max })).map(([a, b]) => `${Math.min(a, b)}-${Math.max(a, b)}`),
    fc.integer({ min: 1, max: Math.max(2, Math.floor((max - min) / 2)) }).map((step) => `*/${step}`),
    fc.array(fc.integer({ min, max }), { minLength: 1, maxLength: 3 }).map((list) => list.join(',')),
  );
const cronText = fc.tuple(part(0, 59), part(0, 23), part(1, 28), part(1, 12), part(0, 7)).map((fields) => fields.join(' '));
const instant = fc.integer({ min: Date.parse('2025-01-01T00:00:00Z'), max: Date.parse('2030-12-31T00:00:00Z') });
const freezeOf = (cron: string, duration: number, timezone: string): FreezeSpec => ({ mode: 'refuse', timezone, windows: [{ name: 'w', cron, duration }] });

describe('freeze calendar properties', () => {
  it('a moment inside [start, start + duration) of a window is frozen, and its end is after it', () => {
    fc.assert(
      fc.property(cronText, fc.integer({ min: 60_000, max: 80 * H }), fc.constantFrom(...ZONES), instant, fc.double({ min: 0, max: 0.999, noNaN: true }), (cron, duration, zone, from, fraction) => {
        const freeze = freezeOf(cron, duration, zone);
        const next = nextFreeze(freeze, new Date(from));
        if (!next) return;
        expect(next.startsAt.getTime()).toBeGreaterThan(from);
        const inside = new Date(next.startsAt.getTime() + Math.floor(fraction * duration));
        const active = activeFreeze(freeze, inside);
        expect(active, `${cron} ${zone} at ${inside.toISOString()}`).toBeDefined();
        expect(active!.endsAt.getTime()).toBeGreaterThan(inside.getTime());
        expect(active!.startsAt.getTime()).toBeLessThanOrEqual(inside.getTime());
        expect(active!.endsAt.getTime()).toBeGreaterThanOrEqual(next.endsAt.getTime());
      }),
      { seed: 1101, numRuns: 300 },
    );
  });

  it('agrees with a minute-by-minute scan of the wall clock (short windows)', () => {
    fc.assert(
      fc.property(cronText, fc.integer({ min: 1, max: 150 }), fc.constantFrom(...ZONES), instant, (cron, minutes, zone, moment) => {
        const schedule = parseCron(cron);
        const at = Math.floor(moment / 60_000) * 60_000;
        // the oracle: the latest minute in (at - duration, at] whose wall time matches the cron
        let expected: number | undefined;
        for (let minute = at; minute > at - minutes * 60_000; minute -= 60_000) {
          const wall = wallTimeAt(minute, zone);
          const weekday = new Date(Date.UTC(wall.year, wall.month - 1, wall.day)).getUTCDay();
          if (schedule.minutes.has(wall.minute) && schedule.hours.has(wall.hour) && cronMatchesDay(schedule, wall.month, wall.day, weekday)) {
            // in a repeated hour only the first occurrence of a wall time starts a window
            if (instantOf(wall, zone) !== minute) continue;
            expected = minute;
            break;
          }
        }
        const active = activeFreeze(freezeOf(cron, minutes * 60_000, zone), new Date(at));
        expect(active?.startsAt.getTime(), `${cron} ${zone} ${minutes}m at ${new Date(at).toISOString()}`).toBe(expected);
      }),
      { seed: 1102, numRuns: 300 },
    );
  });

  it('does not crash on DST change days, and every answer is consistent', () => {
    const transitions = ['2026-03-29T01:00:00Z', '2026-10-25T01:00:00Z', '2026-03-08T07:00:00Z', '2026-11-01T06:00:00Z', '2026-04-05T15:00:00Z', '2026-10-03T15:30:00Z', '2026-04-05T02:45:00Z'].map(Date.parse);
    fc.assert(
      fc.property(cronText, fc.integer({ min: 60_000, max: 30 * H }), fc.constantFrom(...ZONES), fc.constantFrom(...transitions), fc.integer({ min: -3 * H, max: 3 * H }), (cron, duration, zone, transition, shift) => {
        const moment = new Date(transition + shift);
        const freeze = freezeOf(cron, duration, zone);
        const active = frozenUntil(freeze, moment);
        if (active) expect(active.endsAt.getTime()).toBeGreaterThan(moment.getTime());
        const next = nextFreeze(freeze, moment);
        if (next) expect(next.startsAt.getTime()).toBeGreaterThan(moment.getTime());
      }),
      { seed: 1103, numRuns: 300 },
    );
  });
});
