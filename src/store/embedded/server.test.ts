import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scratchFolder } from '../../../test/helpers/scratch.js';
import { embeddedStatus, ensureEmbeddedPostgres, stopEmbeddedPostgres } from './server.js';

async function query<T extends pg.QueryResultRow>(url: string, text: string): Promise<T[]> {
  const client = new pg.Client(url);
  await client.connect();
  try {
    return (await client.query<T>(text)).rows;
  } finally {
    await client.end();
  }
}

describe('embedded PostgreSQL', () => {
  let root: string;
  let counter = 0;
  const freshHome = () => join(root, `home-${++counter}`, 'pg');
  const homes: string[] = [];
  beforeAll(async () => {
    root = await scratchFolder('promote-embedded-');
  });
  afterAll(async () => {
    for (const home of homes) await stopEmbeddedPostgres(home).catch(() => undefined);
  });
  const track = (home: string) => (homes.push(home), home);

  it('initialises, serves, stops on release, and keeps the data for the next start', async () => {
    const home = track(freshHome());
    const first = await ensureEmbeddedPostgres({ home, durable: false });
    expect(first.startedHere).toBe(true);
    await query(first.url, "create table kept (value text); insert into kept values ('still here')");
    await first.release();
    expect((await embeddedStatus(home)).running).toBe(false);

    const second = await ensureEmbeddedPostgres({ home, durable: false });
    try {
      expect(second.startedHere).toBe(true);
      expect(await query<{ value: string }>(second.url, 'select value from kept')).toEqual([{ value: 'still here' }]);
    } finally {
      await second.release();
    }
  });

  it('joins a running server instead of starting another, and leaves a kept server running', async () => {
    const home = track(freshHome());
    const keeper = await ensureEmbeddedPostgres({ home, durable: false, keep: true });
    await keeper.release();
    const status = await embeddedStatus(home);
    expect(status).toMatchObject({ running: true, keptRunning: true });

    const joiner = await ensureEmbeddedPostgres({ home, durable: false });
    expect(joiner.startedHere).toBe(false);
    expect(joiner.port).toBe(keeper.port);
    await joiner.release();
    expect((await embeddedStatus(home)).running).toBe(true);

    expect(await stopEmbeddedPostgres(home)).toBe(true);
    expect((await embeddedStatus(home)).running).toBe(false);
    expect(await stopEmbeddedPostgres(home)).toBe(false);
  });

  it('lets concurrent starts share one initialisation and one server, stopped by the last one out', async () => {
    const home = track(freshHome());
    const servers = await Promise.all(Array.from({ length: 4 }, () => ensureEmbeddedPostgres({ home, durable: false })));
    expect(new Set(servers.map((server) => server.port)).size).toBe(1);
    expect(servers.filter((server) => server.startedHere)).toHaveLength(1);
    expect((await readdir(home)).filter((entry) => entry.startsWith('data'))).toEqual(['data']);
    // the starter leaves first while the others still work: the server must stay up for them
    const starter = servers.find((server) => server.startedHere)!;
    await starter.release();
    expect((await embeddedStatus(home)).running).toBe(true);
    expect(await query<{ one: number }>(servers.find((server) => !server.startedHere)!.url, 'select 1 as one')).toEqual([{ one: 1 }]);
    for (const server of servers.filter((each) => each !== starter)) await server.release();
    expect((await embeddedStatus(home)).running).toBe(false);
  });

  it('refuses a data folder it did not create, and touches nothing in it', async () => {
    const home = track(freshHome());
    await mkdir(join(home, 'data'), { recursive: true });
    await writeFile(join(home, 'data', 'PG_VERSION'), '16\n');
    await expect(ensureEmbeddedPostgres({ home, durable: false })).rejects.toThrow(/exists but was not created by Promote/);
    expect(await readdir(join(home, 'data'))).toEqual(['PG_VERSION']);
  });

  it('refuses a folder holding unrelated files', async () => {
    const home = track(freshHome());
    await mkdir(home, { recursive: true });
    await writeFile(join(home, 'notes.txt'), 'mine');
    await expect(ensureEmbeddedPostgres({ home, durable: false })).rejects.toThrow(/holds files Promote did not create \(notes\.txt\)/);
  });

  it('refuses to re-initialise when the data folder of an initialised store is gone', async () => {
    const home = track(freshHome());
    const server = await ensureEmbeddedPostgres({ home, durable: false });
    await server.release();
    await rm(join(home, 'data'), { recursive: true });
    await expect(ensureEmbeddedPostgres({ home, durable: false })).rejects.toThrow(/is missing although .* says it was initialised/);
    expect(await readdir(home)).not.toContain('data');
  });

  it('reports a damaged data folder and a damaged marker instead of guessing', async () => {
    const home = track(freshHome());
    const server = await ensureEmbeddedPostgres({ home, durable: false });
    await server.release();
    await rm(join(home, 'data', 'PG_VERSION'));
    await expect(ensureEmbeddedPostgres({ home, durable: false })).rejects.toThrow(/is damaged: .*PG_VERSION is missing/);
    await writeFile(join(home, 'data', 'PG_VERSION'), '15\n');
    await expect(ensureEmbeddedPostgres({ home, durable: false })).rejects.toThrow(/was created by PostgreSQL 15, but this Promote bundles PostgreSQL 18/);
    await writeFile(join(home, 'promote-pg.json'), '{ not json');
    await expect(ensureEmbeddedPostgres({ home, durable: false })).rejects.toThrow(/promote-pg\.json is damaged/);
  });

  it('keeps the generated password out of every file but the private marker', async () => {
    const home = track(freshHome());
    const server = await ensureEmbeddedPostgres({ home, durable: false });
    await server.release();
    const marker = JSON.parse(await readFile(join(home, 'promote-pg.json'), 'utf8')) as { password: string };
    expect(marker.password.length).toBeGreaterThanOrEqual(24);
    const log = await readFile(join(home, 'postgres.log'), 'utf8');
    expect(log).not.toContain(marker.password);
    expect((await readdir(home)).filter((entry) => entry.startsWith('pwfile-'))).toEqual([]);
  });
});
