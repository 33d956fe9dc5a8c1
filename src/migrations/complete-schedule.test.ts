import { describe, expect, it } from 'vitest';
import { switchSchedule } from './complete-schedule.js';
import type { Step } from './ops/types.js';

const on = (table: string, sql: string): Step => ({ sql, switchOf: table });

describe('the order of complete\'s steps', () => {
  it('runs the validations first, then each table\'s switch steps of every operation as one, in operation order', () => {
    const steps: Step[] = [
      { sql: 'validate a1', beforeSwitch: true },
      on('a', 'rename a.x'),
      on('b', 'drop b.y'),
      on('a', 'drop a.old'),
      { sql: 'validate b1', beforeSwitch: true },
      on('b', 'rename b.z'),
    ];
    expect(switchSchedule(steps)).toEqual([
      { sql: 'validate a1', beforeSwitch: true },
      { sql: 'validate b1', beforeSwitch: true },
      { sql: 'rename a.x;\ndrop a.old', switchOf: 'a' },
      { sql: 'drop b.y;\nrename b.z', switchOf: 'b' },
    ]);
  });

  it('keeps any other step in its place: the switch steps before it run first, and the ones after it gather anew', () => {
    const steps: Step[] = [on('a', 'rename a.x'), on('a', 'drop a.t'), { sql: 'raw sql' }, on('a', 'drop a.old'), { sql: 'drop index concurrently i', outsideTransaction: true }];
    expect(switchSchedule(steps).map((step) => step.sql)).toEqual(['rename a.x;\ndrop a.t', 'raw sql', 'drop a.old', 'drop index concurrently i']);
  });
});
