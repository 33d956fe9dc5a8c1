import type pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { createStorePool } from '../../test/helpers/database.js';
import { upsertApp } from './apps.js';
import { listEnvironments, syncEnvironments } from './environments.js';
import { withTransaction } from './queryable.js';
import { createRelease } from './releases.js';
import { createRollout } from './rollouts.js';

const DIGEST = `sha256:${'a'.repeat(64)}`;

describe('environments', () => {
  let pool: pg.Pool;
  beforeAll(async () => {
    ({ pool } = await createStorePool());
    await upsertApp(pool, { name: 'shop' });
    await upsertApp(pool, { name: 'other' });
  });

  const names = async (app: string) => (await listEnvironments(pool, app)).map((env) => `${env.position}:${env.name}`);

  it('records environments in promotion order', async () => {
    const recorded = await syncEnvironments(pool, 'shop', ['staging', 'production']);
    expect(recorded.map((env) => [env.name, env.position])).toEqual([
      ['staging', 0],
      ['production', 1],
    ]);
    expect(await names('shop')).toEqual(['0:staging', '1:production']);
  });

  it('adds new ones and reorders existing ones (swapping positions passes through the deferred constraint)', async () => {
    const before = await listEnvironments(pool, 'shop');
    await syncEnvironments(pool, 'shop', ['production', 'qa', 'staging']);
    expect(await names('shop')).toEqual(['0:production', '1:qa', '2:staging']);
    const after = await listEnvironments(pool, 'shop');
    expect(after.find((env) => env.name === 'staging')!.createdAt).toEqual(before.find((env) => env.name === 'staging')!.createdAt);
    await syncEnvironments(pool, 'shop', ['qa', 'staging', 'production']);
    expect(await names('shop')).toEqual(['0:qa', '1:staging', '2:production']);
  });

  it('removes environments without rollouts', async () => {
    await syncEnvironments(pool, 'shop', ['staging', 'production']);
    expect(await names('shop')).toEqual(['0:staging', '1:production']);
  });

  it('keeps each app separate', async () => {
    await syncEnvironments(pool, 'other', ['production']);
    expect(await names('other')).toEqual(['0:production']);
    expect(await names('shop')).toEqual(['0:staging', '1:production']);
  });

  it('refuses to remove an environment that has rollouts, naming it, and changes nothing', async () => {
    const { release } = await createRelease(pool, { app: 'shop', version: '1.0.0', digest: DIGEST, migrationChecksums: {} });
    await createRollout(pool, { app: 'shop', environment: 'staging', releaseId: release.id, strategy: { steps: [] } });
    await expect(syncEnvironments(pool, 'shop', ['qa', 'production'])).rejects.toThrow('cannot remove environment "staging" of app "shop": it has 1 rollout in its history');
    // the whole sync rolled back: qa was not added, production did not move
    expect(await names('shop')).toEqual(['0:staging', '1:production']);
    // reordering it, or removing the others, is fine
    await syncEnvironments(pool, 'shop', ['staging']);
    expect(await names('shop')).toEqual(['0:staging']);
  });

  it('refuses duplicates, invalid names and unknown apps', async () => {
    await expect(syncEnvironments(pool, 'shop', ['staging', 'staging'])).rejects.toThrow('environment "staging" is listed twice');
    await expect(syncEnvironments(pool, 'shop', ['Prod'])).rejects.toThrow('environment name "Prod" is not valid');
    await expect(syncEnvironments(pool, 'ghost', ['staging'])).rejects.toThrow('app "ghost" is not recorded in the state store');
  });

  it('inside a caller transaction, commits or rolls back with it', async () => {
    const client = await pool.connect();
    try {
      await client.query('begin');
      await syncEnvironments(client, 'other', ['staging', 'production']);
      // a failing sync inside the transaction leaves it usable (savepoint)
      await expect(syncEnvironments(client, 'ghost', ['staging'])).rejects.toThrow('app "ghost" is not recorded');
      expect((await listEnvironments(client, 'other')).map((env) => env.name)).toEqual(['staging', 'production']);
      await client.query('rollback');
    } finally {
      client.release();
    }
    expect(await names('other')).toEqual(['0:production']);
    await withTransaction(pool, (tx) => syncEnvironments(tx, 'other', ['staging', 'production']));
    expect(await names('other')).toEqual(['0:staging', '1:production']);
  });

  it('concurrent syncs of one app do not interleave', async () => {
    const orders = [
      ['staging', 'production'],
      ['production', 'staging'],
      ['canary', 'staging', 'production'],
    ];
    await Promise.all(Array.from({ length: 12 }, (_, i) => syncEnvironments(pool, 'other', orders[i % orders.length]!)));
    const final = (await listEnvironments(pool, 'other')).map((env) => env.name);
    expect(orders.map((order) => order.join())).toContain(final.join());
    expect((await listEnvironments(pool, 'other')).map((env) => env.position)).toEqual(final.map((_, i) => i));
  });
});
