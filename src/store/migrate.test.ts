import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../test/helpers/database.js';
import { appliedMigrations, checksumOf, migrateStore, STORE_SCHEMA } from './migrate.js';
import { storeMigrations } from './schema/index.js';

describe('store schema migrations', () => {
  let pool: pg.Pool;
  let url: string;
  beforeAll(async () => {
    ({ url } = await createTestDatabase());
    pool = new pg.Pool({ connectionString: url, max: 12 });
  });
  afterAll(async () => pool.end());

  it('applies every migration once, even when ten processes start at the same moment', async () => {
    const pools = Array.from({ length: 10 }, () => new pg.Pool({ connectionString: url, max: 1 }));
    try {
      const results = await Promise.all(pools.map((each) => migrateStore(each)));
      const appliedCounts = results.map((result) => result.length);
      expect(appliedCounts.reduce((a, b) => a + b, 0)).toBe(storeMigrations.length);
      const history = await appliedMigrations(pool);
      expect(history.map((row) => row.version)).toEqual(storeMigrations.map((migration) => migration.version));
      expect(history.map((row) => row.checksum)).toEqual(storeMigrations.map(checksumOf));
    } finally {
      await Promise.all(pools.map((each) => each.end()));
    }
  });

  it('is a no-op on an up-to-date store', async () => {
    expect(await migrateStore(pool)).toEqual([]);
  });

  it('refuses a store whose applied migration was edited afterwards', async () => {
    const edited = storeMigrations.map((migration) => ({ ...migration, sql: `${migration.sql}\n-- edited` }));
    await expect(migrateStore(pool, edited)).rejects.toThrow(/was changed after it was applied/);
  });

  it('refuses a store newer than this version of Promote', async () => {
    await expect(migrateStore(pool, [])).rejects.toThrow(/newer than this Promote knows/);
  });

  it('rolls a failing migration back whole, leaving the previous version in place', async () => {
    const broken = [...storeMigrations, { version: 999, name: 'broken', sql: 'create table half_done (id int); select 1/0;' }];
    await expect(migrateStore(pool, broken)).rejects.toThrow(/applying state store migration 999 \(broken\): division by zero/);
    const tables = await pool.query(`select 1 from information_schema.tables where table_schema = $1 and table_name = 'half_done'`, [STORE_SCHEMA]);
    expect(tables.rowCount).toBe(0);
    expect((await appliedMigrations(pool)).map((row) => row.version)).not.toContain(999);
  });
});
