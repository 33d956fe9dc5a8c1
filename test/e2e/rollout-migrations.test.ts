/**
 * A rollout that carries a schema migration: expand before the release takes traffic (its instances
 * are told their schema version), contract once the old version is gone, and an aborted rollout
 * rolls its expand back. Real app database, real instances, the CLI as a user runs it.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/system/processes.js';
import { runInProcess } from '../helpers/cli.js';
import { createTestDatabase, createUsersDatabase } from '../helpers/database.js';
import { stopDeployedVersions } from '../helpers/instances.js';
import { apiClient, createReleases, rollOut, startPromoteServer, type Api } from '../helpers/promote-server.js';
import { scratchFolder } from '../helpers/scratch.js';

const app = fileURLToPath(new URL('../fixtures/target-app.mjs', import.meta.url));
const VERSIONS = ['1.0.0', '1.1.0', '1.2.0', '1.3.0'];

describe('a rollout with migrations', () => {
  let folder: string;
  let env: Record<string, string>;
  let appDb: pg.Pool;
  let server: ChildProcess | undefined;
  let output: Promise<unknown> | undefined;
  let api: Api;
  const cli = (...args: string[]) => runInProcess(args, { cwd: folder, env });

  /** Resumes the paused rollout and waits for it to end. */
  async function resume(id: number): Promise<string> {
    expect(await api('POST', `/api/environments/staging/resume`, {})).not.toHaveProperty('error');
    for (let waited = 0; waited < 60_000; waited += 200) {
      const rollout = await api('GET', `/api/rollouts/${id}`);
      if (['Healthy', 'RolledBack', 'Degraded', 'Aborted'].includes(String(rollout.phase))) return String(rollout.phase);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    throw new Error(`rollout ${id} did not end after resume`);
  }

  async function schemaVersionOf(version: string): Promise<string | undefined> {
    const table = JSON.parse((await cli('traffic', 'get', '--env', 'staging', '--json')).stdout) as { config: { versions: { name: string; upstreams: string[] }[] } };
    const upstream = table.config.versions.find((each) => each.name === version)?.upstreams[0];
    if (upstream === undefined) throw new Error(`${version} has no instance in the routing table`);
    const echo = (await (await fetch(upstream)).json()) as { schemaVersion?: string };
    return echo.schemaVersion;
  }

  let columns: () => Promise<string[]>;

  beforeAll(async () => {
    folder = await scratchFolder('promote-rollout-migrations-');
    const appDatabase = await createUsersDatabase(200);
    ({ pool: appDb, userColumns: columns } = appDatabase);
    env = { DATABASE_URL: (await createTestDatabase()).url, PROMOTE_ACTOR: 'release-bot' };
    await mkdir(join(folder, 'migrations'));
    await writeFile(
      join(folder, 'promote.yaml'),
      `version: 1
app: { name: shop }
environments:
  - name: staging
    database: ${appDatabase.url}
    target: { type: process, command: "node ${app}", readiness: { path: /healthz, timeout: 10s, interval: 100ms }, drainTimeout: 1s }
    strategy: canary
strategies:
  canary:
    type: canary
    steps:
      - migrate: expand
      - setWeight: 25
      - pause: {}
      - promote: {}
      - migrate: contract
`,
    );
    // a release is recorded with the migration files of its time: each test writes its migrations first
    await createReleases(folder, env, ['1.0.0']);
    const apiPort = await freePort();
    ({ child: server, output } = await startPromoteServer(folder, env, apiPort));
    api = apiClient(apiPort);
  }, 40_000);
  afterAll(async () => {
    if (server?.exitCode === null) server.kill('SIGTERM');
    await output;
    await stopDeployedVersions(folder, VERSIONS);
  });

  it('runs a release without migrations through the migrate steps as no-ops', async () => {
    const paused = await rollOut(api, '1.0.0');
    expect(paused.phase).toBe('Paused');
    expect(await resume(paused.id)).toBe('Healthy');
    expect(await schemaVersionOf('1.0.0')).toBeUndefined();
  }, 60_000);

  it('expands before the release takes traffic, tells its instances their schema version, and contracts after promote', async () => {
    await writeFile(join(folder, 'migrations', '01_add_email.yaml'), `operations:\n  - add_column:\n      table: users\n      up: lower(replace(name, ' ', '')) || '@example.com'\n      column: { name: email, type: text }\n`);
    await createReleases(folder, env, ['1.1.0']);
    const paused = await rollOut(api, '1.1.0');
    expect(paused, paused.reason).toMatchObject({ phase: 'Paused' });
    // both versions live: the old one reads the table as it was, the new one through its views
    expect(await schemaVersionOf('1.1.0')).toBe('public_01_add_email');
    expect(await schemaVersionOf('1.0.0')).toBeUndefined();
    const newShape = await appDb.query<{ email: string }>('select email from public_01_add_email.users where id = 7');
    expect(newShape.rows).toEqual([{ email: 'user7@example.com' }]);
    expect(await columns()).toContain('_promote_new_email');

    expect(await resume(paused.id)).toBe('Healthy');
    expect(await columns()).toEqual(['id', 'name', 'email']);
    const history = JSON.parse((await cli('migrate', 'history', '--env', 'staging', '--json')).stdout) as { name: string; phase: string }[];
    expect(history.map((run) => [run.name, run.phase])).toEqual([['01_add_email', 'completed']]);
  }, 90_000);

  it('rolls the expand back when the rollout is aborted', async () => {
    await writeFile(join(folder, 'migrations', '02_add_age.yaml'), `operations:\n  - add_column:\n      table: users\n      column: { name: age, type: int, nullable: true }\n`);
    await createReleases(folder, env, ['1.2.0']);
    const paused = await rollOut(api, '1.2.0');
    expect(paused, paused.reason).toMatchObject({ phase: 'Paused' });
    expect(await columns()).toContain('_promote_new_age');
    expect(await api('POST', `/api/environments/staging/abort`, { reason: 'testing the rollback' })).not.toHaveProperty('error');
    for (let waited = 0; waited < 30_000 && String((await api('GET', `/api/rollouts/${paused.id}`)).phase) !== 'Aborted'; waited += 200) await new Promise((resolve) => setTimeout(resolve, 200));
    expect((await api('GET', `/api/rollouts/${paused.id}`)).phase).toBe('Aborted');
    expect(await columns()).toEqual(['id', 'name', 'email']);
    const status = JSON.parse((await cli('migrate', 'status', '--env', 'staging', '--json')).stdout) as { migration: { name: string; phase: string } };
    expect(status.migration).toMatchObject({ name: '01_add_email', phase: 'completed' });
    const history = JSON.parse((await cli('migrate', 'history', '--env', 'staging', '--json')).stdout) as { name: string; phase: string }[];
    expect(history.map((run) => [run.name, run.phase])).toEqual([
      ['01_add_email', 'completed'],
      ['02_add_age', 'rolled_back'],
    ]);
  }, 90_000);

  it('refuses to apply a migration edited after its release was recorded, and changes nothing', async () => {
    await writeFile(join(folder, 'migrations', '03_add_city.yaml'), `operations:\n  - add_column:\n      table: users\n      column: { name: city, type: text, nullable: true }\n`);
    await createReleases(folder, env, ['1.3.0']);
    await writeFile(join(folder, 'migrations', '03_add_city.yaml'), `operations:\n  - add_column:\n      table: users\n      column: { name: town, type: text, nullable: true }\n`);
    const settled = await rollOut(api, '1.3.0');
    expect(settled.phase).toBe('RolledBack');
    expect(settled.reason).toContain('is not what release 1.3.0 of shop was recorded with (changed: 03_add_city.yaml');
    expect(await columns()).toEqual(['id', 'name', 'email']);
  }, 90_000);
});
