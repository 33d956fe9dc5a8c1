/**
 * A promotion with a migration (expand with its backfill, canary steps, a test, promote, contract)
 * while steady load goes through a router running as its own process, and the controller SIGKILLed at
 * seeded points of the rollout's progress, then started again each time. The router follows the
 * routing table in the store, and the instances run detached, so a dead controller must cost no
 * request. The rollout must end as an uninterrupted one ends, with every step and action recorded
 * once and the audit chain intact.
 *
 * The load is read-only: the migration runs on the app's database, but the app (canary-app.mjs) does
 * not write to it, so no write can meet the contract's known windows (see the runner's complete).
 */
import type { ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import pg from 'pg';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyEventChain } from '../../src/store/index.js';
import { freePort } from '../../src/system/processes.js';
import { afterFile } from '../helpers/cleanup.js';
import { collect, runInProcess, spawnCli } from '../helpers/cli.js';
import { createTestDatabase, createUsersDatabase } from '../helpers/database.js';
import { stopDeployedVersions } from '../helpers/instances.js';
import { createReleases, killLeftoversOnExit, steadyLoad } from '../helpers/promote-server.js';
import { scratchFolder } from '../helpers/scratch.js';

const canaryApp = fileURLToPath(new URL('../fixtures/canary-app.mjs', import.meta.url));
const ENDED = ['Healthy', 'RolledBack', 'Degraded', 'Aborted'];
const SEED = Number(process.env.PROMOTE_TEST_SEED ?? 20261123);
/** kill points, drawn among the first EVENTS events the rollout records (about as many as an uninterrupted one records) */
const KILLS = Number(process.env.PROMOTE_TEST_KILLS ?? 6);
const EVENTS = 33;
const ROWS = 5_000;

describe('a promotion under load with its controller killed at seeded points', () => {
  let folder: string;
  let env: Record<string, string>;
  let store: pg.Pool;
  let columns: () => Promise<string[]>;
  let appDb: pg.Pool;
  let router: ChildProcess | undefined;
  let routerOutput: ReturnType<typeof collect> | undefined;
  let controller: ChildProcess | undefined;
  let routerPort: number;
  const marker = `controller-kill-${process.pid}`;

  beforeAll(async () => {
    folder = await scratchFolder('promote-controller-kill-');
    const appDatabase = await createUsersDatabase(ROWS);
    ({ pool: appDb, userColumns: columns } = appDatabase);
    const storeUrl = (await createTestDatabase()).url;
    env = { DATABASE_URL: storeUrl, PROMOTE_ACTOR: 'kill-test', PROMOTE_LOG_LEVEL: 'silent' };
    store = new pg.Pool({ connectionString: storeUrl, max: 2 });
    afterFile('closing the store pool', () => store.end());
    const adminPort = await freePort();
    routerPort = await freePort();
    const environment = (strategy: string) => `  - name: staging
    database: ${appDatabase.url}
    target: { type: process, command: "node ${canaryApp}", instances: 1, env: { PROMOTE_TEST_MARKER: ${marker} }, readiness: { path: /healthz, timeout: 10s, interval: 100ms }, drainTimeout: 1s }
    router: { listen: 127.0.0.1:${routerPort}, admin: 127.0.0.1:${adminPort} }
    strategy: ${strategy}`;
    await writeFile(join(folder, 'promote.yaml'), `version: 1
app: { name: shop }
environments:
${environment('canary')}
strategies:
  canary:
    type: canary
    steps:
      - migrate: expand
      - test: { name: health, http: { path: /healthz, expectBody: ok } }
      - setWeight: 20
      - pause: { duration: 1s }
      - setWeight: 50
      - pause: { duration: 1s }
      - promote: {}
      - migrate: contract
`);
    await writeFile(join(folder, 'first.yaml'), `version: 1\napp: { name: shop }\nenvironments:\n${environment('first')}\nstrategies:\n  first:\n    type: canary\n    steps:\n      - promote: {}\n`);
    await mkdir(join(folder, 'migrations'));
    await createReleases(folder, env, ['v1']);
    const first = await runInProcess(['--config', 'first.yaml', 'deploy', 'v1', '--env', 'staging', '--wait'], { cwd: folder, env });
    expect(first.code, first.stderr).toBe(0);
    await writeFile(join(folder, 'migrations', '01_add_email.yaml'), `operations:\n  - add_column:\n      table: users\n      up: lower(replace(name, ' ', '')) || '@example.com'\n      column: { name: email, type: text }\n`);
    await createReleases(folder, env, ['v2']);

    // the router as its own long-lived process, as in production: it outlives every controller
    router = spawnCli(['router', '--env', 'staging'], { cwd: folder, env });
    routerOutput = collect(router);
    afterFile('disarming the leftover killer', killLeftoversOnExit(marker, () => [router, controller]));
    let up = false;
    for (let waited = 0; !up && waited < 15_000; waited += 100) {
      await sleep(100);
      up = await request(`http://127.0.0.1:${adminPort}/healthz`).then(async (response) => (await response.body.dump(), response.statusCode === 200), () => false);
    }
    if (!up) throw new Error(`promote router did not come up: ${JSON.stringify(await routerOutput)}`);
  }, 60_000);

  afterAll(async () => {
    controller?.kill('SIGKILL');
    if (router?.exitCode === null) router.kill('SIGTERM');
    await routerOutput;
    await stopDeployedVersions(folder, ['v1', 'v2']);
  });

  const rolloutOf = async (id: number) =>
    (await store.query<{ phase: string; reason: string | null; step: number; weights: Record<string, number> }>(
      'select phase, phase_reason as reason, current_step as step, weights from promote.rollouts where id = $1', [id])).rows[0]!;
  const eventsOf = async (id: number) => Number((await store.query<{ count: string }>('select count(*) from promote.events where rollout_id = $1', [id])).rows[0]!.count);

  function startController(): Promise<unknown> {
    controller = spawnCli(['controller'], { cwd: folder, env });
    return collect(controller);
  }

  it('ends Healthy with the migration complete, no failed request, nothing recorded twice and the chain intact', async () => {
    const seen = new Map<string, number>();
    const load = steadyLoad(`http://127.0.0.1:${routerPort}/`, 4, (response) => {
      const key = response === undefined ? 'refused' : `${String(response.headers['x-promote-version'] ?? '-')} ${response.statusCode}`;
      seen.set(key, (seen.get(key) ?? 0) + 1);
    });
    for (let waited = 0; waited < 10_000 && (seen.get('v1 200') ?? 0) < 50; waited += 50) await sleep(50);
    expect([...seen.keys()]).toEqual(['v1 200']);

    const deployed = await runInProcess(['deploy', 'v2', '--env', 'staging', '--json'], { cwd: folder, env });
    expect(deployed.code, deployed.stderr).toBe(0);
    const id = (JSON.parse(deployed.stdout) as { id: number }).id;

    // kills at seeded points of the rollout's own progress (after its n-th event), not at seeded times:
    // however slow the machine, each lands inside the rollout
    const thresholds = [...new Set(fc.sample(fc.integer({ min: 2, max: EVENTS }), { seed: SEED, numRuns: 200 }))].slice(0, KILLS).sort((a, b) => a - b);
    const killedAt: string[] = [];
    for (const threshold of thresholds) {
      if (ENDED.includes((await rolloutOf(id)).phase)) break;
      const spawnedAt = Date.now();
      const eventsAtSpawn = await eventsOf(id);
      const done = startController();
      for (let waited = 0; waited < 30_000 && (await eventsOf(id)) < threshold; waited += 10) {
        if (waited % 200 === 0 && ENDED.includes((await rolloutOf(id)).phase)) break;
        await sleep(10);
      }
      controller!.kill('SIGKILL');
      await done;
      const where = await store.query<{ step: number; open: string }>(
        "select current_step as step, (select count(*) from promote.rollout_actions where rollout_id = $1 and status = 'started') as open from promote.rollouts where id = $1", [id]);
      killedAt.push(`${threshold}@step${where.rows[0]!.step}${where.rows[0]!.open === '0' ? '' : '(action open)'}[${eventsAtSpawn}->${await eventsOf(id)} in ${Date.now() - spawnedAt}ms]`);
    }
    // then one controller to the end, undisturbed
    const done = startController();
    let final = await rolloutOf(id);
    for (let waited = 0; waited < 60_000 && !ENDED.includes(final.phase); waited += 100) {
      await sleep(100);
      final = await rolloutOf(id);
    }
    // the load keeps going a moment on the final table
    const atEnd = new Map(seen);
    await sleep(500);
    controller!.kill('SIGTERM');
    await done;
    await load.stop();
    const events = await eventsOf(id);
    console.log(`controller kills (threshold@step): ${killedAt.join(' ')}; ${events} events; load: ${JSON.stringify(Object.fromEntries(seen))}`);

    expect(final, final.reason ?? '').toMatchObject({ phase: 'Healthy', reason: 'v2 serves all traffic', weights: { v2: 100, v1: 0 } });
    expect(killedAt.length).toBeGreaterThanOrEqual(Math.min(KILLS, 5));
    // the migration is complete: the new column is the table's own and filled
    expect(await columns()).toEqual(['id', 'name', 'email']);
    const wrong = await appDb.query<{ count: string }>(`select count(*) from users where email is distinct from lower(replace(name, ' ', '')) || '@example.com'`);
    expect(Number(wrong.rows[0]!.count)).toBe(0);
    const history = JSON.parse((await runInProcess(['migrate', 'history', '--env', 'staging', '--json'], { cwd: folder, env })).stdout) as Array<{ name: string; phase: string }>;
    expect(history.map((run) => [run.name, run.phase])).toEqual([['01_add_email', 'completed']]);

    // no failed request through the router, whatever the controller went through; v2 serves everyone at the end
    expect([...seen.keys()].sort()).toEqual(['v1 200', 'v2 200']);
    const after = [...seen].map(([key, count]) => [key, count - (atEnd.get(key) ?? 0)] as const).filter(([, count]) => count > 0);
    expect(after.map(([key]) => key)).toEqual(['v2 200']);

    // every step once, in plan order; each action started and finished once; the chain holds
    const trail = await store.query<{ type: string; data: { step?: number; label?: string; action?: unknown } }>('select type, data from promote.events where rollout_id = $1 order by seq', [id]);
    const completed = trail.rows.filter((event) => event.type === 'step.completed').map((event) => event.data.label);
    expect(completed).toEqual(['migrate expand', 'test health', 'setWeight 20', 'pause 1s', 'setWeight 50', 'pause 1s', 'promote', 'migrate contract']);
    const started = trail.rows.filter((event) => event.type === 'action.started').map((event) => (event.data.action as { id: string }).id);
    expect(new Set(started).size, 'an action was started twice').toBe(started.length);
    const finished = trail.rows.filter((event) => event.type === 'action.succeeded' || event.type === 'action.failed').map((event) => String(event.data.action));
    const actionTrail = trail.rows.filter((event) => event.type.startsWith('action.')).map((event) => `${event.type} ${JSON.stringify(event.data)}`);
    expect([...finished].sort(), actionTrail.join('\n')).toEqual([...started].sort());
    expect(trail.rows.filter((event) => event.type === 'action.failed')).toEqual([]);
    const twice = await store.query(`
      select type, coalesce(data->'action'->>'id', data->>'action', data->>'step', data->>'to') as key, count(*) as count
        from promote.events where rollout_id = $1
         and (type in ('action.started', 'action.succeeded', 'action.failed', 'step.completed', 'rollout.created')
              or (type = 'rollout.phase' and data->>'to' in ('Healthy', 'RolledBack')))
       group by 1, 2 having count(*) > 1`, [id]);
    expect(twice.rows).toEqual([]);
    expect(await verifyEventChain(store)).toMatchObject({ ok: true });
  }, 180_000);
});
