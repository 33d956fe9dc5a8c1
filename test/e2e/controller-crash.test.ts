import { randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRollout } from '../../src/engine/start.js';
import { parseSpec, type PromoteSpec } from '../../src/spec/index.js';
import { createRelease, upsertApp, verifyEventChain } from '../../src/store/index.js';
import { findProcessesByEnv } from '../../src/system/processes.js';
import { collect, spawnCli } from '../helpers/cli.js';
import { createStorePool } from '../helpers/database.js';
import { stopDeployedVersions } from '../helpers/instances.js';
import { scratchFolder } from '../helpers/scratch.js';

const app = fileURLToPath(new URL('../fixtures/target-app.mjs', import.meta.url));

/**
 * Fault injection: the controller process is SIGKILLed at seeded random moments while rollouts run,
 * and started again each time. Every rollout must end where an uninterrupted one ends, no event may
 * be recorded twice, and the audit chain must verify.
 */
describe('a controller killed at random points', () => {
  let db: pg.Pool;
  let url: string;
  let folder: string;
  let spec: PromoteSpec;
  /** in every instance's environment: finds instances that outlive their teardown, recorded or not */
  const mark = randomUUID();

  beforeAll(async () => {
    ({ pool: db, url } = await createStorePool());
    folder = await scratchFolder('promote-controller-crash-');
    const text = `version: 1
app: { name: shop }
environments:
  - name: staging
    database: postgres://localhost/shop
    target: { type: process, command: "node ${app}", env: { CRASH_TEST_MARK: "${mark}" }, instances: 2, readiness: { path: /healthz, timeout: 10s, interval: 50ms }, drainTimeout: 1s }
    strategy: canary
strategies:
  canary:
    type: canary
    steps:
      - test: { name: smoke, run: 'case "$PROMOTE_VERSION" in *bad*) exit 1;; esac', timeout: 20s }
      - setWeight: 10
      - pause: { duration: 300ms }
      - test: { name: health, http: { path: /healthz } }
      - setWeight: 50
      - pause: { duration: 300ms }
      - promote: {}
`;
    await writeFile(join(folder, 'promote.yaml'), text);
    const parsed = parseSpec(text, { file: 'promote.yaml' });
    if (!parsed.ok) throw new Error('spec');
    spec = parsed.spec;
    await upsertApp(db, { name: 'shop' });
    for (const version of ['v1', 'v2', 'v3-bad']) await createRelease(db, { app: 'shop', version, digest: `sha256:${'0'.repeat(63)}${['v1', 'v2', 'v3-bad'].indexOf(version)}`, migrationChecksums: {} });
  });
  afterAll(async () => {
    await stopDeployedVersions(folder, ['v1', 'v2', 'v3-bad']);
  });

  const phaseOf = async (id: number) => (await db.query<{ phase: string; reason: string }>('select phase, phase_reason as reason from promote.rollouts where id = $1', [id])).rows[0]!;

  /** where each kill landed: the rollout, its step, and how many of its actions were still open */
  const killedAt: string[] = [];
  const eventsOf = async (id: number) => Number((await db.query<{ count: string }>('select count(*) from promote.events where rollout_id = $1', [id])).rows[0]!.count);

  /**
   * Kills fall at seeded points of the rollout's own progress (after its n-th recorded event), not at
   * seeded times: however fast or slow the machine, every kill lands inside the rollout.
   */
  async function runWithKills(rolloutId: number, thresholds: number[]): Promise<{ phase: string; reason: string }> {
    const env = { DATABASE_URL: url, PROMOTE_LOG_LEVEL: 'silent' };
    for (const threshold of thresholds) {
      if (['Healthy', 'RolledBack', 'Degraded', 'Aborted'].includes((await phaseOf(rolloutId)).phase)) break;
      const child = spawnCli(['controller'], { cwd: folder, env });
      const done = collect(child);
      for (let waited = 0; waited < 20_000 && (await eventsOf(rolloutId)) < threshold; waited += 10) {
        if (waited % 200 === 0 && ['Healthy', 'RolledBack', 'Degraded', 'Aborted'].includes((await phaseOf(rolloutId)).phase)) break;
        await sleep(10);
      }
      child.kill('SIGKILL');
      await done;
      const where = await db.query<{ step: number; open: string }>(
        "select current_step as step, (select count(*) from promote.rollout_actions where rollout_id = $1 and status = 'started') as open from promote.rollouts where id = $1",
        [rolloutId],
      );
      killedAt.push(`${rolloutId}:${where.rows[0]!.step}:${where.rows[0]!.open}`);
    }
    // then one controller runs to the end undisturbed
    const child = spawnCli(['controller'], { cwd: folder, env });
    const done = collect(child);
    for (let waited = 0; waited < 60_000; waited += 100) {
      const state = await phaseOf(rolloutId);
      if (['Healthy', 'RolledBack', 'Degraded', 'Aborted'].includes(state.phase)) break;
      await sleep(100);
    }
    // let the last outcomes land before stopping it
    await sleep(300);
    child.kill('SIGTERM');
    await done;
    return phaseOf(rolloutId);
  }

  /** `count` distinct kill points among the first `events` events of a rollout */
  const seeded = (seed: number, count: number, events: number) => [...new Set(fc.sample(fc.integer({ min: 2, max: events }), { seed, numRuns: 200 }))].slice(0, count).sort((a, b) => a - b);

  it('ends every rollout where an uninterrupted run ends, records nothing twice, and keeps the chain', async () => {
    const outcomes: Array<[string, string]> = [];
    // uninterrupted, these rollouts record about 30, 40 and 16 events: 39 seeded kill points fall among
    // them; a few may come after the rollout has already finished, when a kill lands after several events
    const plans: Array<[string, number, number]> = [['v1', 15, 26], ['v2', 15, 34], ['v3-bad', 9, 12]];
    for (const [index, [version, kills, events]] of plans.entries()) {
      const rollout = await startRollout(db, { spec, environment: 'staging', version, actor: 'crash-test' });
      const final = await runWithKills(rollout.id, seeded(20261123 + index, kills, events));
      outcomes.push([version, final.phase]);
    }
    // the kills landed across the rollouts: at many steps, and some while an action was under way
    expect(killedAt.length).toBeGreaterThanOrEqual(30);
    expect(new Set(killedAt.map((where) => where.split(':').slice(0, 2).join(':'))).size).toBeGreaterThanOrEqual(9);
    expect(killedAt.filter((where) => where.split(':')[2] !== '0').length).toBeGreaterThanOrEqual(3);
    expect(outcomes).toEqual([
      ['v1', 'Healthy'],
      ['v2', 'Healthy'],
      ['v3-bad', 'RolledBack'],
    ]);
    expect(await verifyEventChain(db)).toMatchObject({ ok: true });
    const twice = await db.query<{ type: string; key: string; count: string }>(`
      select type, coalesce(data->'action'->>'id', data->>'action', (data->>'step') || '/' || coalesce(rollout_id::text, ''), data->>'to') as key, count(*) as count
      from promote.events
      where type in ('action.started', 'action.succeeded', 'action.failed', 'rollout.created')
         or (type = 'rollout.phase' and data->>'to' in ('Healthy', 'RolledBack'))
      group by 1, 2, rollout_id having count(*) > 1`);
    expect(twice.rows).toEqual([]);
    const steps = await db.query<{ count: string }>(`select count(*) from (select rollout_id, data->>'step' from promote.events where type = 'step.completed' group by 1, 2 having count(*) > 1) repeated`);
    expect(Number(steps.rows[0]!.count)).toBe(0);
    // no instance escaped its records: tearing down what the records name leaves nothing running
    await stopDeployedVersions(folder, ['v1', 'v2', 'v3-bad']);
    expect(findProcessesByEnv('CRASH_TEST_MARK', mark)).toEqual([]);
  }, 240_000);
});
