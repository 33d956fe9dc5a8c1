/**
 * Durations in promote.yaml are strings with units ("500ms", "30s", "1h30m"). A bare number is
 * rejected rather than guessed: `timeout: 30` could mean seconds or milliseconds, and a wrong guess
 * turns a 30-second timeout into a 30-millisecond one.
 */
import { z } from 'zod';
import { PromoteError } from '../errors.js';
import { expectations } from './schema-meta.js';

const unitMs = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1_000, ms: 1 } as const;
type Unit = keyof typeof unitMs;
const unitsLargestFirst: readonly Unit[] = ['d', 'h', 'm', 's', 'ms'];

// Units in decreasing order, each at most once: "1h30m" but not "30m1h" or "1m1m".
const durationPattern = /^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m(?!s))?(?:(\d+)s)?(?:(\d+)ms)?$/;

export const durationExamples = '500ms, 30s, 5m, 1h30m or 2d';

/** The duration in milliseconds, or a sentence saying what is wrong with the text. */
export function checkDuration(text: string): { ok: true; ms: number } | { ok: false; problem: string } {
  if (text === '') return { ok: false, problem: `expected a duration like ${durationExamples}, got an empty string` };
  if (/^\d+(\.\d+)?$/.test(text)) {
    return { ok: false, problem: `a duration needs a unit, got ${text}; write a unit: ${text}s (or ms, m, h, d)` };
  }
  const match = durationPattern.exec(text);
  if (match === null) {
    const shown = text.length > 30 ? `${text.slice(0, 30)}…` : text;
    return { ok: false, problem: `expected a duration like ${durationExamples}, got "${shown}"` };
  }
  let ms = 0;
  unitsLargestFirst.forEach((unit, index) => {
    const amount = match[index + 1];
    if (amount !== undefined) ms += Number(amount) * unitMs[unit];
  });
  if (!Number.isSafeInteger(ms)) return { ok: false, problem: `duration ${text.slice(0, 30)} is too long` };
  return { ok: true, ms };
}

/** Parses "1h30m" and friends to milliseconds; throws PromoteError on anything else. */
export function parseDuration(text: string): number {
  const result = checkDuration(text);
  if (!result.ok) throw new PromoteError(`invalid duration: ${result.problem}`);
  return result.ms;
}

/** The shortest canonical text for a number of milliseconds: 5400000 -> "1h30m", 0 -> "0s". */
export function formatDuration(ms: number): string {
  if (!Number.isSafeInteger(ms) || ms < 0) throw new PromoteError(`cannot format ${ms} as a duration: expected whole non-negative milliseconds`);
  if (ms === 0) return '0s';
  let rest = ms;
  let text = '';
  for (const unit of unitsLargestFirst) {
    const amount = Math.floor(rest / unitMs[unit]);
    if (amount > 0) {
      text += `${amount}${unit}`;
      rest -= amount * unitMs[unit];
    }
  }
  return text;
}

// The expectation sits on the string itself: zod reports a wrong type against the inner string schema.
const durationText = z
  .string()
  .meta({ pattern: '^(?=\\d)(\\d+d)?(\\d+h)?(\\d+m)?(\\d+s)?(\\d+ms)?$' })
  .register(expectations, {
    expected: `a duration like ${durationExamples}`,
    hint: (value) => (typeof value === 'number' ? `write a unit: ${value}s` : undefined),
  });

/** A duration field: written as text, parsed to milliseconds. */
export const durationSchema = durationText.transform((text, ctx) => {
  const result = checkDuration(text);
  if (result.ok) return result.ms;
  ctx.addIssue({ code: 'custom', message: result.problem, input: text });
  return z.NEVER;
});
