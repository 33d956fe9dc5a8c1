import type pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { createStorePool } from '../../test/helpers/database.js';
import { upsertApp } from '../store/apps.js';
import { syncEnvironments } from '../store/environments.js';
import { FlagValidationError } from './store-errors.js';
import { getFlag, putFlag } from './store-flags.js';

const scope = { app: 'shop', environment: 'staging' };
const ops = { actor: 'ops' };
const dependsOn = (name: string, ...parents: string[]) => ({ name, enabled: true, dependencies: parents.map((feature) => ({ feature })) });

describe('flag dependencies in the store', () => {
  let pool: pg.Pool;
  beforeAll(async () => {
    ({ pool } = await createStorePool());
    await upsertApp(pool, { name: 'shop' });
    await syncEnvironments(pool, 'shop', ['staging', 'production']);
  });

  it('refuses a write that closes a cycle, naming the flags along it, and keeps what was stored', async () => {
    await putFlag(pool, scope, dependsOn('checkout', 'payments'), ops);
    await putFlag(pool, scope, { name: 'payments', enabled: true }, ops);
    const closing = putFlag(pool, scope, dependsOn('payments', 'checkout'), ops);
    await expect(closing).rejects.toThrow(FlagValidationError);
    await expect(closing).rejects.toThrow(/dependencies: flags would depend on each other in a cycle: (payments -> checkout -> payments|checkout -> payments -> checkout)/);
    expect((await getFlag(pool, scope, 'payments'))?.definition.dependencies).toBeUndefined();
  });

  it('refuses a second level from either end, and allows it in another environment', async () => {
    await putFlag(pool, scope, { name: 'root', enabled: true }, ops);
    await putFlag(pool, scope, dependsOn('middle', 'root'), ops);
    await expect(putFlag(pool, scope, dependsOn('leaf', 'middle'), ops)).rejects.toThrow('dependencies[0].feature: middle depends on root itself; a parent flag cannot have parents');
    await putFlag(pool, scope, dependsOn('leaf', 'root'), ops);
    await expect(putFlag(pool, scope, dependsOn('root', 'other'), ops)).rejects.toThrow('dependencies: leaf, middle depend on root; a parent flag cannot have parents');
    const production = { app: 'shop', environment: 'production' };
    await putFlag(pool, production, dependsOn('leaf', 'middle'), ops);
    expect((await getFlag(pool, production, 'leaf'))?.version).toBe(1);
  });

  it('lets only one of two concurrent writes close a cycle', async () => {
    await putFlag(pool, scope, { name: 'x', enabled: true }, ops);
    await putFlag(pool, scope, { name: 'y', enabled: true }, ops);
    const results = await Promise.allSettled([putFlag(pool, scope, dependsOn('x', 'y'), ops), putFlag(pool, scope, dependsOn('y', 'x'), ops)]);
    expect(results.map((result) => result.status).sort()).toEqual(['fulfilled', 'rejected']);
  });
});
