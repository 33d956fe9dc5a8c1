import fc from 'fast-check';
import type pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { createStorePool } from '../../test/helpers/database.js';
import { upsertApp } from '../store/apps.js';
import { syncEnvironments } from '../store/environments.js';
import { listEvents } from '../store/events.js';
import { FlagValidationError, type FlagDefinition } from './store-errors.js';
import { archiveFlag, flagHistory, getFlag, putFlag } from './store-flags.js';
import { applyDueFlagSchedules, cancelSchedule, listSchedules, scheduleFlagChange } from './store-schedules.js';
import { staleFlags, uniformState } from './store-stale.js';

const production = { app: 'shop', environment: 'production' };
const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;

describe('scheduled flag changes', () => {
  let pool: pg.Pool;
  beforeAll(async () => {
    ({ pool } = await createStorePool());
    await upsertApp(pool, { name: 'shop' });
    await syncEnvironments(pool, 'shop', ['staging', 'production']);
    await putFlag(pool, production, { name: 'checkout', enabled: false }, { actor: 'alice' });
  });

  it('applies due changes in time order with the scheduler as actor and the schedule in the history; later ones wait', async () => {
    const now = new Date();
    const enable = await scheduleFlagChange(pool, production, { flag: 'checkout', applyAt: new Date(now.getTime() - 2 * MINUTE), change: { action: 'enable' }, actor: 'bob', reason: 'launch at 9' });
    const rollout = await scheduleFlagChange(pool, production, { flag: 'checkout', applyAt: new Date(now.getTime() - MINUTE), change: { action: 'rollout', percent: 25 }, actor: 'bob' });
    const later = await scheduleFlagChange(pool, production, { flag: 'checkout', applyAt: new Date(now.getTime() + 60 * MINUTE), change: { action: 'disable' }, actor: 'bob' });
    expect(enable).toMatchObject({ status: 'pending', createdBy: 'bob', reason: 'launch at 9', change: { action: 'enable' } });
    expect((await listEvents(pool, { app: 'shop' })).filter((event) => event.type === 'flag.scheduled')).toHaveLength(3);

    const run = await applyDueFlagSchedules(pool, now);
    expect(run.applied.map((schedule) => schedule.id)).toEqual([enable.id, rollout.id]);
    expect(run.failed).toEqual([]);
    const flag = (await getFlag(pool, production, 'checkout'))!;
    expect(flag.definition).toMatchObject({ enabled: true, strategies: [{ name: 'flexibleRollout', parameters: { rollout: 25 } }] });
    const history = await flagHistory(pool, production, 'checkout');
    expect(history.slice(0, 2).map((entry) => [entry.action, entry.actor, entry.scheduleId, entry.reason])).toEqual([
      ['rollout', 'bob', rollout.id, `scheduled change #${rollout.id}`],
      ['enabled', 'bob', enable.id, 'launch at 9'],
    ]);
    // running again applies nothing; the later one is still pending
    expect(await applyDueFlagSchedules(pool, now)).toEqual({ applied: [], failed: [] });
    expect((await listSchedules(pool, production, { status: 'pending' })).map((schedule) => schedule.id)).toEqual([later.id]);
  });

  it('records a change that can no longer be made as failed, with the reason, and goes on with the next', async () => {
    await putFlag(pool, production, { name: 'doomed', enabled: true }, { actor: 'alice' });
    const at = new Date(Date.now() - MINUTE);
    const broken = await scheduleFlagChange(pool, production, { flag: 'doomed', applyAt: at, change: { action: 'rollout', percent: 50 }, actor: 'carol' });
    const fine = await scheduleFlagChange(pool, production, { flag: 'checkout', applyAt: at, change: { action: 'rollout', percent: 60 }, actor: 'carol' });
    await archiveFlag(pool, production, 'doomed', { actor: 'alice' });
    const run = await applyDueFlagSchedules(pool);
    expect(run.failed.map((schedule) => [schedule.id, schedule.status, schedule.error])).toEqual([[broken.id, 'failed', expect.stringContaining('shop/production has no flag "doomed" (it is archived)')]]);
    expect(run.applied.map((schedule) => schedule.id)).toEqual([fine.id]);
    expect((await flagHistory(pool, production, 'doomed'))[0]!.action).toBe('archived');
    expect((await listEvents(pool, { app: 'shop' })).filter((event) => event.type === 'flag.schedule_failed').map((event) => event.data.scheduleId)).toEqual([broken.id]);
  });

  it('applies each due change exactly once when several processes run at the same moment', async () => {
    await putFlag(pool, production, { name: 'raced', enabled: true }, { actor: 'alice' });
    const at = new Date(Date.now() - MINUTE);
    const ids: number[] = [];
    for (let percent = 1; percent <= 8; percent++) ids.push((await scheduleFlagChange(pool, production, { flag: 'raced', applyAt: new Date(at.getTime() + percent), change: { action: 'rollout', percent }, actor: 'dave' })).id);
    const runs = await Promise.all(Array.from({ length: 4 }, () => applyDueFlagSchedules(pool)));
    const applied = runs.flatMap((run) => run.applied.map((schedule) => schedule.id)).sort((a, b) => a - b);
    expect(applied).toEqual(ids);
    expect(runs.flatMap((run) => run.failed)).toEqual([]);
    const history = await flagHistory(pool, production, 'raced');
    expect(history.filter((entry) => entry.action === 'rollout')).toHaveLength(8);
  });

  it('cancels a pending schedule once; validates a change before storing it', async () => {
    const schedule = await scheduleFlagChange(pool, production, { flag: 'checkout', applyAt: new Date(Date.now() + DAY), change: { action: 'variants', weights: { blue: 500, red: 500 } }, actor: 'erin' });
    const cancelled = await cancelSchedule(pool, production, schedule.id, { actor: 'frank', reason: 'not yet' });
    expect(cancelled).toMatchObject({ status: 'cancelled', finishedBy: 'frank' });
    await expect(cancelSchedule(pool, production, schedule.id, { actor: 'frank' })).rejects.toThrow(`scheduled change #${schedule.id} of flag checkout is already cancelled`);
    await expect(cancelSchedule(pool, production, 999_999, { actor: 'frank' })).rejects.toThrow('shop/production has no scheduled flag change #999999');
    const bad = (change: unknown) => scheduleFlagChange(pool, production, { flag: 'checkout', applyAt: new Date(), change, actor: 'erin' });
    await expect(bad({ action: 'rollout', percent: 150 })).rejects.toThrow('percent: expected a whole number from 0 to 100, got 150');
    await expect(bad({ action: 'explode' })).rejects.toThrow('action: expected one of enable, disable, rollout, variants, put, archive, got "explode"');
    await expect(bad({ action: 'enable', percent: 5 })).rejects.toThrow('unknown field "percent" for action enable');
    await expect(bad({ action: 'put', flag: { name: 'other' } })).rejects.toThrow('flag.name: must be "checkout"');
    await expect(bad({ action: 'put', flag: { name: 'checkout', enabled: 'no' } })).rejects.toThrow(FlagValidationError);
    await expect(scheduleFlagChange(pool, production, { flag: 'ghost', applyAt: new Date(), change: { action: 'enable' }, actor: 'erin' })).rejects.toThrow('has no flag "ghost"');
    // a put may create the flag it schedules
    const creating = await scheduleFlagChange(pool, production, { flag: 'ghost', applyAt: new Date(Date.now() - 1), change: { action: 'put', flag: { name: 'ghost', enabled: true } }, actor: 'erin' });
    expect((await applyDueFlagSchedules(pool)).applied.map((each) => each.id)).toEqual([creating.id]);
    expect((await getFlag(pool, production, 'ghost'))?.definition.enabled).toBe(true);
  });
});

describe('stale flags', () => {
  const everyone = (definition: Partial<FlagDefinition> & Record<string, unknown>) => uniformState({ name: 'f', type: 'release', enabled: true, ...definition });

  it('calls a flag fully on, fully off, or neither', () => {
    expect(everyone({ enabled: false, strategies: [{ name: 'default' }] })).toBe('off');
    expect(everyone({})).toBe('on');
    expect(everyone({ strategies: [{ name: 'default' }] })).toBe('on');
    expect(everyone({ strategies: [{ name: 'flexibleRollout', parameters: { rollout: '100' } }] })).toBe('on');
    expect(everyone({ strategies: [{ name: 'flexibleRollout', parameters: { rollout: 0 } }] })).toBe('off');
    expect(everyone({ strategies: [{ name: 'flexibleRollout', parameters: { rollout: 99 } }] })).toBeUndefined();
    expect(everyone({ strategies: [{ name: 'default', constraints: [{ contextName: 'userId', operator: 'IN', values: ['a'], inverted: false, caseInsensitive: false }] }] })).toBeUndefined();
    expect(everyone({ strategies: [{ name: 'default', segments: ['beta'] }] })).toBeUndefined();
    expect(everyone({ strategies: [{ name: 'userWithId', parameters: { userIds: 'a' } }] })).toBeUndefined();
    expect(everyone({ strategies: [{ name: 'default' }], dependencies: [{ feature: 'parent' }] })).toBeUndefined();
  });

  it('is never both on and off, and a disabled flag is always off', () => {
    const strategy = fc.record({
      name: fc.constantFrom('default', 'flexibleRollout', 'userWithId', 'gradualRolloutRandom'),
      parameters: fc.record({ rollout: fc.integer({ min: 0, max: 100 }), percentage: fc.integer({ min: 0, max: 100 }) }),
      constraints: fc.constantFrom([], [{ contextName: 'x', operator: 'IN', values: ['1'] }]),
      disabled: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.boolean(), fc.array(strategy, { maxLength: 4 }), (enabled, strategies) => {
        const state = everyone({ enabled, strategies } as never);
        if (!enabled) expect(state).toBe('off');
        // "on" needs an active strategy that reaches everyone, or none at all
        if (state === 'on') expect(strategies.length === 0 || strategies.some((each) => !each.disabled && each.constraints.length === 0)).toBe(true);
      }),
    );
  });

  it('lists flags unchanged for long enough that are fully on or off, not ones with a pending schedule', async () => {
    const { pool } = await createStorePool();
    await upsertApp(pool, { name: 'shop' });
    await syncEnvironments(pool, 'shop', ['staging', 'production']);
    const staging = { app: 'shop', environment: 'staging' };
    await putFlag(pool, production, { name: 'old-on', enabled: true, strategies: [{ name: 'default' }] }, { actor: 'a' });
    await putFlag(pool, production, { name: 'old-off', enabled: false }, { actor: 'a' });
    await putFlag(pool, production, { name: 'old-partial', enabled: true, strategies: [{ name: 'flexibleRollout', parameters: { rollout: 30 } }] }, { actor: 'a' });
    await putFlag(pool, production, { name: 'old-scheduled', enabled: true }, { actor: 'a' });
    await putFlag(pool, staging, { name: 'old-on', enabled: true }, { actor: 'a' });
    await scheduleFlagChange(pool, production, { flag: 'old-scheduled', applyAt: new Date(Date.now() + DAY), change: { action: 'disable' }, actor: 'a' });
    await pool.query(`update promote.flags set updated_at = now() - interval '40 days'`);
    await putFlag(pool, production, { name: 'new-on', enabled: true }, { actor: 'a' });

    const stale = await staleFlags(pool, { app: 'shop', unchangedForMs: 30 * DAY });
    expect(stale.map((each) => [each.flag.environment, each.flag.name, each.state])).toEqual([
      ['production', 'old-off', 'off'],
      ['production', 'old-on', 'on'],
      ['staging', 'old-on', 'on'],
    ]);
    expect(stale.every((each) => each.unchangedForMs >= 40 * DAY - MINUTE)).toBe(true);
    expect((await staleFlags(pool, { app: 'shop', environment: 'staging', unchangedForMs: 30 * DAY })).map((each) => each.flag.name)).toEqual(['old-on']);
    expect(await staleFlags(pool, { app: 'shop', unchangedForMs: 50 * DAY })).toEqual([]);
    expect((await staleFlags(pool, { app: 'shop', unchangedForMs: 0 })).map((each) => each.flag.name)).toContain('new-on');
    await expect(staleFlags(pool, { app: 'shop', unchangedForMs: -1 })).rejects.toThrow('unchangedFor must be a duration of 0 or more');
  });
});
