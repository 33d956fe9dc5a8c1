/**
 * The migrator lock's connection sits idle while a phase works on other connections. When the server
 * ends it (a restart, a crash, an admin's pg_terminate_backend), pg emits 'error' on that idle client;
 * with no listener that was an uncaught exception, which ends a migrator or a controller process
 * instead of letting the phase finish or fail with its own message. Vitest fails a run on an uncaught
 * exception, so this test fails without the listener.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { createMigrationDatabase, migrationFrom, type MigrationDatabase } from '../../test/helpers/migrations.js';
import { runBackfill } from './backfill/backfill.js';
import { startMigration } from './runner.js';

let db: MigrationDatabase;

beforeAll(async () => {
  db = await createMigrationDatabase();
});

describe('the migrator lock connection ended by the server', () => {
  it('does not crash the process; the phase finishes on its other connections', async () => {
    await db.reset(`create table users (id serial primary key, name text not null); insert into users (name) select 'User' || n from generate_series(1, 20) n`);
    const migration = migrationFrom('05_name_upper', `operations:
  - add_column:
      table: users
      up: upper(name)
      column: { name: name_upper, type: text }
`);
    let terminated = 0;
    const outcome = await startMigration(migration, {
      pool: db.pool,
      backfill: async (pool, table) => {
        // the backend holding an advisory lock other than ours is the migrator lock's connection
        const ended = await pool.query(`select pg_terminate_backend(pid) from pg_locks where locktype = 'advisory' and granted and pid <> pg_backend_pid()`);
        terminated = ended.rowCount ?? 0;
        // give the lock's client the time to see its connection end while the phase still runs
        await new Promise((done) => setTimeout(done, 200));
        return runBackfill(pool, table);
      },
    });
    expect(terminated).toBe(1);
    expect(outcome.run.backfilled).toBe(true);
    const filled = await db.pool.query<{ wrong: string }>(`select count(*) filter (where name_upper is distinct from upper(name)) as wrong from "${outcome.versionSchema}".users`);
    expect(Number(filled.rows[0]!.wrong)).toBe(0);
  });
});
