import { createHash } from 'node:crypto';
import type pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { createStorePool } from '../../test/helpers/database.js';
import { PromoteError } from '../errors.js';
import { upsertApp } from './apps.js';
import { syncEnvironments } from './environments.js';
import { createRelease, type Release } from './releases.js';
import { assertWeights, createRollout, getActiveRollout, getRollout, listRollouts, ROLLOUT_PHASES, updateRolloutState, type Rollout } from './rollouts.js';

const digestOf = (text: string) => `sha256:${createHash('sha256').update(text).digest('hex')}`;
const STRATEGY = { steps: [{ setWeight: 10 }, { pause: { duration: '5m' } }, { setWeight: 100 }] };

describe('rollouts', () => {
  let pool: pg.Pool;
  let v1: Release;
  let v2: Release;
  let otherRelease: Release;
  beforeAll(async () => {
    ({ pool } = await createStorePool());
    await upsertApp(pool, { name: 'shop' });
    await upsertApp(pool, { name: 'other' });
    await syncEnvironments(pool, 'shop', ['staging', 'production']);
    await syncEnvironments(pool, 'other', ['staging']);
    v1 = (await createRelease(pool, { app: 'shop', version: '1.0.0', digest: digestOf('1'), migrationChecksums: {} })).release;
    v2 = (await createRelease(pool, { app: 'shop', version: '2.0.0', digest: digestOf('2'), migrationChecksums: {} })).release;
    otherRelease = (await createRelease(pool, { app: 'other', version: '1.0.0', digest: digestOf('o'), migrationChecksums: {} })).release;
  });

  let staging: Rollout;

  it('creates a rollout: Pending, step 0, no weights', async () => {
    staging = await createRollout(pool, { app: 'shop', environment: 'staging', releaseId: v2.id, stableReleaseId: v1.id, strategy: STRATEGY, createdBy: 'alice' });
    expect(staging).toMatchObject({
      app: 'shop',
      environment: 'staging',
      releaseId: v2.id,
      stableReleaseId: v1.id,
      strategy: STRATEGY,
      phase: 'Pending',
      phaseReason: null,
      currentStep: 0,
      weights: {},
      createdBy: 'alice',
    });
    expect(await getRollout(pool, staging.id)).toEqual(staging);
    expect(await getActiveRollout(pool, 'shop', 'staging')).toEqual(staging);
    expect(await getRollout(pool, staging.id + 1000)).toBeUndefined();
  });

  it('allows one active rollout per environment, naming the active one', async () => {
    const second = createRollout(pool, { app: 'shop', environment: 'staging', releaseId: v2.id, strategy: STRATEGY });
    await expect(second).rejects.toThrow(PromoteError);
    await expect(second).rejects.toThrow(`environment "staging" of app "shop" already has an active rollout: rollout #${staging.id} (Pending)`);
    // another environment is independent
    const production = await createRollout(pool, { app: 'shop', environment: 'production', releaseId: v1.id, strategy: STRATEGY });
    expect(production.phase).toBe('Pending');
    await updateRolloutState(pool, production.id, { phase: 'Aborted', phaseReason: 'test' });
  });

  it('race: of concurrent starts in one environment exactly one succeeds', async () => {
    const results = await Promise.allSettled(Array.from({ length: 8 }, () => createRollout(pool, { app: 'shop', environment: 'production', releaseId: v2.id, strategy: STRATEGY })));
    const won = results.filter((result): result is PromiseFulfilledResult<Rollout> => result.status === 'fulfilled');
    expect(won).toHaveLength(1);
    for (const result of results) {
      if (result.status === 'rejected') expect((result.reason as Error).message).toContain(`already has an active rollout: rollout #${won[0]!.value.id}`);
    }
    await updateRolloutState(pool, won[0]!.value.id, { phase: 'Aborted' });
  });

  it('inside a caller transaction, a refused start leaves the transaction usable', async () => {
    const client = await pool.connect();
    try {
      await client.query('begin');
      await expect(createRollout(client, { app: 'shop', environment: 'staging', releaseId: v2.id, strategy: STRATEGY })).rejects.toThrow(`rollout #${staging.id}`);
      expect((await client.query('select 1 as one')).rows).toEqual([{ one: 1 }]);
      await client.query('commit');
    } finally {
      client.release();
    }
  });

  it('refuses a release of another app, an unknown release and an unknown environment', async () => {
    await expect(createRollout(pool, { app: 'shop', environment: 'production', releaseId: otherRelease.id, strategy: STRATEGY })).rejects.toThrow(
      `release #${otherRelease.id} (1.0.0) belongs to app "other", not "shop"`,
    );
    await expect(createRollout(pool, { app: 'shop', environment: 'production', releaseId: v2.id, stableReleaseId: 99999, strategy: STRATEGY })).rejects.toThrow(
      'stable release #99999 does not exist',
    );
    await expect(createRollout(pool, { app: 'shop', environment: 'qa', releaseId: v2.id, strategy: STRATEGY })).rejects.toThrow(
      'environment "qa" of app "shop" is not recorded in the state store',
    );
    expect(await getActiveRollout(pool, 'shop', 'production')).toBeUndefined();
  });

  it('updates state; the optimistic guard updates only when the row still has the expected values', async () => {
    const moved = await updateRolloutState(pool, staging.id, { phase: 'Progressing', currentStep: 1, weights: { '1.0.0': 90, '2.0.0': 10 } }, { phase: 'Pending', currentStep: 0 });
    expect(moved).toMatchObject({ phase: 'Progressing', currentStep: 1, weights: { '1.0.0': 90, '2.0.0': 10 } });
    expect(moved!.updatedAt.getTime()).toBeGreaterThanOrEqual(staging.updatedAt.getTime());

    // a second controller still believing step 0: refused, nothing changes
    expect(await updateRolloutState(pool, staging.id, { currentStep: 5 }, { currentStep: 0 })).toBeUndefined();
    expect(await updateRolloutState(pool, staging.id, { phase: 'Paused' }, { phase: 'Pending' })).toBeUndefined();
    expect(await getRollout(pool, staging.id)).toEqual(moved);

    // of many concurrent moves from step 1 to step 2, exactly one applies
    const attempts = await Promise.all(Array.from({ length: 10 }, (_, i) => updateRolloutState(pool, staging.id, { currentStep: 2, phaseReason: `worker ${i}` }, { currentStep: 1 })));
    expect(attempts.filter((attempt) => attempt !== undefined)).toHaveLength(1);
    expect((await getRollout(pool, staging.id))!.currentStep).toBe(2);

    // no guard: applies; phaseReason null clears it
    const paused = await updateRolloutState(pool, staging.id, { phase: 'Paused', phaseReason: null });
    expect(paused).toMatchObject({ phase: 'Paused', phaseReason: null, currentStep: 2 });
  });

  it('refuses an update of a rollout that does not exist, even with a guard', async () => {
    await expect(updateRolloutState(pool, 424242, { phase: 'Healthy' })).rejects.toThrow('rollout #424242 does not exist');
    await expect(updateRolloutState(pool, 424242, { phase: 'Healthy' }, { phase: 'Paused' })).rejects.toThrow('rollout #424242 does not exist');
  });

  it('validates weights: each 0..100, adding up to 100, or none', async () => {
    expect(() => assertWeights({})).not.toThrow();
    expect(() => assertWeights({ a: 100 })).not.toThrow();
    expect(() => assertWeights({ a: 0, b: 100 })).not.toThrow();
    expect(() => assertWeights({ a: 33.3, b: 33.3, c: 33.4 })).not.toThrow();
    expect(() => assertWeights({ a: 90, b: 20 })).toThrow('(a=90, b=20) add up to 110; they must add up to 100');
    expect(() => assertWeights({ a: 50 })).toThrow('add up to 50');
    expect(() => assertWeights({ a: -10, b: 110 })).toThrow('give version a -10; each weight is a percentage from 0 to 100');
    expect(() => assertWeights({ a: Number.NaN })).toThrow('each weight is a percentage from 0 to 100');
    expect(() => assertWeights({ a: '100' as unknown as number })).toThrow('give version a "100"');
    const before = await getRollout(pool, staging.id);
    await expect(updateRolloutState(pool, staging.id, { weights: { '1.0.0': 80, '2.0.0': 30 } })).rejects.toThrow(`the weights of rollout #${staging.id} (1.0.0=80, 2.0.0=30) add up to 110`);
    expect(await getRollout(pool, staging.id)).toEqual(before);
    // emptied again is allowed
    expect((await updateRolloutState(pool, staging.id, { weights: {} }))!.weights).toEqual({});
  });

  it('validates phase and step', async () => {
    await expect(updateRolloutState(pool, staging.id, { phase: 'Done' as never })).rejects.toThrow(`"Done" is not a rollout phase; expected one of ${ROLLOUT_PHASES.join(', ')}`);
    await expect(updateRolloutState(pool, staging.id, { currentStep: -1 })).rejects.toThrow('the current step must be a whole number from 0, got -1');
  });

  it('refuses to make a finished rollout active again while another one is', async () => {
    await updateRolloutState(pool, staging.id, { phase: 'Healthy' });
    const next = await createRollout(pool, { app: 'shop', environment: 'staging', releaseId: v1.id, strategy: STRATEGY });
    await expect(updateRolloutState(pool, staging.id, { phase: 'Progressing' })).rejects.toThrow(`already has an active rollout: rollout #${next.id} (Pending)`);
    await updateRolloutState(pool, next.id, { phase: 'RolledBack', phaseReason: 'test' });
  });

  it('lists rollouts newest first, filtered by app and environment', async () => {
    const otherRollout = await createRollout(pool, { app: 'other', environment: 'staging', releaseId: otherRelease.id, strategy: [] });
    const all = await listRollouts(pool);
    expect(all[0]!.id).toBe(otherRollout.id);
    expect(all.map((rollout) => rollout.id)).toEqual([...all.map((rollout) => rollout.id)].sort((a, b) => b - a));
    const shopStaging = await listRollouts(pool, { app: 'shop', environment: 'staging' });
    expect(shopStaging.length).toBeGreaterThanOrEqual(2);
    expect(shopStaging.every((rollout) => rollout.app === 'shop' && rollout.environment === 'staging')).toBe(true);
    const staged = await listRollouts(pool, { environment: 'staging' });
    expect(new Set(staged.map((rollout) => rollout.app))).toEqual(new Set(['shop', 'other']));
    expect(await listRollouts(pool, { app: 'shop', limit: 1 })).toHaveLength(1);
    expect((await listRollouts(pool, { app: 'other' })).map((rollout) => rollout.strategy)).toEqual([[]]);
  });
});
