import { describe, expect, it } from 'vitest';
import { formatProblem } from './problems.js';
import { parseSpec } from './load.js';

const base = (freeze: string) => `version: 1
app: { name: shop }
environments:
  - name: production
    database: postgres://localhost/shop
    target: { type: process, command: node server.js }
    strategy: canary
    freeze:
${freeze}strategies:
  canary: { type: canary, steps: [{ setWeight: 50 }, { promote: {} }] }
`;

const parse = (freeze: string) => parseSpec(base(freeze), { file: 'promote.yaml' });
const messages = (freeze: string) => {
  const result = parse(freeze);
  return result.ok ? [] : result.problems.map(formatProblem);
};

describe('freeze windows in promote.yaml', () => {
  it('reads cron and dated windows, with refuse and UTC as defaults', () => {
    const result = parse(`      windows:
        - name: weekend
          cron: "0 18 * * 5"
          duration: 62h
        - name: year-end
          from: 2026-12-20
          until: 2027-01-04T08:00
`);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.spec.environments[0]!.freeze).toEqual({
      mode: 'refuse',
      timezone: 'UTC',
      windows: [
        { name: 'weekend', cron: '0 18 * * 5', duration: 62 * 3_600_000 },
        { name: 'year-end', from: '2026-12-20', until: '2027-01-04T08:00' },
      ],
    });
  });

  it('places every mistake at its field, in one pass, saying what is expected', () => {
    expect(
      messages(`      mode: sometimes
      timezone: Mars/Olympus
      windows:
        - name: weekend
          cron: "0 18 * * fry"
          duration: 62h
        - name: no-duration
          cron: "0 18 * * 5"
        - name: backwards
          from: 2026-12-20
          until: 2026-12-01
        - name: both
          cron: "0 0 * * *"
          duration: 1h
          from: 2026-01-01
        - name: neither
        - name: weekend
          from: 2026-13-01
          until: yesterday
        - name: no-until
          from: 2026-12-20
        - name: four-fields
          cron: "0 18 * *"
          duration: 90
`),
    ).toEqual([
      'promote.yaml:9:13 environments[0].freeze.mode: expected one of refuse, wait, got "sometimes"',
      'promote.yaml:10:17 environments[0].freeze.timezone: unknown time zone "Mars/Olympus"; expected an IANA name like Europe/Berlin or UTC',
      'promote.yaml:13:17 environments[0].freeze.windows[0].cron: bad cron "0 18 * * fry": day of week field "fry": "fry" is not a number from 0 to 7 or a name (sun, mon, …)',
      'promote.yaml:15:11 environments[0].freeze.windows[1].duration: a cron window needs `duration`: how long it lasts from each start, e.g. 62h',
      'promote.yaml:19:18 environments[0].freeze.windows[2].until: until (2026-12-01) must be after from (2026-12-20)',
      'promote.yaml:20:11 environments[0].freeze.windows[3]: a freeze window takes only one of "cron" or "from", got cron and from',
      'promote.yaml:24:11 environments[0].freeze.windows[4]: a freeze window needs "cron" or "from"',
      'promote.yaml:26:17 environments[0].freeze.windows[5].from: expected a date or date-time like 2026-12-20, 2026-12-20T08:00 (in the freeze time zone) or 2026-12-20T08:00:00Z, got "2026-13-01"',
      'promote.yaml:27:18 environments[0].freeze.windows[5].until: expected a date or date-time like 2026-12-20, 2026-12-20T08:00 (in the freeze time zone) or 2026-12-20T08:00:00Z, got "yesterday"',
      'promote.yaml:28:11 environments[0].freeze.windows[6].until: a dated window needs `until` (exclusive end)',
      'promote.yaml:31:17 environments[0].freeze.windows[7].cron: bad cron "0 18 * *": expected 5 fields (minute hour day-of-month month day-of-week), got 4',
      'promote.yaml:32:21 environments[0].freeze.windows[7].duration: expected a duration like 500ms, 30s, 5m, 1h30m or 2d, got 90; write a unit: 90s',
    ]);
  });

  it('compares a zoned date with an absolute one in the freeze time zone, and names a repeated window', () => {
    // 2026-12-20T00:30 in Berlin is 2026-12-19T23:30Z: before the until, so fine; in New York it is after
    const windows = `      windows:
        - name: a
          from: 2026-12-20T00:30
          until: 2026-12-20T00:00:00Z
        - name: a
          cron: "0 0 * * *"
          duration: 1h
`;
    expect(messages(`      timezone: Europe/Berlin\n${windows}`)).toEqual(['promote.yaml:14:17 environments[0].freeze.windows[1].name: window name "a" is already used by windows[0]; each window needs its own name']);
    expect(messages(`      timezone: America/New_York\n${windows.replace('name: a\n          cron', 'name: b\n          cron')}`)).toEqual([
      'promote.yaml:13:18 environments[0].freeze.windows[0].until: until (2026-12-20T00:00:00Z) must be after from (2026-12-20T00:30)',
    ]);
  });

  it('needs at least one window and a duration longer than zero', () => {
    expect(messages('      windows: []\n')).toEqual([expect.stringContaining('environments[0].freeze.windows:')]);
    expect(messages('      windows:\n        - { name: w, cron: "* * * * *", duration: 0s }\n')).toEqual(['promote.yaml:10:51 environments[0].freeze.windows[0].duration: a freeze window must last longer than 0s']);
  });
});
