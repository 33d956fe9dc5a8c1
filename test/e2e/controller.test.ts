import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Controller } from '../../src/engine/controller.js';
import { compileTraffic } from '../../src/router/pick.js';
import type { TrafficConfig } from '../../src/router/traffic.js';
import { createExecutor } from '../../src/engine/executor.js';
import { startRollout } from '../../src/engine/start.js';
import { parseSpec, type PromoteSpec } from '../../src/spec/index.js';
import { createRelease, getTraffic, upsertApp, verifyEventChain } from '../../src/store/index.js';
import { createTarget, type Target } from '../../src/targets/target.js';
import { createStorePool } from '../helpers/database.js';
import { scratchFolder } from '../helpers/scratch.js';

const app = fileURLToPath(new URL('../fixtures/target-app.mjs', import.meta.url));
const digest = (seed: string) => `sha256:${seed.padEnd(64, '0').slice(0, 64)}`;

function specText(): string {
  return `version: 1
app: { name: shop }
environments:
  - name: staging
    database: postgres://localhost/shop
    target: { type: process, command: "node ${app}", instances: 2, readiness: { path: /healthz, timeout: 10s, interval: 100ms }, drainTimeout: 2s }
    strategy: canary
  - name: production
    database: postgres://localhost/shop
    target: { type: process, command: "node ${app}", instances: 1, readiness: { path: /healthz, timeout: 10s, interval: 100ms }, drainTimeout: 2s }
    strategy: canary
strategies:
  canary:
    type: canary
    steps:
      - test: { name: smoke, run: 'case "$PROMOTE_VERSION" in *bad*) echo "smoke failed on $PROMOTE_URL"; exit 1;; esac', timeout: 30s }
      - test: { name: health, http: { path: /healthz } }
      - setWeight: 50
      - promote: {}
`;
}

describe('the controller runs rollouts with real processes', () => {
  let db: pg.Pool;
  let url: string;
  let spec: PromoteSpec;
  let target: Target;
  let controller: Controller;

  beforeAll(async () => {
    ({ pool: db, url } = await createStorePool());
    const parsed = parseSpec(specText(), { file: 'promote.yaml' });
    if (!parsed.ok) throw new Error(parsed.problems.map((problem) => problem.message).join('\n'));
    spec = parsed.spec;
    const staging = spec.environments[0]!;
    const stateDir = await scratchFolder('promote-controller-');
    target = createTarget(staging.target, { app: 'shop', environment: 'staging', stateDir, configDir: stateDir });
    controller = new Controller({ pool: db, databaseUrl: url, pollMs: 200, executor: createExecutor({ pool: db, target, environment: staging, configDir: stateDir, migrationsDir: `${stateDir}/migrations` }) });
    await controller.start();
    await upsertApp(db, { name: 'shop' });
    for (const version of ['v1', 'v2', 'v3-bad']) await createRelease(db, { app: 'shop', version, digest: digest(version.replace(/[^0-9a-f]/g, 'a')), migrationChecksums: {} });
  });
  afterAll(async () => {
    await controller?.stop();
    for (const version of ['v1', 'v2', 'v3-bad']) await target?.teardown(version);
    await target?.close();
  });

  async function settle(rolloutId: number): Promise<{ phase: string; phase_reason: string }> {
    for (let waited = 0; waited < 60_000; waited += 100) {
      const row = (await db.query<{ phase: string; phase_reason: string }>('select phase, phase_reason from promote.rollouts where id = $1', [rolloutId])).rows[0]!;
      if (['Healthy', 'Degraded', 'RolledBack', 'Aborted'].includes(row.phase)) return row;
      await sleep(100);
    }
    throw new Error(`rollout ${rolloutId} did not finish within 60 s`);
  }

  const weights = async () => {
    const table = await getTraffic(db, 'shop', 'staging');
    return Object.fromEntries(((table?.config.versions ?? []) as Array<{ name: string; weight: number }>).map((version) => [version.name, version.weight]));
  };

  it('takes the first release to Healthy', async () => {
    const rollout = await startRollout(db, { spec, environment: 'staging', version: 'v1', actor: 'alice' });
    expect(await settle(rollout.id)).toMatchObject({ phase: 'Healthy', phase_reason: 'v1 serves all traffic' });
    expect(await weights()).toEqual({ v1: 100 });
    expect((await target.instances('v1'))?.urls).toHaveLength(2);
  }, 60_000);

  it('canaries the second release, switches, and retires the first', async () => {
    const rollout = await startRollout(db, { spec, environment: 'staging', version: 'v2', actor: 'alice' });
    expect(await settle(rollout.id)).toMatchObject({ phase: 'Healthy' });
    expect(await weights()).toEqual({ v2: 100 });
    expect(await target.instances('v1')).toBeUndefined();
    const history = await db.query<{ data: { config: { versions: Array<{ name: string; weight: number }> } } }>("select data from promote.events where type = 'traffic.changed' and rollout_id is null order by seq");
    const splits = history.rows.map((row) => row.data.config.versions.map((version) => `${version.name}:${version.weight}`).join(' '));
    expect(splits).toContain('v2:50 v1:50');
  }, 60_000);

  it('rolls a release whose smoke test fails back to the one serving, by itself', async () => {
    const rollout = await startRollout(db, { spec, environment: 'staging', version: 'v3-bad', actor: 'bob' });
    const settled = await settle(rollout.id);
    expect(settled.phase).toBe('RolledBack');
    expect(settled.phase_reason).toMatch(/^test smoke failed: .*traffic is back on v2$/);
    expect(await weights()).toEqual({ v2: 100 });
    // the table no longer names the torn-down release anywhere, so every router accepts it
    const table = (await getTraffic(db, 'shop', 'staging'))!.config as { canary?: string; stable: string };
    expect(table.canary).toBeUndefined();
    expect(table.stable).toBe('v2');
    expect(() => compileTraffic({ ...(table as object), revision: 1 } as TrafficConfig)).not.toThrow();
    expect(await target.instances('v3-bad')).toBeUndefined();
    // the test's whole result is kept with its outcome, as the evidence behind the rollback
    const evidence = await db.query<{ outcome: { evidence: { name: string; passed: boolean; command: { exitCode: number; outputTail: string } } } }>("select outcome from promote.rollout_actions where rollout_id = $1 and id like '%runTest'", [rollout.id]);
    expect(evidence.rows[0]!.outcome.evidence).toMatchObject({ name: 'smoke', passed: false, command: { exitCode: 1 } });
    expect(evidence.rows[0]!.outcome.evidence.command.outputTail).toContain('smoke failed on http://127.0.0.1:');
  }, 60_000);

  it('refuses production for a release that has not been Healthy in staging', async () => {
    await expect(startRollout(db, { spec, environment: 'production', version: 'v3-bad', actor: 'bob' })).rejects.toThrow(/has not reached Healthy in staging/);
  });

  it('records every event once, in an unbroken chain', async () => {
    await controller.idle();
    expect(await verifyEventChain(db)).toMatchObject({ ok: true });
    const started = await db.query<{ id: string; count: string }>("select data->'action'->>'id' as id, count(*) as count from promote.events where type = 'action.started' group by 1 having count(*) > 1");
    expect(started.rows).toEqual([]);
    const phases = await db.query<{ count: string }>("select count(*) from promote.events where type = 'rollout.phase' and data->>'to' = 'Healthy'");
    expect(Number(phases.rows[0]!.count)).toBe(2);
  });
});
