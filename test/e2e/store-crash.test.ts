import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stopEmbeddedPostgres } from '../../src/store/embedded/server.js';
import { collect, runBuilt, spawnCli } from '../helpers/cli.js';
import { scratchFolder } from '../helpers/scratch.js';

/**
 * Fault injection: the CLI is killed with SIGKILL at moments spread over store initialisation
 * (initdb, server start, schema migrations), sometimes together with its PostgreSQL. The next start
 * must recover without losing or duplicating anything and without any manual step.
 */
describe('a process killed during state store initialisation', () => {
  let root: string;
  const homes: string[] = [];
  beforeAll(async () => {
    root = await scratchFolder('promote-crash-');
  });
  afterAll(async () => {
    for (const home of homes) await stopEmbeddedPostgres(home).catch(() => undefined);
  });

  async function killDuringInit(home: string, when: 'initdb' | number, killServerToo: boolean) {
    const child = spawnCli(['db', 'start'], { cwd: root, env: { PROMOTE_HOME: home } });
    const finished = collect(child);
    if (when === 'initdb') {
      // wait until initdb is writing its scratch folder, then kill mid-way
      for (;;) {
        const entries = await readdir(home).catch(() => [] as string[]);
        if (entries.some((entry) => entry.startsWith('data.init-'))) break;
        if (child.exitCode !== null) throw new Error('the CLI finished before initdb could be interrupted');
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    } else {
      await new Promise((resolve) => setTimeout(resolve, when));
    }
    child.kill('SIGKILL');
    await finished;
    if (killServerToo) {
      const pidFile = await readFile(join(home, 'data', 'postmaster.pid'), 'utf8').catch(() => '');
      const pid = Number(pidFile.split('\n')[0]);
      if (pid > 0) process.kill(pid, 'SIGKILL');
    }
  }

  async function expectRecovered(home: string) {
    const started = await runBuilt(['db', 'start'], { cwd: root, env: { PROMOTE_HOME: home } });
    expect(started.stderr).toBe('');
    expect(started.code).toBe(0);
    const status = await runBuilt(['db', 'status', '--json'], { cwd: root, env: { PROMOTE_HOME: home } });
    expect(status.code).toBe(0);
    const report = JSON.parse(status.stdout) as { running: boolean; initialised: boolean; store: { pendingMigrations: number; schemaVersion: number } };
    expect(report).toMatchObject({ running: true, initialised: true, store: { pendingMigrations: 0 } });
    expect(report.store.schemaVersion).toBeGreaterThan(0);
    expect((await readdir(home)).filter((entry) => entry.startsWith('data'))).toEqual(['data']);
    const stopped = await runBuilt(['db', 'stop'], { cwd: root, env: { PROMOTE_HOME: home } });
    expect(stopped.code).toBe(0);
  }

  it('recovers when killed while initdb is running', async () => {
    const home = join(root, 'initdb', 'pg');
    homes.push(home);
    await killDuringInit(home, 'initdb', false);
    await expectRecovered(home);
  });

  // spread over the whole start: module load, initdb, pg_ctl start, migrations
  for (const delay of [200, 600, 1200, 2000]) {
    for (const killServerToo of [false, true]) {
      it(`recovers when killed after ${delay} ms${killServerToo ? ' together with its PostgreSQL' : ''}`, async () => {
        const home = join(root, `after-${delay}-${killServerToo}`, 'pg');
        homes.push(home);
        await killDuringInit(home, delay, killServerToo);
        await expectRecovered(home);
      });
    }
  }

  it('lets three processes initialise the same fresh folder at once', async () => {
    const home = join(root, 'race', 'pg');
    homes.push(home);
    const results = await Promise.all([1, 2, 3].map(() => runBuilt(['db', 'start'], { cwd: root, env: { PROMOTE_HOME: home } })));
    expect(results.map((result) => [result.code, result.stderr])).toEqual([[0, ''], [0, ''], [0, '']]);
    const ports = results.map((result) => /127\.0\.0\.1:(\d+)/.exec(result.stdout)?.[1]);
    expect(new Set(ports).size).toBe(1);
    await expectRecovered(home);
  });
});
