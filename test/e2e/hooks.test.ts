import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine } from '../../src/engine/runtime.js';
import { startRollout } from '../../src/engine/start.js';
import { parseSpec, type PromoteSpec } from '../../src/spec/index.js';
import { createRelease, upsertApp } from '../../src/store/index.js';
import { createStorePool } from '../helpers/database.js';
import { stopDeployedVersions } from '../helpers/instances.js';
import { scratchFolder } from '../helpers/scratch.js';

const app = fileURLToPath(new URL('../fixtures/target-app.mjs', import.meta.url));

describe('rollout hooks with a real controller', () => {
  let db: pg.Pool;
  let url: string;
  let folder: string;
  let spec: PromoteSpec;
  let engine: ReturnType<typeof createEngine>;

  beforeAll(async () => {
    ({ pool: db, url } = await createStorePool());
    folder = await scratchFolder('promote-hooks-');
    const text = `version: 1
app: { name: shop }
environments:
  - name: staging
    database: postgres://localhost/shop
    target: { type: process, command: "node ${app}", readiness: { path: /healthz, timeout: 10s, interval: 100ms }, drainTimeout: 1s }
    strategy: canary
strategies:
  canary:
    type: canary
    hooks:
      preDeploy: [{ name: backup, run: 'echo "backup $PROMOTE_VERSION over $PROMOTE_STABLE" >> hooks.log' }]
      postPromote: [{ name: announce, run: 'echo "announce $PROMOTE_VERSION" >> hooks.log', idempotent: true }]
    steps:
      - setWeight: 50
      - promote: {}
`;
    await writeFile(join(folder, 'promote.yaml'), text);
    const parsed = parseSpec(text, { file: 'promote.yaml' });
    if (!parsed.ok) throw new Error(parsed.problems.map((problem) => problem.message).join('\n'));
    spec = parsed.spec;
    await upsertApp(db, { name: 'shop' });
    for (const [index, version] of ['v1', 'v2'].entries()) await createRelease(db, { app: 'shop', version, digest: `sha256:${String(index).repeat(64)}`, migrationChecksums: {} });
    engine = createEngine(spec, { pool: db, databaseUrl: url, configDir: folder, pollMs: 200 });
  });
  afterAll(async () => {
    await engine.close();
    await stopDeployedVersions(folder, ['v1', 'v2']);
  });

  async function settle(id: number) {
    for (let waited = 0; waited < 30_000; waited += 100) {
      const row = (await db.query<{ phase: string; phase_reason: string }>('select phase, phase_reason from promote.rollouts where id = $1', [id])).rows[0]!;
      if (['Healthy', 'RolledBack', 'Degraded', 'Aborted'].includes(row.phase)) return row;
      await sleep(100);
    }
    throw new Error('did not settle');
  }

  it('runs pre-deploy and post-promote hooks once each, with the versions in their environment', async () => {
    const rollout = await startRollout(db, { spec, environment: 'staging', version: 'v1', actor: 'test' });
    await engine.controller.start();
    expect((await settle(rollout.id)).phase).toBe('Healthy');
    expect(await readFile(join(folder, 'hooks.log'), 'utf8')).toBe('backup v1 over \nannounce v1\n');
  }, 30_000);

  it('never repeats a hook that is not idempotent when a controller died while it ran', async () => {
    await engine.close();
    const rollout = await startRollout(db, { spec, environment: 'staging', version: 'v2', actor: 'test' });
    // what a controller killed in the middle of the backup hook leaves behind: the action started, no outcome
    const id = `r${rollout.id}.a1.hook.preDeploy.0`;
    const hook = spec.strategies.canary!.hooks!.preDeploy![0]!;
    await db.query(`update promote.rollouts set state = jsonb_set(jsonb_set(state, '{phase}', '"Progressing"'), '{reason}', '"rolling out v2"'), phase = 'Progressing' where id = $1`, [rollout.id]);
    await db.query("insert into promote.rollout_actions (rollout_id, id, action, status) values ($1, $2, $3, 'started')", [rollout.id, id, JSON.stringify({ id, kind: 'runHook', point: 'preDeploy', hook })]);
    engine = createEngine(spec, { pool: db, databaseUrl: url, configDir: folder, pollMs: 200 });
    await engine.controller.start();
    const settled = await settle(rollout.id);
    expect(settled.phase).toBe('RolledBack');
    expect(settled.phase_reason).toContain('preDeploy hook backup failed: the controller stopped while hook backup ran; it is not marked idempotent');
    expect(await readFile(join(folder, 'hooks.log'), 'utf8')).toBe('backup v1 over \nannounce v1\n');
  }, 30_000);
});
