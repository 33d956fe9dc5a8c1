/**
 * Freeze windows of an environment: calendars during which deploys there wait or are refused unless
 * an admin overrides with a recorded reason. The calendar itself is src/engine/freeze.ts.
 */
import { z } from 'zod';
import { CronError, parseCron } from '../system/cron.js';
import { isTimeZone, parseZonedDate } from '../system/zoned-time.js';
import { durationSchema } from './duration.js';
import { exactlyOneOf, exactlyOneOfJsonSchema, expectations, nameSchema } from './schema-meta.js';

const cronSchema = z
  .string()
  .superRefine((text, ctx) => {
    try {
      parseCron(text);
    } catch (error) {
      if (!(error instanceof CronError)) throw error;
      ctx.addIssue({ code: 'custom', message: `bad cron "${text.slice(0, 60)}": ${error.message}` });
    }
  })
  .register(expectations, { expected: 'a 5-field cron (minute hour day-of-month month day-of-week), like "0 18 * * 5"' });

const dateText = 'a date or date-time like 2026-12-20, 2026-12-20T08:00 (in the freeze time zone) or 2026-12-20T08:00:00Z';

// Promote's YAML loader reads an unquoted 2026-12-20 as text, so dates stay as written
const dateSchema = z
  .string()
  .superRefine((text, ctx) => {
    if (parseZonedDate(text, 'UTC') === undefined) ctx.addIssue({ code: 'custom', message: `expected ${dateText}, got "${text.slice(0, 40)}"` });
  })
  .register(expectations, { expected: dateText });

const windowSchema = z
  .strictObject({
    name: nameSchema.describe('Window name, shown when it blocks a deploy (e.g. weekend, year-end).'),
    cron: cronSchema.optional().describe('When the window starts, as a 5-field cron in the freeze time zone; needs `duration`.'),
    duration: durationSchema.optional().describe('How long a cron window lasts from each start, e.g. 62h.'),
    from: dateSchema.optional().describe('Start of a dated window (inclusive); a date alone is midnight in the freeze time zone.'),
    until: dateSchema.optional().describe('End of a dated window (exclusive).'),
  })
  .superRefine(exactlyOneOf(['cron', 'from'], 'a freeze window'))
  .superRefine((window, ctx) => {
    if (window.cron !== undefined && window.duration === undefined) ctx.addIssue({ code: 'custom', path: ['duration'], message: 'a cron window needs `duration`: how long it lasts from each start, e.g. 62h' });
    if (window.cron !== undefined && window.duration === 0) ctx.addIssue({ code: 'custom', path: ['duration'], message: 'a freeze window must last longer than 0s' });
    if (window.cron === undefined && window.duration !== undefined) ctx.addIssue({ code: 'custom', path: ['duration'], message: '`duration` belongs to a cron window; a dated window ends at `until`' });
    if (window.cron !== undefined && (window.from !== undefined || window.until !== undefined)) return;
    // both in the zone or both with an offset: their order does not depend on the zone, so it is said
    // here, where the other problems of the file are said too (the zone's own check runs only when all fields parse)
    if (window.from !== undefined && window.until !== undefined && hasOffset(window.from) === hasOffset(window.until)) untilAfterFrom(window, 'UTC', ctx, ['until']);
    if (window.from !== undefined && window.until === undefined) ctx.addIssue({ code: 'custom', path: ['until'], message: 'a dated window needs `until` (exclusive end)' });
    if (window.from === undefined && window.until !== undefined && window.cron === undefined) ctx.addIssue({ code: 'custom', path: ['from'], message: 'a dated window needs `from` (inclusive start)' });
  })
  .meta(exactlyOneOfJsonSchema(['cron', 'from']))
  .describe('One freeze window: a cron start with a duration, or dates from..until.');

export const freezeSchema = z
  .strictObject({
    mode: z.enum(['refuse', 'wait']).default('refuse').describe('refuse: a deploy during a window fails (HTTP 423); wait: the rollout is created and holds before its first step until the window ends.'),
    timezone: z
      .string()
      .default('UTC')
      .superRefine((zone, ctx) => {
        if (!isTimeZone(zone)) ctx.addIssue({ code: 'custom', message: `unknown time zone "${zone.slice(0, 64)}"; expected an IANA name like Europe/Berlin or UTC` });
      })
      .register(expectations, { expected: 'an IANA time zone like Europe/Berlin or UTC' })
      .describe('IANA time zone of the cron expressions and of dates without an offset.'),
    windows: z.array(windowSchema).min(1).describe('The windows; a deploy is frozen while any of them is.'),
  })
  .superRefine((freeze, ctx) => {
    const seen = new Map<string, number>();
    freeze.windows.forEach((window, index) => {
      const first = seen.get(window.name);
      if (first !== undefined) ctx.addIssue({ code: 'custom', path: ['windows', index, 'name'], message: `window name "${window.name}" is already used by windows[${first}]; each window needs its own name` });
      else seen.set(window.name, index);
      if (window.from === undefined || window.until === undefined || hasOffset(window.from) === hasOffset(window.until)) return;
      untilAfterFrom(window, freeze.timezone, ctx, ['windows', index, 'until']);
    });
  })
  .describe('Freeze windows: while one is active, deploys to this environment wait or are refused, unless an admin overrides with a recorded reason.');

const hasOffset = (text: string) => /(Z|[+-]\d{2}:\d{2})$/i.test(text);

function untilAfterFrom(window: { from?: string; until?: string }, timeZone: string, ctx: z.RefinementCtx, path: (string | number)[]): void {
  const from = parseZonedDate(window.from ?? '', timeZone);
  const until = parseZonedDate(window.until ?? '', timeZone);
  if (from !== undefined && until !== undefined && until <= from) ctx.addIssue({ code: 'custom', path, message: `until (${window.until}) must be after from (${window.from})` });
}
