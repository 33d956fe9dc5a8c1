/**
 * The period a report covers, from what a person types: `--since 30d` (a duration back from `until`,
 * with promote.yaml's duration units plus `w` for weeks) or a date; `--until` a date, default now.
 */
import { UsageError } from '../errors.js';
import { checkDuration } from '../spec/duration.js';

const WEEK_MS = 7 * 86_400_000;
const EXAMPLES = '30d, 2w, 12h, 2026-01-31 or 2026-01-31T12:00:00Z';

export function parsePeriod(options: { since?: string; until?: string }, now = new Date()): { since: Date; until: Date } {
  const until = options.until === undefined ? now : parseDate(options.until, '--until');
  const since = parseSince(options.since ?? '30d', until);
  if (since.getTime() >= until.getTime()) {
    throw new UsageError(`the report period is empty: --since ${options.since ?? '30d'} (${since.toISOString()}) is not before --until (${until.toISOString()})`);
  }
  return { since, until };
}

function parseSince(text: string, until: Date): Date {
  const weeks = /^(\d+)w$/.exec(text);
  if (weeks) return new Date(until.getTime() - Number(weeks[1]) * WEEK_MS);
  const duration = checkDuration(text);
  if (duration.ok) return new Date(until.getTime() - duration.ms);
  if (/^\d{4}-\d{2}-\d{2}/.test(text)) return parseDate(text, '--since');
  throw new UsageError(`--since takes a duration back from --until or a date, like ${EXAMPLES}; got "${text.slice(0, 40)}"`);
}

function parseDate(text: string, option: string): Date {
  const date = /^\d{4}-\d{2}-\d{2}(T[0-9:.]+(Z|[+-]\d{2}:\d{2})?)?$/.test(text) ? new Date(text) : new Date(Number.NaN);
  // JavaScript rolls 2026-02-31 over to March 3rd: a day that does not exist is refused, not moved
  const rolledOver = !Number.isNaN(date.getTime()) && !text.includes('T') && date.toISOString().slice(0, 10) !== text;
  if (Number.isNaN(date.getTime()) || rolledOver) throw new UsageError(`${option} takes a date like 2026-01-31 or 2026-01-31T12:00:00Z; got "${text.slice(0, 40)}"`);
  return date;
}
