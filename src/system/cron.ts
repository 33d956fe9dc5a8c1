/**
 * A small five-field cron parser and matcher (minute hour day-of-month month day-of-week), for freeze
 * windows. Our own rather than a dependency: the grammar is small and a freeze calendar only needs to
 * ask "does this wall-clock minute match". Supported: `*`, numbers, lists (`1,15`), ranges (`1-5`),
 * steps (`*\/15`, `1-30/5`, `5/10`), month and weekday names (`jan`, `mon-fri`), Sunday as 0 or 7.
 * As in Vixie cron, when both day-of-month and day-of-week are restricted, a day matching either counts.
 */

export interface CronSchedule {
  minutes: ReadonlySet<number>;
  hours: ReadonlySet<number>;
  daysOfMonth: ReadonlySet<number>;
  months: ReadonlySet<number>;
  /** 0 = Sunday … 6 = Saturday */
  daysOfWeek: ReadonlySet<number>;
  /** day-of-month and day-of-week were both restricted: a day matching either one matches */
  eitherDay: boolean;
  /** sorted ascending, for walking a day's matching times */
  hourList: readonly number[];
  minuteList: readonly number[];
}

export class CronError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CronError';
  }
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

interface Field {
  name: string;
  min: number;
  max: number;
  names?: readonly string[];
  /** value of the first name: months are 1-based, weekdays 0-based */
  namesFrom?: number;
}

const FIELDS: readonly Field[] = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: MONTHS, namesFrom: 1 },
  // 7 is accepted as Sunday and folded to 0 below
  { name: 'day of week', min: 0, max: 7, names: DAYS, namesFrom: 0 },
];

/** Parses a five-field expression; throws CronError naming the field and what it expects. */
export function parseCron(expression: string): CronSchedule {
  const parts = expression.trim().split(/\s+/);
  if (parts.length !== 5 || parts[0] === '') {
    throw new CronError(`expected 5 fields (minute hour day-of-month month day-of-week), got ${parts[0] === '' ? 0 : parts.length}`);
  }
  const sets = parts.map((part, index) => parseField(part, FIELDS[index]!));
  const weekdays = new Set([...sets[4]!].map((day) => day % 7));
  const restricted = (part: string) => !part.startsWith('*');
  return {
    minutes: sets[0]!,
    hours: sets[1]!,
    daysOfMonth: sets[2]!,
    months: sets[3]!,
    daysOfWeek: weekdays,
    eitherDay: restricted(parts[2]!) && restricted(parts[4]!),
    hourList: [...sets[1]!].sort((a, b) => a - b),
    minuteList: [...sets[0]!].sort((a, b) => a - b),
  };
}

function parseField(text: string, field: Field): Set<number> {
  const values = new Set<number>();
  for (const item of text.split(',')) {
    const [range, stepText, extra] = item.split('/');
    if (extra !== undefined || range === undefined || range === '') throw new CronError(`${field.name} field "${text}": "${item}" is not a value, range or step`);
    let step = 1;
    if (stepText !== undefined) {
      if (!/^\d+$/.test(stepText) || Number(stepText) < 1) throw new CronError(`${field.name} field "${text}": step "${stepText}" must be a whole number from 1`);
      step = Number(stepText);
    }
    let low: number;
    let high: number;
    if (range === '*') {
      low = field.min;
      high = field.max;
    } else if (range.includes('-')) {
      const [from, to, more] = range.split('-');
      if (more !== undefined) throw new CronError(`${field.name} field "${text}": "${range}" is not a range like 1-5`);
      low = value(from ?? '', field, text);
      high = value(to ?? '', field, text);
      if (high < low) throw new CronError(`${field.name} field "${text}": range ${range} runs backwards`);
    } else {
      low = value(range, field, text);
      // "5/10" means from 5 to the end in steps of 10, as in Vixie cron
      high = stepText !== undefined ? field.max : low;
    }
    for (let each = low; each <= high; each += step) values.add(each);
  }
  return values;
}

function value(text: string, field: Field, whole: string): number {
  const named = field.names?.indexOf(text.toLowerCase()) ?? -1;
  if (named >= 0) return named + (field.namesFrom ?? 0);
  if (!/^\d+$/.test(text)) {
    const names = field.names ? ` or a name (${field.names[0]}, ${field.names[1]}, …)` : '';
    throw new CronError(`${field.name} field "${whole}": "${text}" is not a number from ${field.min} to ${field.max}${names}`);
  }
  const number = Number(text);
  if (number < field.min || number > field.max) throw new CronError(`${field.name} field "${whole}": ${number} is outside ${field.min}-${field.max}`);
  return number;
}

/** Whether a calendar day (month 1-12, weekday 0 = Sunday) is one the schedule runs on. */
export function cronMatchesDay(schedule: CronSchedule, month: number, day: number, weekday: number): boolean {
  if (!schedule.months.has(month)) return false;
  const byMonthDay = schedule.daysOfMonth.has(day);
  const byWeekday = schedule.daysOfWeek.has(weekday);
  return schedule.eitherDay ? byMonthDay || byWeekday : byMonthDay && byWeekday;
}
