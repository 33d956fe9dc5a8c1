import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { createStorePool } from '../../test/helpers/database.js';
import { getApp, listApps, upsertApp } from './apps.js';

describe('apps', () => {
  let pool: pg.Pool;
  let url: string;
  beforeAll(async () => {
    ({ pool, url } = await createStorePool());
  });

  it('records an app and reads it back', async () => {
    const app = await upsertApp(pool, { name: 'shop', description: 'the web shop' });
    expect(app).toMatchObject({ name: 'shop', description: 'the web shop' });
    expect(app.createdAt).toBeInstanceOf(Date);
    expect(await getApp(pool, 'shop')).toEqual(app);
    expect(await getApp(pool, 'nothing')).toBeUndefined();
  });

  it('upserts: keeps the description when none is given, replaces or clears it when one is', async () => {
    const first = await upsertApp(pool, { name: 'billing', description: 'invoices' });
    const kept = await upsertApp(pool, { name: 'billing' });
    expect(kept.description).toBe('invoices');
    expect(kept.updatedAt).toEqual(first.updatedAt);
    await new Promise((resolve) => setTimeout(resolve, 5));
    const replaced = await upsertApp(pool, { name: 'billing', description: 'invoices and refunds' });
    expect(replaced.description).toBe('invoices and refunds');
    expect(replaced.createdAt).toEqual(first.createdAt);
    expect(replaced.updatedAt.getTime()).toBeGreaterThan(first.updatedAt.getTime());
    expect((await upsertApp(pool, { name: 'billing', description: null })).description).toBeNull();
  });

  it('lists apps by name', async () => {
    await upsertApp(pool, { name: 'accounts' });
    expect((await listApps(pool)).map((app) => app.name)).toEqual(['accounts', 'billing', 'shop']);
  });

  it('refuses an invalid name before the database does', async () => {
    await expect(upsertApp(pool, { name: 'Shop_1' })).rejects.toThrow('app name "Shop_1" is not valid: use 1 to 63 lowercase letters, digits and dashes');
  });

  it('wraps database failures with what it was doing', async () => {
    const closed = new pg.Pool({ connectionString: url });
    await closed.end();
    await expect(getApp(closed, 'shop')).rejects.toThrow(/^reading app "shop": /);
  });
});
