import type pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { createStorePool } from '../../test/helpers/database.js';
import { upsertApp } from '../store/apps.js';
import { syncEnvironments } from '../store/environments.js';
import { listEvents } from '../store/events.js';
import { currentRevision } from './store-changes.js';
import { recordClientRegistration, recordFlagUsage, listClients, flagUsage } from './store-clients.js';
import { FlagConflictError, FlagValidationError } from './store-errors.js';
import { archiveFlag, putFlag } from './store-flags.js';
import { deleteSegment, getSegment, listSegments, putSegment, segmentHistory } from './store-segments.js';

const production = { app: 'shop', environment: 'production' };
const staging = { app: 'shop', environment: 'staging' };
const beta = { name: 'beta-users', description: 'opted in', constraints: [{ contextName: 'userId', operator: 'IN', values: ['u1', 'u2'] }] };

describe('segments', () => {
  let pool: pg.Pool;
  beforeAll(async () => {
    ({ pool } = await createStorePool());
    await upsertApp(pool, { name: 'shop' });
    await syncEnvironments(pool, 'shop', ['staging', 'production']);
  });

  it('creates a segment for the whole app: every environment gets a new revision', async () => {
    const { segment, change } = await putSegment(pool, 'shop', beta, { actor: 'alice', reason: 'beta programme' });
    expect(segment).toMatchObject({ app: 'shop', name: 'beta-users', description: 'opted in', version: 1, createdBy: 'alice' });
    expect(segment.id).toBeGreaterThan(0);
    // the schema's defaults (inverted, caseInsensitive) are stored, as for a strategy's constraints
    expect(segment.constraints).toEqual([{ contextName: 'userId', operator: 'IN', values: ['u1', 'u2'], inverted: false, caseInsensitive: false }]);
    expect(change).toMatchObject({ subject: 'segment', environment: null, action: 'created', reason: 'beta programme' });
    expect(await currentRevision(pool, staging)).toBe(1);
    expect(await currentRevision(pool, production)).toBe(1);
    const event = (await listEvents(pool, { app: 'shop' })).find((each) => each.type === 'flag.segment_changed');
    expect(event?.data).toMatchObject({ segment: 'beta-users', action: 'created', revisions: { staging: 1, production: 1 } });
  });

  it('updates with a diff, ignores an identical write and refuses a stale version', async () => {
    const updated = await putSegment(pool, 'shop', { ...beta, constraints: [{ contextName: 'userId', operator: 'IN', values: ['u1', 'u2', 'u3'] }] }, { actor: 'bob', expectedVersion: 1 });
    expect(updated.segment.version).toBe(2);
    expect(updated.change!.diff).toEqual(['constraints[0].values[2]']);
    expect((await putSegment(pool, 'shop', { ...beta, constraints: [{ contextName: 'userId', operator: 'IN', values: ['u1', 'u2', 'u3'] }] }, { actor: 'bob' })).change).toBeNull();
    await expect(putSegment(pool, 'shop', beta, { actor: 'carol', expectedVersion: 1 })).rejects.toThrow('segment "beta-users" of app shop changed since you read it: you read version 1, it is at version 2 now');
    expect((await segmentHistory(pool, 'shop', 'beta-users')).map((entry) => entry.action)).toEqual(['updated', 'created']);
  });

  it('validates constraints exactly as a strategy does, naming the field', async () => {
    const attempt = putSegment(pool, 'shop', { name: 'bad', constraints: [{ contextName: 'plan', operator: 'NUM_GT', values: ['1'] }, { contextName: 'x', operator: 'WHAT', values: ['a'] }], colour: 'red' }, { actor: 'alice' });
    await expect(attempt).rejects.toThrow(FlagValidationError);
    const error = (await attempt.catch((caught: unknown) => caught)) as FlagValidationError;
    expect(error.message).toMatch(/^segment "bad" is not valid: /);
    expect(error.problems.map((problem) => problem.field)).toEqual(expect.arrayContaining(['colour', 'constraints[1].operator']));
    expect(error.problems.some((problem) => problem.field.startsWith('constraints[0]'))).toBe(true);
    await expect(putSegment(pool, 'shop', { name: 'no list' }, { actor: 'alice' })).rejects.toThrow(/name: .*; constraints: expected a list of constraints/);
    expect(await getSegment(pool, 'shop', 'bad')).toBeUndefined();
  });

  it('refuses to delete a segment a flag still uses, naming the flags, then deletes it once unused', async () => {
    // flags refer to segments by name inside their strategies (the admin format)
    await putFlag(pool, production, { name: 'checkout', enabled: true, strategies: [{ name: 'default', segments: ['beta-users'] }] }, { actor: 'alice' });
    await putFlag(pool, staging, { name: 'search', enabled: true, strategies: [{ name: 'flexibleRollout', parameters: { rollout: 5 } }, { name: 'default', segments: ['beta-users'] }] }, { actor: 'alice' });
    await expect(putFlag(pool, staging, { name: 'other', strategies: [{ name: 'default', segments: ['beta-users', 'nobody'] }] }, { actor: 'alice' })).rejects.toThrow('flag "other" is not valid: strategies[0].segments[1]: app shop has no segment "nobody"');
    await expect(deleteSegment(pool, 'shop', 'beta-users', { actor: 'alice' })).rejects.toThrow(FlagConflictError);
    await expect(deleteSegment(pool, 'shop', 'beta-users', { actor: 'alice' })).rejects.toThrow('segment "beta-users" of app shop is still used by flags production/checkout, staging/search');
    await putFlag(pool, production, { name: 'checkout', enabled: true, strategies: [{ name: 'default' }] }, { actor: 'alice' });
    await archiveFlag(pool, staging, 'search', { actor: 'alice' });
    const revision = await currentRevision(pool, production);
    const change = await deleteSegment(pool, 'shop', 'beta-users', { actor: 'alice', reason: 'programme over' });
    expect(change).toMatchObject({ action: 'deleted', after: null, reason: 'programme over' });
    expect(await listSegments(pool, 'shop')).toEqual([]);
    expect(await currentRevision(pool, production)).toBe(revision + 1);
    await expect(deleteSegment(pool, 'shop', 'beta-users', { actor: 'alice' })).rejects.toThrow('app shop has no segment "beta-users"');
    await expect(listSegments(pool, 'nope')).rejects.toThrow('the state store has no app "nope"');
  });
});

describe('Unleash SDK registrations and usage', () => {
  let pool: pg.Pool;
  beforeAll(async () => {
    ({ pool } = await createStorePool());
    await upsertApp(pool, { name: 'shop' });
    await syncEnvironments(pool, 'shop', ['production']);
  });

  it('records an SDK instance and refreshes it when it registers again', async () => {
    const startedAt = new Date('2026-01-01T10:00:00Z');
    await recordClientRegistration(pool, production, { appName: 'checkout-api', instanceId: 'pod-1', sdkVersion: 'unleash-client-node:6.1.0', strategies: ['default', 'flexibleRollout'], startedAt, intervalMs: 15_000 });
    await recordClientRegistration(pool, production, { appName: 'checkout-api', instanceId: 'pod-1', sdkVersion: 'unleash-client-node:6.2.0', strategies: ['default'], startedAt, intervalMs: 10_000 });
    const clients = await listClients(pool, production);
    expect(clients).toHaveLength(1);
    expect(clients[0]).toMatchObject({ appName: 'checkout-api', instanceId: 'pod-1', sdkVersion: 'unleash-client-node:6.2.0', strategies: ['default'], startedAt, intervalMs: 10_000 });
    expect(clients[0]!.lastSeen.getTime()).toBeGreaterThanOrEqual(clients[0]!.firstSeen.getTime());
    await expect(recordClientRegistration(pool, production, { appName: '', instanceId: 'x' })).rejects.toThrow('appName must be text of 1 to 255 characters');
    await expect(recordClientRegistration(pool, { app: 'shop', environment: 'qa' }, { appName: 'a', instanceId: 'x' })).rejects.toThrow('has no environment "qa"');
  });

  it('sums yes/no and variant counts per flag and minute, across reports and instances', async () => {
    const start = new Date(Date.now() - 30_000);
    expect(await recordFlagUsage(pool, production, { appName: 'checkout-api', instanceId: 'pod-1', start, toggles: { checkout: { yes: 3, no: 1, variants: { blue: 2, red: 1 } }, search: { yes: 0, no: 5 } } })).toBe(2);
    expect(await recordFlagUsage(pool, production, { appName: 'checkout-api', instanceId: 'pod-2', start, toggles: { checkout: { yes: 4, no: 0, variants: { blue: 1, green: 3 } } } })).toBe(1);
    expect(await recordFlagUsage(pool, production, { appName: 'web', start, toggles: {} })).toBe(0);
    const usage = await flagUsage(pool, production, { since: new Date(start.getTime() - 120_000) });
    expect(usage).toEqual([
      { flag: 'checkout', yes: 7, no: 1, variants: { blue: 3, red: 1, green: 3 } },
      { flag: 'search', yes: 0, no: 5, variants: {} },
    ]);
    expect(await flagUsage(pool, production, { since: new Date(Date.now() + 120_000) })).toEqual([]);
    await expect(recordFlagUsage(pool, production, { appName: 'web', start, toggles: { checkout: { yes: -1 } } })).rejects.toThrow('bucket.toggles.checkout.yes must be a whole number from 0, got -1');
    await expect(recordFlagUsage(pool, production, { appName: 'web', start: new Date('nope'), toggles: {} })).rejects.toThrow('bucket.start must be a time');
  });
});
