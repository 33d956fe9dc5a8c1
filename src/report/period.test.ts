import { describe, expect, it } from 'vitest';
import { ExitCode } from '../errors.js';
import { parsePeriod } from './period.js';

const now = new Date('2026-03-01T00:00:00.000Z');

describe('parsePeriod', () => {
  it('reads a duration back from until, in weeks too, and dates', () => {
    expect(parsePeriod({}, now)).toEqual({ since: new Date('2026-01-30T00:00:00.000Z'), until: now });
    expect(parsePeriod({ since: '2w' }, now).since).toEqual(new Date('2026-02-15T00:00:00.000Z'));
    expect(parsePeriod({ since: '1h30m', until: '2026-02-01' }, now)).toEqual({ since: new Date('2026-01-31T22:30:00.000Z'), until: new Date('2026-02-01T00:00:00.000Z') });
    expect(parsePeriod({ since: '2026-01-01', until: '2026-01-02T12:00:00Z' }, now).since).toEqual(new Date('2026-01-01T00:00:00.000Z'));
  });

  it('refuses what it cannot read, and an empty period, as usage errors naming the option', () => {
    const refusal = (options: { since?: string; until?: string }) => {
      try {
        parsePeriod(options, now);
      } catch (error) {
        return { message: (error as Error).message, exitCode: (error as { exitCode?: number }).exitCode };
      }
      throw new Error('parsePeriod accepted it');
    };
    expect(refusal({ since: '30x' })).toEqual({ message: '--since takes a duration back from --until or a date, like 30d, 2w, 12h, 2026-01-31 or 2026-01-31T12:00:00Z; got "30x"', exitCode: ExitCode.usage });
    expect(refusal({ since: '30' }).message).toContain('--since takes a duration');
    expect(refusal({ until: 'yesterday' })).toMatchObject({ message: expect.stringContaining('--until takes a date') as string, exitCode: ExitCode.usage });
    expect(refusal({ until: '2026-02-31' }).message).toContain('--until takes a date');
    expect(refusal({ since: '2026-03-02' }).message).toContain('the report period is empty');
    expect(refusal({ since: '0s' }).message).toContain('the report period is empty');
  });
});
