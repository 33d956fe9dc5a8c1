/**
 * A PostgreSQL of a test file's own, for tests that crash and restart it: the run's shared server is
 * left alone. The embedded server picks a new free port at each start (cluster.ts startServer), so the
 * restart here runs pg_ctl itself with the port it had: pools keep their URL, as an app's would keep
 * a fixed database address. Stopped after the file's tests.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import pg from 'pg';
import { locateBinaries } from '../../src/store/embedded/binaries.js';
import { resolveRunAs } from '../../src/store/embedded/run-as.js';
import { ensureEmbeddedPostgres, stopEmbeddedPostgres, type EmbeddedServer } from '../../src/store/embedded/server.js';
import { afterFile } from './cleanup.js';
import { scratchFolder } from './scratch.js';

export interface PrivatePostgres {
  server: EmbeddedServer;
  home: string;
  /** A crash, not a shutdown: the postmaster quits its backends at once and the next start replays the WAL. */
  crashAndRestart(): Promise<void>;
  /** a pool that survives the crash (idle errors ignored), closed after the file's tests */
  pool(application: string, max: number): pg.Pool;
}

export async function startPrivatePostgres(prefix: string): Promise<PrivatePostgres> {
  const home = join(await scratchFolder(prefix), 'pg');
  const server = await ensureEmbeddedPostgres({ home, durable: false });
  // not server.release(): its lease connection dies in the crash
  afterFile('stopping the private PostgreSQL', () => stopEmbeddedPostgres(home));

  /** pg_ctl on the private server, as the user the server runs as (root hands it over to `postgres`). */
  async function pgCtl(args: string[]): Promise<void> {
    const [binaries, runAs] = await Promise.all([locateBinaries(), resolveRunAs()]);
    await new Promise<void>((resolve, reject) => {
      execFile(binaries.pgCtl, [...args, '--pgdata', join(home, 'data'), '--wait', '--timeout', '60', '--silent'],
        { uid: runAs.uid, gid: runAs.gid, cwd: home, timeout: 90_000, env: { ...process.env, LC_ALL: 'C' } },
        (error, stdout, stderr) => (error ? reject(new Error(`pg_ctl ${args[0]} on ${home}: ${(stderr || stdout || error.message).trim()}`)) : resolve()));
    });
  }

  return {
    server,
    home,
    async crashAndRestart() {
      await pgCtl(['stop', '--mode', 'immediate']);
      await pgCtl(['start', '--log', join(home, 'postgres.log'), '--options', `-p ${server.port}`]);
    },
    pool(application, max) {
      // synchronous commit asked for (the test server turns it off): an acknowledged commit is then
      // in the WAL the crash recovery replays, which is what "acknowledged" promises on a real server
      const created = new pg.Pool({ connectionString: server.url, max, application_name: application, options: '-c synchronous_commit=on', connectionTimeoutMillis: 5_000 });
      created.on('error', () => undefined); // the crash ends every connection; the pools must survive it
      afterFile(`closing the ${application} pool`, () => created.end());
      return created;
    },
  };
}

/**
 * `accounts` with `rows` rows, and a log of every update the migrator makes to them (application
 * name `migrator`): a backfill's no-op update of a row must happen once at most, so a row logged
 * twice was visited twice.
 */
export async function createVisitLoggedAccounts(admin: pg.Pool, rows: number): Promise<void> {
  await admin.query(`
    create table accounts (id serial primary key, name text not null);
    insert into accounts (name) select 'name ' || g from generate_series(1, ${rows}) g;
    create table backfill_visits (id int not null);
    create function log_visit() returns trigger language plpgsql as $$
    begin insert into backfill_visits values (new.id); return new; end $$;
    create trigger log_visit after update on accounts for each row
      when (current_setting('application_name') = 'migrator') execute function log_visit();
    analyze accounts;`);
}
