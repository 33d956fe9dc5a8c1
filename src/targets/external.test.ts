import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PromoteError } from '../errors.js';
import { targetSchema } from '../spec/schema-environment.js';
import type { ExternalTargetSpec } from '../spec/schema.js';
import { createExternalTarget, type ExternalTuning } from './external.js';
import { freePort } from '../system/processes.js';
import { createTarget, type Target } from './target.js';
import { alive, fixturesDir, getStatus, killAll, pidsIn, until } from '../../test/fixtures/target-support.js';

let stateDir: string;
let pidsFile: string;
const targets: Target[] = [];

beforeAll(async () => {
  stateDir = await mkdtemp(join(tmpdir(), 'promote-external-'));
  pidsFile = join(stateDir, 'pids.txt');
});

afterAll(async () => {
  for (const target of targets) await target.close();
  killAll(pidsFile);
  await rm(stateDir, { recursive: true, force: true });
});

function spec(fields: Record<string, unknown>): ExternalTargetSpec {
  const parsed = targetSchema.parse({ type: 'external', ...fields });
  if (parsed.type !== 'external') throw new Error('expected an external target');
  return parsed;
}

function target(targetSpec: ExternalTargetSpec, tuning: ExternalTuning = {}): Target {
  const created = createExternalTarget(targetSpec, { app: 'shop', environment: 'production', stateDir, configDir: fixturesDir, tuning: { readyIntervalMs: 50, ...tuning } });
  targets.push(created);
  return created;
}

async function lines(path: string): Promise<string[]> {
  try {
    return (await readFile(path, 'utf8')).trim().split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

describe('external target', () => {
  it('runs deploy and undeploy with placeholders and environment filled, once per version', async () => {
    const port = await freePort();
    const calls = join(stateDir, 'calls-1.txt');
    const t = target(
      spec({
        // the deploy command starts the version in the background, as a PaaS or a VM script would
        deploy: `echo "deploy {{version}} {{environment}} {{app}} $PROMOTE_VERSION $RELEASE $PROMOTE_ENVIRONMENT $PROMOTE_APP $FROM_REQUEST $PROMOTE_ARTIFACT $PWD" >> ${calls}; PORT=${port} TARGET_APP_PIDS=${pidsFile} "${process.execPath}" target-app.mjs > /dev/null 2>&1 &`,
        undeploy: `echo "undeploy {{version}} $PROMOTE_VERSION" >> ${calls}; kill $(tail -n 1 ${pidsFile})`,
        url: `http://127.0.0.1:${port}/{{app}}/{{version}}`,
      }),
    );
    const deployed = await t.deploy({ app: 'shop', environment: 'production', version: '2.1.0', env: { FROM_REQUEST: 'yes' }, artifact: 'shop.tgz' });
    expect(deployed).toEqual({ version: '2.1.0', urls: [`http://127.0.0.1:${port}/shop/2.1.0`] });
    expect(await lines(calls)).toEqual([`deploy 2.1.0 production shop 2.1.0 2.1.0 production shop yes shop.tgz ${fixturesDir.replace(/\/$/, '')}`]);
    expect(await getStatus(`http://127.0.0.1:${port}/healthz`)).toBe(200);
    const [app] = (await pidsIn(pidsFile)).slice(-1);

    // idempotent: a version that is up is not deployed again
    expect(await t.deploy({ app: 'shop', environment: 'production', version: '2.1.0' })).toEqual(deployed);
    expect(await lines(calls)).toHaveLength(1);
    expect(await t.instances('2.1.0')).toEqual(deployed);
    // a new controller knows the version from its record
    const fresh = target(spec({ url: `http://127.0.0.1:${port}/{{app}}/{{version}}` }));
    expect(await fresh.instances('2.1.0')).toEqual(deployed);
    expect(await fresh.status()).toMatchObject([{ version: '2.1.0', index: 0, url: deployed.urls[0], state: 'ready', restarts: 0 }]);

    await t.teardown('2.1.0');
    expect((await lines(calls)).slice(1)).toEqual(['undeploy 2.1.0 2.1.0']);
    await until('the app to stop', () => !alive(app as number));
    expect(await t.instances('2.1.0')).toBeUndefined();
    await t.teardown('2.1.0'); // idempotent: nothing deployed, undeploy does not run again
    expect(await lines(calls)).toHaveLength(2);
    expect(await t.status()).toEqual([]);
  });

  it('a failing deploy command fails with its exit code and last output lines; teardown still undeploys', async () => {
    const calls = join(stateDir, 'calls-2.txt');
    const t = target(
      spec({
        deploy: 'echo "uploading {{version}}"; echo "error: registry unreachable for {{version}}" >&2; exit 3',
        undeploy: `echo "undeploy {{version}}" >> ${calls}`,
        urls: ['http://127.0.0.1:9/a', 'http://127.0.0.1:9/b'],
      }),
    );
    const error = await t.deploy({ app: 'shop', environment: 'production', version: 'v7' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PromoteError);
    const message = (error as Error).message;
    expect(message).toMatch(/^the deploy command of version v7 exited with code 3: echo "uploading v7"/);
    expect(message).toContain('  uploading v7\n  error: registry unreachable for v7');
    expect((error as PromoteError).hint).toMatch(/deploy\.log$/);
    expect(await t.instances('v7')).toBeUndefined();
    expect(await t.status()).toMatchObject([{ version: 'v7', state: 'starting' }, { version: 'v7', state: 'starting' }]);
    // the deploy may have half happened: teardown runs undeploy
    await t.teardown('v7');
    expect(await lines(calls)).toEqual(['undeploy v7']);
  });

  it('fails when the URLs do not take connections in time, and undeploys what it deployed', async () => {
    const port = await freePort();
    const calls = join(stateDir, 'calls-3.txt');
    const t = target(spec({ deploy: `echo "deploy {{version}}" >> ${calls}`, undeploy: `echo "undeploy {{version}}" >> ${calls}`, url: `http://127.0.0.1:${port}` }), { readyTimeoutMs: 400 });
    const started = Date.now();
    const error = await t.deploy({ app: 'shop', environment: 'production', version: 'v8' }).catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(3_000);
    expect((error as Error).message).toMatch(new RegExp(`^version v8 is not reachable: http://127\\.0\\.0\\.1:${port} \\(.*ECONNREFUSED.*\\) did not accept connections within 400ms`));
    expect(await lines(calls)).toEqual(['deploy v8', 'undeploy v8']);
    expect(await t.instances('v8')).toBeUndefined();
  });

  it('probes an HTTP readiness path when one is given', async () => {
    const port = await freePort();
    const app = spawn(process.execPath, ['target-app.mjs'], {
      cwd: fixturesDir,
      env: { ...process.env, PORT: String(port), TARGET_APP_READY_DELAY_MS: '400', TARGET_APP_PIDS: pidsFile },
      stdio: 'ignore',
    });
    try {
      const t = createTarget(spec({ url: `http://127.0.0.1:${port}` }), { app: 'shop', environment: 'production', stateDir, configDir: fixturesDir });
      targets.push(t);
      const withPath = target(spec({ url: `http://127.0.0.1:${port}` }), { readinessPath: '/healthz' });
      const started = Date.now();
      await withPath.deploy({ app: 'shop', environment: 'production', version: 'v9' });
      expect(Date.now() - started).toBeGreaterThanOrEqual(300);
      expect(await getStatus(`http://127.0.0.1:${port}/healthz`)).toBe(200);
      expect(await t.instances('v9')).toEqual({ version: 'v9', urls: [`http://127.0.0.1:${port}`] });
      await t.teardown('v9');
      expect(await t.instances('v9')).toBeUndefined();
    } finally {
      app.kill('SIGKILL');
    }
  });

  it('stops a deploy command that is cancelled or runs too long', async () => {
    const marker = join(stateDir, 'slow.txt');
    const slow = spec({ deploy: `sleep 30; echo done > ${marker}`, url: 'http://127.0.0.1:9' });
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('operator abort')), 200);
    let started = Date.now();
    const cancelled = await target(slow).deploy({ app: 'shop', environment: 'production', version: 'v10' }, controller.signal).catch((e: unknown) => e);
    expect((cancelled as Error).message).toBe('deploy of version v10 was cancelled; the command was stopped');
    expect(Date.now() - started).toBeLessThan(3_000);

    started = Date.now();
    const timedOut = await target(slow, { commandTimeoutMs: 300 }).deploy({ app: 'shop', environment: 'production', version: 'v11' }).catch((e: unknown) => e);
    expect((timedOut as Error).message).toMatch(/^the deploy command of version v11 did not finish within 300ms and was stopped/);
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(await lines(marker)).toEqual([]);
  });
});
