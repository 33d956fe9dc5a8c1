import type pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { createStorePool } from '../../test/helpers/database.js';
import { upsertApp } from '../store/apps.js';
import { syncEnvironments } from '../store/environments.js';
import { listEvents, verifyEventChain } from '../store/events.js';
import { currentRevision } from './store-changes.js';
import { FlagConflictError, FlagNotFoundError, FlagValidationError } from './store-errors.js';
import { archiveFlag, disableFlag, enableFlag, flagHistory, getFlag, listFlags, putFlag, setFlagRollout, setVariantWeights } from './store-flags.js';

const production = { app: 'shop', environment: 'production' };
const staging = { app: 'shop', environment: 'staging' };
const alice = { actor: 'alice', reason: 'launch' };

describe('flag store', () => {
  let pool: pg.Pool;
  beforeAll(async () => {
    ({ pool } = await createStorePool());
    await upsertApp(pool, { name: 'shop' });
    await syncEnvironments(pool, 'shop', ['staging', 'production']);
  });

  it('creates a flag as validated, in one environment only, with its history entry, audit event and a new revision', async () => {
    expect(await currentRevision(pool, production)).toBe(0);
    const { flag, change } = await putFlag(pool, production, { name: 'checkout', enabled: false, description: 'new checkout' }, alice);
    // defaults filled in by the schema are stored: the store keeps what the schema outputs
    expect(flag).toMatchObject({ app: 'shop', environment: 'production', name: 'checkout', version: 1, archived: false, createdBy: 'alice', updatedBy: 'alice' });
    expect(flag.definition).toMatchObject({ name: 'checkout', enabled: false, type: 'release', description: 'new checkout' });
    expect(change).toMatchObject({ action: 'created', actor: 'alice', reason: 'launch', before: null, version: 1, subject: 'flag', environment: 'production' });
    // a new flag's diff names the fields it was created with
    expect(change!.diff).toEqual(['description', 'enabled', 'name', 'type']);
    expect(await currentRevision(pool, production)).toBe(1);
    expect(await currentRevision(pool, staging)).toBe(0);
    expect(await getFlag(pool, staging, 'checkout')).toBeUndefined();
    const [event] = (await listEvents(pool, { app: 'shop' })).filter((each) => each.type === 'flag.changed');
    expect(event).toMatchObject({ actor: 'alice', environment: 'production', data: { flag: 'checkout', action: 'created', version: 1, reason: 'launch', changeId: change!.id, revisions: { production: 1 } } });
  });

  it('records who, when, why and the changed paths of each change; the same write again changes nothing', async () => {
    await enableFlag(pool, production, 'checkout', { actor: 'bob', reason: 'go' });
    const rollout = await setFlagRollout(pool, production, 'checkout', 10, { actor: 'carol' });
    expect(rollout.flag.definition.strategies).toEqual([{ name: 'flexibleRollout', parameters: { rollout: 10, stickiness: 'default', groupId: 'checkout' } }]);
    const raised = await setFlagRollout(pool, production, 'checkout', 50, { actor: 'carol', reason: 'healthy at 10%' });
    expect(raised.change!.diff).toEqual(['strategies[0].parameters.rollout']);
    expect(raised.change!.before).toMatchObject({ strategies: [{ parameters: { rollout: 10 } }] });
    expect(raised.change!.after).toMatchObject({ strategies: [{ parameters: { rollout: 50 } }] });
    const again = await setFlagRollout(pool, production, 'checkout', 50, { actor: 'carol' });
    expect(again.change).toBeNull();
    expect(again.flag.version).toBe(raised.flag.version);
    const history = await flagHistory(pool, production, 'checkout');
    expect(history.map((entry) => [entry.action, entry.actor, entry.reason, entry.version, entry.diff])).toEqual([
      ['rollout', 'carol', 'healthy at 10%', 4, ['strategies[0].parameters.rollout']],
      ['rollout', 'carol', null, 3, ['strategies']],
      ['enabled', 'bob', 'go', 2, ['enabled']],
      ['created', 'alice', 'launch', 1, ['description', 'enabled', 'name', 'type']],
    ]);
    expect(history.every((entry) => entry.createdAt instanceof Date)).toBe(true);
    expect(await currentRevision(pool, production)).toBe(4);
    expect(await verifyEventChain(pool)).toMatchObject({ ok: true });
  });

  it('keeps the type of an existing rollout parameter (Unleash writes text)', async () => {
    await putFlag(pool, staging, { name: 'search', enabled: true, strategies: [{ name: 'default' }, { name: 'flexibleRollout', parameters: { rollout: '5', stickiness: 'userId', groupId: 'search' } }] }, alice);
    const { flag } = await setFlagRollout(pool, staging, 'search', 25, alice);
    expect(flag.definition.strategies?.[1]).toEqual({ name: 'flexibleRollout', parameters: { rollout: '25', stickiness: 'userId', groupId: 'search' } });
    await expect(setFlagRollout(pool, staging, 'search', 101, alice)).rejects.toThrow('the rollout of flag "search" is not valid: percent: expected a whole number from 0 to 100, got 101');
    await expect(setFlagRollout(pool, staging, 'search', 12.5, alice)).rejects.toThrow(FlagValidationError);
  });

  it('refuses a write over a version the writer did not read, naming both versions', async () => {
    const current = (await getFlag(pool, production, 'checkout'))!;
    await expect(disableFlag(pool, production, 'checkout', { actor: 'dave', expectedVersion: current.version - 1 })).rejects.toThrow(
      new RegExp(`^flag "checkout" of shop/production changed since you read it: you read version ${current.version - 1}, it is at version ${current.version} now$`),
    );
    await expect(putFlag(pool, production, { name: 'checkout' }, { actor: 'dave', expectedVersion: 0 })).rejects.toThrow(FlagConflictError);
    await expect(putFlag(pool, production, { name: 'fresh' }, { actor: 'dave', expectedVersion: 3 })).rejects.toThrow('you read version 3, it does not exist now');
    const { flag } = await disableFlag(pool, production, 'checkout', { actor: 'dave', expectedVersion: current.version });
    expect(flag.version).toBe(current.version + 1);
    expect(flag.definition.enabled).toBe(false);
    // creating with expectedVersion 0 works when the flag does not exist
    expect((await putFlag(pool, production, { name: 'fresh' }, { actor: 'dave', expectedVersion: 0 })).flag.version).toBe(1);
  });

  it('rejects invalid flags naming each field, and changes nothing', async () => {
    const revision = await currentRevision(pool, production);
    const attempt = putFlag(pool, production, { name: 'bad', enabled: 'yes', strategies: [{ name: 'default', constraints: [{ contextName: 'userId', operator: 'NOPE', values: ['a'] }] }] }, alice);
    await expect(attempt).rejects.toThrow(FlagValidationError);
    const error = (await attempt.catch((caught: unknown) => caught)) as FlagValidationError;
    expect(error.message).toMatch(/^flag "bad" is not valid: /);
    expect(error.problems.map((problem) => problem.field).sort()).toEqual(['enabled', 'strategies[0].constraints[0].operator']);
    await expect(putFlag(pool, production, { name: 'has space' }, alice)).rejects.toThrow(/name: /);
    await expect(putFlag(pool, production, { name: 'other' }, { ...alice, name: 'checkout' })).rejects.toThrow('name: must be "checkout", the flag this request writes, got "other"');
    await expect(putFlag(pool, production, { name: 'x' }, { actor: ' ' })).rejects.toThrow('needs an actor');
    expect(await currentRevision(pool, production)).toBe(revision);
    expect(await getFlag(pool, production, 'bad')).toBeUndefined();
  });

  it('names the unknown app, environment or flag', async () => {
    await expect(listFlags(pool, { app: 'nope', environment: 'production' })).rejects.toThrow(FlagNotFoundError);
    await expect(listFlags(pool, { app: 'nope', environment: 'production' })).rejects.toThrow('the state store has no app "nope"');
    await expect(listFlags(pool, { app: 'shop', environment: 'qa' })).rejects.toThrow('app "shop" has no environment "qa" in the state store');
    await expect(enableFlag(pool, production, 'ghost', alice)).rejects.toThrow('shop/production has no flag "ghost"');
    await expect(getFlag(pool, { app: 'Shop!', environment: 'production' }, 'x')).rejects.toThrow('app name "Shop!" is not valid');
  });

  it('archives a flag out of the list and back in with a put, keeping its history', async () => {
    const before = await currentRevision(pool, production);
    const { flag, change } = await archiveFlag(pool, production, 'fresh', { actor: 'erin', reason: 'shipped' });
    expect(flag.archived).toBe(true);
    expect(change).toMatchObject({ action: 'archived', diff: ['archived'], after: null });
    expect((await archiveFlag(pool, production, 'fresh', { actor: 'erin' })).change).toBeNull();
    expect((await listFlags(pool, production)).map((each) => each.name)).toEqual(['checkout']);
    expect((await listFlags(pool, production, { includeArchived: true })).map((each) => each.name)).toEqual(['checkout', 'fresh']);
    await expect(enableFlag(pool, production, 'fresh', alice)).rejects.toThrow('shop/production has no flag "fresh" (it is archived)');
    const restored = await putFlag(pool, production, { name: 'fresh', enabled: true }, { actor: 'erin', expectedVersion: 0 });
    expect(restored.flag).toMatchObject({ archived: false, version: 3 });
    expect(restored.change).toMatchObject({ action: 'restored', diff: ['archived'] });
    expect(await currentRevision(pool, production)).toBe(before + 2);
    expect((await flagHistory(pool, production, 'fresh')).map((entry) => entry.action)).toEqual(['restored', 'archived', 'created']);
  });

  it('serialises concurrent changes of one flag: every one lands, each on the version before it', async () => {
    await putFlag(pool, staging, { name: 'race', enabled: true }, alice);
    const percents = Array.from({ length: 12 }, (_, index) => index + 1);
    await Promise.all(percents.map((percent) => setFlagRollout(pool, staging, 'race', percent, { actor: `writer-${percent}` })));
    const history = await flagHistory(pool, staging, 'race');
    expect(history.map((entry) => entry.version)).toEqual(Array.from({ length: 13 }, (_, index) => 13 - index));
    // each change's before is the previous change's after
    for (let index = 0; index < history.length - 1; index++) expect(history[index]!.before).toEqual(history[index + 1]!.after);
    // with expectedVersion, of writers that read the same version exactly one wins
    const version = (await getFlag(pool, staging, 'race'))!.version;
    const results = await Promise.allSettled(['a', 'b', 'c'].map((actor) => disableFlag(pool, staging, 'race', { actor, expectedVersion: version })));
    expect(results.filter((result) => result.status === 'fulfilled')).toHaveLength(1);
    const refusals = results.filter((result): result is PromiseRejectedResult => result.status === 'rejected').map((result): unknown => result.reason);
    expect(refusals).toHaveLength(2);
    for (const refusal of refusals) expect(refusal).toBeInstanceOf(FlagConflictError);
  });

  it('serialises concurrent creations: one creates, the others see it', async () => {
    const attempts = await Promise.allSettled(['a', 'b', 'c', 'd'].map((actor) => putFlag(pool, staging, { name: 'born-once', enabled: actor === 'a' }, { actor, expectedVersion: 0 })));
    expect(attempts.filter((attempt) => attempt.status === 'fulfilled')).toHaveLength(1);
    const writes = await Promise.all(['e', 'f', 'g'].map((actor) => putFlag(pool, staging, { name: 'born-twice', description: actor }, { actor })));
    expect(writes.map((write) => write.change?.action).sort()).toEqual(['created', 'updated', 'updated']);
    const history = await flagHistory(pool, staging, 'born-twice');
    expect(history.map((entry) => entry.version)).toEqual([3, 2, 1]);
    expect(history[2]!.before).toBeNull();
    expect(history[1]!.before).toEqual(history[2]!.after);
  });

  it('joins a caller transaction: a rolled-back change leaves no flag, history, event or revision', async () => {
    const revision = await currentRevision(pool, staging);
    const events = (await listEvents(pool)).length;
    const client = await pool.connect();
    try {
      await client.query('begin');
      await putFlag(client, staging, { name: 'ghost-town' }, alice);
      await client.query('rollback');
    } finally {
      client.release();
    }
    expect(await getFlag(pool, staging, 'ghost-town')).toBeUndefined();
    expect(await flagHistory(pool, staging, 'ghost-town')).toEqual([]);
    expect(await currentRevision(pool, staging)).toBe(revision);
    expect((await listEvents(pool)).length).toBe(events);
  });

  it('keeps the history append-only', async () => {
    await expect(pool.query(`update promote.flag_changes set actor = 'mallory'`)).rejects.toThrow('promote.flag_changes is append-only: UPDATE is not allowed');
    await expect(pool.query('delete from promote.flag_changes')).rejects.toThrow('append-only: DELETE');
  });
});

describe('variant weights', () => {
  it('sets named weights as fixed, adds new variants, keeps the others and refuses a sum above 1000', async () => {
    const { pool } = await createStorePool();
    await upsertApp(pool, { name: 'shop' });
    await syncEnvironments(pool, 'shop', ['production']);
    await putFlag(pool, production, { name: 'colour', enabled: true, variants: [{ name: 'blue', weight: 500, weightType: 'variable' }, { name: 'red', weight: 500, weightType: 'variable' }] }, alice);
    const { flag, change } = await setVariantWeights(pool, production, 'colour', { blue: 200, green: 100 }, { actor: 'bob' });
    expect(flag.definition.variants?.map((variant) => [variant.name, variant.weight, variant.weightType])).toEqual([['blue', 200, 'fix'], ['red', 500, 'variable'], ['green', 100, 'fix']]);
    expect(change!.diff).toEqual(['variants[0].weight', 'variants[0].weightType', 'variants[2]']);
    await expect(setVariantWeights(pool, production, 'colour', { blue: 700, green: 400 }, { actor: 'bob' })).rejects.toThrow(/^flag "colour" after variants is not valid: variants/);
    await expect(setVariantWeights(pool, production, 'colour', { blue: 1001 }, { actor: 'bob' })).rejects.toThrow('weights.blue: expected a whole number from 0 to 1000, got 1001');
    await expect(setVariantWeights(pool, production, 'colour', {}, { actor: 'bob' })).rejects.toThrow('needs at least one variant=weight');
    expect((await getFlag(pool, production, 'colour'))!.version).toBe(2);
  });
});
