import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runInProcess } from '../helpers/cli.js';
import { createTestDatabase } from '../helpers/database.js';
import { stopDeployedVersions } from '../helpers/instances.js';
import { scratchFolder } from '../helpers/scratch.js';

const app = fileURLToPath(new URL('../fixtures/target-app.mjs', import.meta.url));

describe('promote deploy, status, history, events and the steering commands', () => {
  let folder: string;
  let env: Record<string, string>;
  const cli = (...args: string[]) => runInProcess(args, { cwd: folder, env });

  beforeAll(async () => {
    folder = await scratchFolder('promote-rollout-cli-');
    env = { DATABASE_URL: (await createTestDatabase()).url, PROMOTE_ACTOR: 'release-bot' };
    await writeFile(join(folder, 'promote.yaml'), `version: 1
app: { name: shop }
environments:
  - name: staging
    database: postgres://localhost/shop
    target: { type: process, command: "node ${app}", readiness: { path: /healthz, timeout: 10s, interval: 100ms }, drainTimeout: 2s }
    strategy: canary
  - name: production
    database: postgres://localhost/shop
    target: { type: process, command: "node ${app}", readiness: { path: /healthz, timeout: 10s, interval: 100ms }, drainTimeout: 2s }
    strategy: canary
strategies:
  canary:
    type: canary
    steps:
      - test: { name: health, http: { path: /healthz } }
      - setWeight: 25
      - promote: {}
`);
    for (const version of ['1.0.0', '1.1.0']) {
      await writeFile(join(folder, `${version}.tgz`), `build ${version}`);
      expect((await cli('release', 'create', version, '--artifact', `${version}.tgz`)).code).toBe(0);
    }
  });
  afterAll(async () => {
    await stopDeployedVersions(folder, ['1.0.0', '1.1.0']);
  });

  it('deploys and waits: exit 0 on Healthy, with each step printed', async () => {
    const result = await cli('deploy', '1.0.0', '--env', 'staging', '--wait');
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/Healthy .*1\.0\.0 serves all traffic/);
    const status = JSON.parse((await cli('status', '--env', 'staging', '--json')).stdout) as { phase: string };
    expect(status.phase).toBe('Healthy');
  }, 60_000);

  it('refuses production for a release not yet Healthy in staging, unless told why', async () => {
    const refused = await cli('deploy', '1.1.0', '--env', 'production');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('release 1.1.0 has not reached Healthy in staging, the environment before production');
    const forced = await cli('deploy', '1.1.0', '--env', 'production', '--skip-environment-gate', 'hotfix for incident 42', '--wait');
    expect(forced.code).toBe(0);
    const events = JSON.parse((await cli('events', '--json')).stdout) as Array<{ type: string; data: Record<string, unknown> }>;
    expect(events.find((event) => event.type === 'rollout.created' && event.data.skippedEnvironmentGate)?.data.skippedEnvironmentGate).toEqual({ environment: 'staging', reason: 'hotfix for incident 42' });
  }, 60_000);

  it('refuses a strategy that cannot run with the line of each problem in promote.yaml', async () => {
    const broken = join(folder, 'broken.yaml');
    const text = await readFile(join(folder, 'promote.yaml'), 'utf8');
    await writeFile(broken, text.replace('      - setWeight: 25\n      - promote: {}\n', '      - promote: {}\n      - setWeight: 25\n'));
    const result = await runInProcess(['deploy', '1.0.0', '--env', 'staging', '--config', 'broken.yaml'], { cwd: folder, env });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/broken\.yaml:18:9 strategies\.canary\.steps\[2\]: setWeight after the `promote` step/);
  });

  it('refuses a command that makes no sense now, naming the phase', async () => {
    const none = await cli('abort', '--env', 'staging');
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('shop has no active rollout in staging to abort');
    const healthy = await cli('retry', '--env', 'staging');
    expect(healthy.code).toBe(1);
    expect(healthy.stderr).toMatch(/cannot retry a rollout that is Healthy; nothing can be done to it now/);
  });

  it('rolls back to the previous Healthy release in one command, without analysis or migrations', async () => {
    expect((await cli('deploy', '1.1.0', '--env', 'staging', '--wait')).code).toBe(0);
    const unknown = await cli('rollback', '--env', 'staging', '--to', '9.9.9');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('release 9.9.9 of shop is not recorded');
    const back = await cli('rollback', '--env', 'staging', '--wait');
    expect(back.stderr).toBe('');
    expect(back.code).toBe(0);
    expect(back.stdout).toMatch(/Healthy .*1\.0\.0 serves all traffic/);
    const events = JSON.parse((await cli('events', '--json')).stdout) as Array<{ type: string; data: Record<string, unknown> }>;
    expect(events.filter((event) => event.type === 'rollout.created').at(-1)?.data).toMatchObject({ version: '1.0.0', rollback: true, stable: '1.1.0' });
  }, 60_000);

  it('lists the history and the audit trail of a rollout', async () => {
    const history = await cli('history', '--env', 'staging');
    expect(history.stdout.split('\n')[0]).toMatch(/^\s*ID\s+PHASE\s+STARTED\s+BY\s+REASON$/);
    expect(history.stdout).toMatch(/Healthy .*release-bot/);
    const events = JSON.parse((await cli('events', '--rollout', '1', '--json')).stdout) as Array<{ type: string }>;
    const types = events.map((event) => event.type);
    expect(types[0]).toBe('rollout.created');
    expect(types).toContain('action.started');
    expect(types.at(-1)).toBe('rollout.phase');
  });
});
