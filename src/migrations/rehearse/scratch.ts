/**
 * Where a rehearsal runs: a scratch database on a scratch PostgreSQL server, never on the app's
 * server, so nothing a rehearsal does can take a lock the app would wait for. By default the server
 * is a throwaway embedded PostgreSQL in a temporary folder, started for the rehearsal and removed
 * after it; `--scratch-server` names one to reuse (a test file's, or `promote db start`'s).
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { wrapError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { ensureEmbeddedPostgres, stopEmbeddedPostgres } from '../../store/embedded/server.js';
import { ident } from '../sql.js';

export interface ScratchServer {
  /** a superuser URL of the server's maintenance database */
  adminUrl: string;
  stop(): Promise<void>;
}

export async function startScratchServer(log?: Logger): Promise<ScratchServer> {
  const folder = await mkdtemp(join(tmpdir(), 'promote-rehearse-'));
  // the server may run as another user (see store/embedded/run-as.ts)
  await chmod(folder, 0o755);
  const home = join(folder, 'pg');
  try {
    const server = await ensureEmbeddedPostgres({ home, durable: false, ...(log === undefined ? {} : { log }) });
    return {
      adminUrl: server.adminUrl,
      async stop() {
        await server.release();
        // release leaves the server up while connections remain: a scratch server goes regardless
        await stopEmbeddedPostgres(home, log);
        await rm(folder, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await stopEmbeddedPostgres(home, log).catch(() => undefined);
    await rm(folder, { recursive: true, force: true });
    throw wrapError('starting a scratch PostgreSQL for the rehearsal', error);
  }
}

export interface ScratchDatabase {
  url: string;
  drop(): Promise<void>;
}

export async function createScratchDatabase(adminUrl: string): Promise<ScratchDatabase> {
  const name = `promote_rehearse_${randomBytes(5).toString('hex')}`;
  await withAdmin(adminUrl, `creating scratch database ${name}`, (admin) => admin.query(`create database ${ident(name)}`));
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: () => withAdmin(adminUrl, `dropping scratch database ${name}`, (admin) => admin.query(`drop database if exists ${ident(name)} with (force)`)),
  };
}

async function withAdmin(adminUrl: string, doing: string, work: (admin: pg.Client) => Promise<unknown>): Promise<void> {
  const admin = new pg.Client({ connectionString: adminUrl, application_name: 'promote-rehearse' });
  admin.on('error', () => undefined);
  try {
    await admin.connect();
    await work(admin);
  } catch (error) {
    throw wrapError(doing, error);
  } finally {
    await admin.end().catch(() => undefined);
  }
}
