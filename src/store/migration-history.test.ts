import { createHash } from 'node:crypto';
import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { afterFile } from '../../test/helpers/cleanup.js';
import { createStorePool } from '../../test/helpers/database.js';
import { PromoteError } from '../errors.js';
import { chainHash, GENESIS_CHAIN_HASH } from '../migrations/checksum.js';
import { upsertApp } from './apps.js';
import {
  acquireMigrationLock,
  getAppliedMigration,
  listMigrationHistory,
  markMigrationCompleted,
  markMigrationFailed,
  markMigrationRolledBack,
  migrationLockKey,
  MigrationLockedError,
  recordMigrationStart,
  verifyMigrationHistory,
  withMigrationLock,
  type MigrationTarget,
} from './migration-history.js';

const sum = (text: string) => createHash('sha256').update(text).digest('hex');

let pool: pg.Pool;
let url: string;
let targetCounter = 0;
/** A history of its own for each test: a fresh database key. */
const freshTarget = (): MigrationTarget => ({ app: 'shop', databaseKey: `db-${++targetCounter}` });
const start = (target: MigrationTarget, name: string, checksum = sum(name)) => recordMigrationStart(pool, { ...target, name, checksum, actor: 'alice' });

beforeAll(async () => {
  ({ pool, url } = await createStorePool());
  await upsertApp(pool, { name: 'shop' });
});

describe('recording migrations', () => {
  it('appends each start to the chain, hashed as src/migrations/checksum.ts and the database agree', async () => {
    const target = freshTarget();
    const first = await recordMigrationStart(pool, { ...target, name: '01_create_tables', checksum: sum('a'), versionSchema: 'v1', actor: 'alice' });
    expect(first).toMatchObject({ ...target, seq: 1, name: '01_create_tables', checksum: sum('a'), previousHash: GENESIS_CHAIN_HASH, phase: 'started', versionSchema: 'v1', actor: 'alice', completedAt: null, error: null });
    expect(first.chainHash).toBe(chainHash(GENESIS_CHAIN_HASH, '01_create_tables', sum('a')));
    const second = await start(target, '02_add_column', sum('b'));
    expect(second).toMatchObject({ seq: 2, previousHash: first.chainHash, chainHash: chainHash(first.chainHash, '02_add_column', sum('b')) });
    expect(await listMigrationHistory(pool, target)).toEqual([first, second]);
    expect(await verifyMigrationHistory(pool, target)).toEqual({ ok: true, count: 2, head: second.chainHash });
  });

  it('keeps one chain per app and database', async () => {
    const [a, b] = [freshTarget(), freshTarget()];
    await start(a, '01_x');
    expect((await start(b, '01_x')).seq).toBe(1);
    expect(await getAppliedMigration(pool, b, '01_x')).toMatchObject({ seq: 1, phase: 'started' });
    expect(await getAppliedMigration(pool, b, '02_y')).toBeUndefined();
  });

  it('refuses a migration edited after it was applied, naming both checksums', async () => {
    const target = freshTarget();
    await start(target, '03_add_column', sum('as applied'));
    await markMigrationCompleted(pool, target, '03_add_column');
    const edited = start(target, '03_add_column', sum('edited'));
    await expect(edited).rejects.toThrow(PromoteError);
    await expect(edited).rejects.toThrow(
      new RegExp(`^migration 03_add_column was edited after it was applied to shop on ${target.databaseKey} \\(applied at .*\\): checksum ${sum('as applied')} recorded, ${sum('edited')} now$`),
    );
    await expect(start(target, '03_add_column', sum('as applied'))).rejects.toThrow(/^migration 03_add_column is already applied on shop on db-\d+ \(applied at /);
  });

  it('refuses to start a migration twice while it is in flight', async () => {
    const target = freshTarget();
    await start(target, '04_x');
    await expect(start(target, '04_x')).rejects.toThrow(/is already in flight on .* \(started at .* and not finished\)$/);
    await expect(start(target, '04_x', sum('other'))).rejects.toThrow(/was edited after it was applied .*started at .* and not finished/);
  });

  it('moves phases forward, idempotently, and lets a rolled back or failed migration start again', async () => {
    const target = freshTarget();
    await start(target, '05_a');
    const completed = await markMigrationCompleted(pool, target, '05_a');
    expect(completed).toMatchObject({ phase: 'completed', rolledBackAt: null });
    expect(completed.completedAt).toBeInstanceOf(Date);
    expect(await markMigrationCompleted(pool, target, '05_a')).toEqual(completed);
    // rollback after contract, while it can still be undone
    const rolledBack = await markMigrationRolledBack(pool, target, '05_a', 'rollout aborted');
    expect(rolledBack).toMatchObject({ phase: 'rolled_back', error: 'rollout aborted', completedAt: completed.completedAt });
    await expect(markMigrationCompleted(pool, target, '05_a')).rejects.toThrow(/cannot be marked completed: it is rolled back \(entry 1\)/);

    const again = await start(target, '05_a', sum('fixed'));
    expect(again).toMatchObject({ seq: 2, phase: 'started', checksum: sum('fixed') });
    const failed = await markMigrationFailed(pool, target, '05_a', 'lock timeout on products');
    expect(failed).toMatchObject({ seq: 2, phase: 'failed', error: 'lock timeout on products' });
    await expect(markMigrationRolledBack(pool, target, '05_a')).rejects.toThrow(/cannot be marked rolled back: it is failed/);
    expect((await start(target, '05_a', sum('fixed'))).seq).toBe(3);
    await expect(markMigrationCompleted(pool, target, '06_never')).rejects.toThrow(/migration 06_never has not been started on shop on db-/);
    expect(await verifyMigrationHistory(pool, target)).toMatchObject({ ok: true, count: 3 });
  });

  it('keeps the chain whole when many migrators record at once, and lets only one start a migration', async () => {
    const target = freshTarget();
    const names = Array.from({ length: 12 }, (_, index) => `m${String(index).padStart(2, '0')}`);
    await Promise.all(names.map((name) => start(target, name)));
    const history = await listMigrationHistory(pool, target);
    expect(history.map((entry) => entry.seq)).toEqual(names.map((_, index) => index + 1));
    expect(await verifyMigrationHistory(pool, target)).toMatchObject({ ok: true, count: 12 });

    const racers = await Promise.allSettled(Array.from({ length: 6 }, () => start(target, 'same')));
    expect(racers.filter((result) => result.status === 'fulfilled')).toHaveLength(1);
  });

  it('checks its input before the database sees it', async () => {
    const target = freshTarget();
    await expect(start({ app: 'shop', databaseKey: 'has space' }, '01')).rejects.toThrow(/database key "has space" is not valid/);
    await expect(start({ app: 'Shop', databaseKey: 'x' }, '01')).rejects.toThrow(/app name "Shop" is not valid/);
    await expect(start(target, '')).rejects.toThrow(/migration name "" is not valid/);
    await expect(start(target, '01', 'not-a-sha')).rejects.toThrow(/checksum of "01" as 64 lowercase hex digits/);
    await expect(recordMigrationStart(pool, { ...target, name: '01', checksum: sum('x'), actor: '' })).rejects.toThrow(/needs an actor/);
    await expect(markMigrationFailed(pool, target, '01', ' ')).rejects.toThrow(/needs the error/);
    await expect(start({ app: 'nobody', databaseKey: 'x' }, '01')).rejects.toThrow('cannot record migration 01: app "nobody" is not recorded in the state store');
    expect(await listMigrationHistory(pool, target)).toEqual([]);
  });
});

describe('the history is append-only', () => {
  it('refuses edits, deletes, truncation, forged entries and phases going back', async () => {
    const target = freshTarget();
    const first = await start(target, '01_a');
    await markMigrationCompleted(pool, target, '01_a');
    const key = [target.app, target.databaseKey];
    const refused = async (sql: string, values: unknown[], pattern: RegExp) => expect(pool.query(sql, values)).rejects.toThrow(pattern);
    await refused(`update promote.schema_migrations set checksum = $3 where app = $1 and database_key = $2`, [...key, sum('forged')], /only the phase of an entry moves/);
    await refused(`update promote.schema_migrations set phase = 'started', completed_at = null where app = $1 and database_key = $2`, key, /cannot go from completed to started/);
    await refused(`update promote.schema_migrations set completed_at = now() - interval '1 day' where app = $1 and database_key = $2`, key, /is recorded already/);
    await refused(`delete from promote.schema_migrations where app = $1 and database_key = $2`, key, /append-only: DELETE is not allowed/);
    await refused(`truncate promote.schema_migrations`, [], /append-only: TRUNCATE is not allowed/);
    const insert = `insert into promote.schema_migrations (app, database_key, seq, name, checksum, previous_hash, chain_hash, actor) values ($1, $2, $3, $4, $5, $6, $7, 'mallory')`;
    // a second entry that does not follow the first
    await refused(insert, [...key, 2, '02_b', sum('b'), GENESIS_CHAIN_HASH, chainHash(GENESIS_CHAIN_HASH, '02_b', sum('b'))], /entry 2 of shop on db-\d+ does not follow entry 1/);
    // a hash that does not cover its content
    await refused(insert, [...key, 2, '02_b', sum('b'), first.chainHash, sum('anything')], /violates check constraint/);
    // skipping ahead
    await refused(insert, [...key, 5, '02_b', sum('b'), first.chainHash, chainHash(first.chainHash, '02_b', sum('b'))], /entry 5 of .* does not follow entry 4/);
    expect(await verifyMigrationHistory(pool, target)).toMatchObject({ ok: true, count: 1 });
  });

  it('reports the first broken link when someone got past the guards', async () => {
    const target = freshTarget();
    for (const name of ['01_a', '02_b', '03_c', '04_d']) await start(target, name);
    const history = await listMigrationHistory(pool, target);
    const key = [target.app, target.databaseKey];
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    /** The table's owner can switch the guards off: that is what verification is for. Undone afterwards. */
    const tampered = async (statements: [string, unknown[]][]) => {
      await client.query('begin');
      try {
        await client.query('alter table promote.schema_migrations disable trigger user');
        await client.query('alter table promote.schema_migrations drop constraint schema_migrations_check');
        for (const [sql, values] of statements) await client.query(sql, values);
        return await verifyMigrationHistory(client, target);
      } finally {
        await client.query('rollback');
      }
    };
    try {
      // a row rewritten with a hash of its own: the next row no longer follows it
      const renamed = chainHash(history[1]!.chainHash, '03_renamed', history[2]!.checksum);
      expect(await tampered([[`update promote.schema_migrations set name = '03_renamed', chain_hash = $3 where app = $1 and database_key = $2 and seq = 3`, [...key, renamed]]])).toMatchObject({
        ok: false,
        count: 3,
        seq: 4,
        name: '04_d',
        reason: expect.stringMatching(/removed, inserted or reordered$/) as unknown,
      });
      // a checksum changed in place
      expect(await tampered([[`update promote.schema_migrations set checksum = $3 where app = $1 and database_key = $2 and seq = 2`, [...key, sum('edited')]]])).toMatchObject({
        ok: false,
        count: 1,
        seq: 2,
        name: '02_b',
        reason: expect.stringMatching(/the entry was edited$/) as unknown,
      });
      // an entry deleted
      expect(await tampered([[`delete from promote.schema_migrations where app = $1 and database_key = $2 and seq = 2`, key]])).toEqual({
        ok: false,
        count: 1,
        seq: 3,
        name: '03_c',
        reason: 'expected entry 2, found entry 3: entries were removed',
      });
    } finally {
      await client.end();
    }
    expect(await verifyMigrationHistory(pool, target)).toMatchObject({ ok: true, count: 4 });
  });
});

describe("the migrator's lock", () => {
  async function connection(): Promise<pg.Client> {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    afterFile('closing a lock test connection', async () => client.end());
    return client;
  }

  it('lets one migrator run per app and database, and says who holds it', async () => {
    const target = freshTarget();
    const [a, b] = [await connection(), await connection()];
    const lock = await acquireMigrationLock(a, target, { applicationName: 'promote migrate (alice@ci-7)' });
    const pid = (await a.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid;
    const refused = await acquireMigrationLock(b, target).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(MigrationLockedError);
    expect((refused as MigrationLockedError).holder).toMatchObject({ pid, applicationName: 'promote migrate (alice@ci-7)' });
    expect((refused as Error).message).toMatch(
      new RegExp(`^another migrator is running for shop on ${target.databaseKey}: held by PostgreSQL session ${pid} \\(application "promote migrate \\(alice@ci-7\\)", user \\w+, .*connected since `),
    );
    // another database of the same app is another lock
    await (await acquireMigrationLock(b, freshTarget())).release();
    await lock.release();
    await lock.release();
    await (await acquireMigrationLock(b, target)).release();
  });

  it('is released however the work ends', async () => {
    const target = freshTarget();
    const [a, b] = [await connection(), await connection()];
    await expect(withMigrationLock(a, target, () => Promise.reject(new Error('migration failed')))).rejects.toThrow('migration failed');
    expect(await withMigrationLock(b, target, () => Promise.resolve('done'))).toBe('done');
  });

  it('needs one connection, and has a key that is the same in every process', async () => {
    const target = { app: 'shop', databaseKey: 'production' };
    await expect(acquireMigrationLock(pool as unknown as pg.Client, target)).rejects.toThrow(/needs one connection, not a pool/);
    expect(migrationLockKey(target)).toBe(migrationLockKey({ ...target }));
    expect(migrationLockKey(target)).not.toBe(migrationLockKey({ ...target, databaseKey: 'staging' }));
    expect(BigInt(migrationLockKey(target))).toBeGreaterThanOrEqual(-(2n ** 63n));
  });
});
