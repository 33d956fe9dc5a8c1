import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendCommand } from '../../src/engine/commands.js';
import { Controller } from '../../src/engine/controller.js';
import { createExecutor } from '../../src/engine/executor.js';
import { PlanError } from '../../src/engine/plan.js';
import { startRollout } from '../../src/engine/start.js';
import { flagHistory, getFlag, putFlag } from '../../src/flags/store-flags.js';
import { parseSpec, type PromoteSpec } from '../../src/spec/index.js';
import { createRelease, syncEnvironments, upsertApp } from '../../src/store/index.js';
import { createTarget, type Target } from '../../src/targets/target.js';
import { createStorePool } from '../helpers/database.js';
import { scratchFolder } from '../helpers/scratch.js';

const app = fileURLToPath(new URL('../fixtures/target-app.mjs', import.meta.url));
const digest = (seed: string) => `sha256:${seed.padEnd(64, '0').slice(0, 64)}`;
const VERSIONS = ['v1', 'v2', 'v3', 'v4'];
const scope = { app: 'shop', environment: 'staging' };

const specText = (steps: string) => `version: 1
app: { name: shop }
environments:
  - name: staging
    database: postgres://localhost/shop
    target: { type: process, command: "node ${app}", readiness: { path: /healthz, timeout: 10s, interval: 100ms }, drainTimeout: 1s }
    strategy: canary
strategies:
  canary:
    type: canary
    steps:
${steps}
flags:
  - name: new-checkout
    description: the new checkout flow
`;

function parse(text: string): PromoteSpec {
  const parsed = parseSpec(text, { file: 'promote.yaml' });
  if (!parsed.ok) throw new Error(parsed.problems.map((problem) => problem.message).join('\n'));
  return parsed.spec;
}

describe('setFlag steps and the flags of a rolled-back release', () => {
  let db: pg.Pool;
  let url: string;
  let target: Target;
  let controller: Controller;
  const spec = parse(specText(`      - setFlag: { flag: new-checkout, enabled: true, rollout: 20 }
      - setWeight: 50
      - pause: {}
      - promote: {}`));

  beforeAll(async () => {
    ({ pool: db, url } = await createStorePool());
    const staging = spec.environments[0]!;
    const stateDir = await scratchFolder('promote-rollout-flags-');
    target = createTarget(staging.target, { app: 'shop', environment: 'staging', stateDir, configDir: stateDir });
    controller = new Controller({ pool: db, databaseUrl: url, pollMs: 200, executor: createExecutor({ pool: db, target, environment: staging, configDir: stateDir, migrationsDir: `${stateDir}/migrations`, ...(spec.flags ? { flags: spec.flags } : {}) }) });
    await controller.start();
    await upsertApp(db, { name: 'shop' });
    await syncEnvironments(db, 'shop', ['staging']);
    for (const version of VERSIONS) await createRelease(db, { app: 'shop', version, digest: digest(version.replace(/[^0-9a-f]/g, 'a')), migrationChecksums: {} });
  });
  afterAll(async () => {
    await controller?.stop();
    for (const version of VERSIONS) await target?.teardown(version);
    await target?.close();
  });

  async function until(rolloutId: number, phases: string[]): Promise<{ phase: string; phase_reason: string }> {
    for (let waited = 0; waited < 60_000; waited += 50) {
      const row = (await db.query<{ phase: string; phase_reason: string }>('select phase, phase_reason from promote.rollouts where id = $1', [rolloutId])).rows[0]!;
      if (phases.includes(row.phase)) return row;
      await sleep(50);
    }
    throw new Error(`rollout ${rolloutId} did not reach ${phases.join(' or ')} within 60 s`);
  }

  it('creates a declared flag, turns it on with its rollout, and records the rollout as the reason', async () => {
    const rollout = await startRollout(db, { spec, environment: 'staging', version: 'v1', actor: 'alice' });
    await until(rollout.id, ['Paused']);
    const flag = await getFlag(db, scope, 'new-checkout');
    expect(flag?.definition.enabled).toBe(true);
    const strategies = (flag?.definition.strategies ?? []) as Array<{ name: string; parameters?: Record<string, unknown> }>;
    expect(strategies.map((strategy) => [strategy.name, strategy.parameters?.rollout])).toEqual([['flexibleRollout', 20]]);
    const history = await flagHistory(db, scope, 'new-checkout');
    expect(history.every((change) => change.actor === 'controller' || change.action === 'created' || change.action === 'updated')).toBe(true);
    expect(history.map((change) => change.reason)).toContain(`rollout #${rollout.id} of v1`);
    await sendCommand(db, { ...scope, kind: 'resume', actor: 'alice' });
    expect(await until(rollout.id, ['Healthy', 'RolledBack', 'Degraded'])).toMatchObject({ phase: 'Healthy' });
    expect((await getFlag(db, scope, 'new-checkout'))?.definition.enabled).toBe(true);
  }, 60_000);

  it('turns the flag off within 2 s of an abort', async () => {
    await putFlag(db, scope, { name: 'new-checkout', enabled: false }, { actor: 'ops', reason: 'reset between tests' });
    const rollout = await startRollout(db, { spec, environment: 'staging', version: 'v2', actor: 'alice' });
    await until(rollout.id, ['Paused']);
    expect((await getFlag(db, scope, 'new-checkout'))?.definition.enabled).toBe(true);
    const abortedAt = Date.now();
    await sendCommand(db, { ...scope, kind: 'abort', actor: 'bob', reason: 'checkout errors' });
    let offAfter: number | undefined;
    while (Date.now() - abortedAt < 10_000 && offAfter === undefined) {
      if ((await getFlag(db, scope, 'new-checkout'))?.definition.enabled === false) offAfter = Date.now() - abortedAt;
      else await sleep(20);
    }
    expect(offAfter, 'the flag was still on 10 s after the abort').toBeDefined();
    expect(offAfter!).toBeLessThan(2_000);
    const ended = await until(rollout.id, ['Aborted']);
    expect(ended.phase_reason).toContain('flag new-checkout off');
    const last = (await flagHistory(db, scope, 'new-checkout'))[0]!;
    expect(last).toMatchObject({ action: 'disabled', actor: 'controller', reason: `rollout #${rollout.id} of v2 rolled back` });
  }, 60_000);

  it('moves the variant weights of a migration flag and leaves them when the rollout aborts', async () => {
    const staged = parse(`${specText('      - setFlag: { flag: orders-move, variants: { off: 0, dual-write: 1000 } }\n      - pause: {}\n      - promote: {}')}  - name: orders-move
    type: migration
    enabled: true
    variants: [{ name: "off", weight: 1000 }]
`);
    // the executor of this suite knows only the first spec's declarations: the flag comes from the store
    await putFlag(db, scope, staged.flags!.find((flag) => flag.name === 'orders-move'), { actor: 'ops' });
    const rollout = await startRollout(db, { spec: staged, environment: 'staging', version: 'v3', actor: 'alice' });
    expect(await until(rollout.id, ['Paused', 'RolledBack'])).toMatchObject({ phase: 'Paused' });
    const weights = () => getFlag(db, scope, 'orders-move').then((flag) => Object.fromEntries((flag?.definition.variants ?? []).map((variant) => [variant.name, variant.weight])));
    expect(await weights()).toEqual({ off: 0, 'dual-write': 1000 });
    await sendCommand(db, { ...scope, kind: 'abort', actor: 'alice' });
    expect((await until(rollout.id, ['Aborted'])).phase_reason).not.toContain('orders-move');
    expect(await weights()).toEqual({ off: 0, 'dual-write': 1000 });
    expect((await getFlag(db, scope, 'orders-move'))?.definition.enabled).toBe(true);
  }, 60_000);

  it('refuses to plan a setFlag step naming a flag neither declared nor in the store, and accepts one only in the store', async () => {
    const other = parse(specText('      - setFlag: { flag: dark-mode, enabled: true }\n      - promote: {}'));
    await expect(startRollout(db, { spec: other, environment: 'staging', version: 'v4', actor: 'alice' })).rejects.toThrow(PlanError);
    await putFlag(db, scope, { name: 'dark-mode' }, { actor: 'ops' });
    const rollout = await startRollout(db, { spec: other, environment: 'staging', version: 'v4', actor: 'alice' });
    expect(rollout.id).toBeGreaterThan(0);
    await sendCommand(db, { ...scope, kind: 'abort', actor: 'alice' });
    await until(rollout.id, ['Aborted', 'RolledBack', 'Healthy']);
  }, 60_000);
});
