import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/system/processes.js';
import { collect, runInProcess, spawnCli } from '../helpers/cli.js';
import { createTestDatabase } from '../helpers/database.js';
import { stopDeployedVersions } from '../helpers/instances.js';
import { scratchFolder } from '../helpers/scratch.js';

const app = fileURLToPath(new URL('../fixtures/target-app.mjs', import.meta.url));


/** Blue-green end to end through `promote server`: API, controller, router and real app processes. */
describe('blue-green through promote server', () => {
  let folder: string;
  let env: Record<string, string>;
  let apiPort: number;
  let routerPort: number;
  let server: ReturnType<typeof spawnCli>;
  let output: ReturnType<typeof collect>;

  beforeAll(async () => {
    folder = await scratchFolder('promote-bluegreen-');
    env = { DATABASE_URL: (await createTestDatabase()).url };
    [apiPort, routerPort] = [await freePort(), await freePort()];
    const adminPort = await freePort();
    await writeFile(join(folder, 'promote.yaml'), `version: 1
app: { name: shop }
environments:
  - name: staging
    database: postgres://localhost/shop
    target: { type: process, command: "node ${app}", instances: 2, readiness: { path: /healthz, timeout: 10s, interval: 100ms }, drainTimeout: 2s }
    router: { listen: 127.0.0.1:${routerPort}, admin: 127.0.0.1:${adminPort} }
    strategy: blue-green
strategies:
  blue-green:
    type: blueGreen
    scaleDownDelay: 1s
    steps:
      - test: { name: health, http: { path: /healthz } }
      - promote: {}
`);
    for (const version of ['blue', 'green']) {
      await writeFile(join(folder, `${version}.tgz`), version);
      expect((await runInProcess(['release', 'create', version, '--artifact', `${version}.tgz`], { cwd: folder, env })).code).toBe(0);
    }
    server = spawnCli(['server', '--listen', `127.0.0.1:${apiPort}`], { cwd: folder, env });
    output = collect(server);
    for (let waited = 0; waited < 15_000; waited += 100) {
      const up = await request(`http://127.0.0.1:${apiPort}/healthz`).then(async (response) => (await response.body.dump(), true), () => false);
      if (up) return;
      await sleep(100);
    }
    throw new Error(`promote server did not start: ${(await Promise.race([output, sleep(100).then(() => undefined)]))?.stderr ?? ''}`);
  }, 30_000);
  afterAll(async () => {
    if (server.exitCode === null) server.kill('SIGTERM');
    await output;
    await stopDeployedVersions(folder, ['blue', 'green']);
  });

  const api = async (method: 'GET' | 'POST', path: string, body?: unknown) => {
    const response = await request(`http://127.0.0.1:${apiPort}${path}`, { method, ...(body !== undefined ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } } : {}) });
    return (await response.body.json()) as Record<string, unknown>;
  };
  const phase = async (id: unknown) => String((await api('GET', `/api/rollouts/${String(id)}`)).phase);
  async function until(id: unknown, wanted: string): Promise<void> {
    for (let waited = 0; waited < 30_000; waited += 100) {
      if ((await phase(id)) === wanted) return;
      await sleep(100);
    }
    throw new Error(`rollout ${String(id)} is ${await phase(id)}, not ${wanted}`);
  }
  const viaRouter = async (headers: Record<string, string> = {}) => {
    const response = await request(`http://127.0.0.1:${routerPort}/`, { headers });
    await response.body.dump();
    return { status: response.statusCode, version: response.headers['x-promote-version'] };
  };

  it('waits for a person before switching, previews green by header, switches, and retires blue', async () => {
    const blue = await api('POST', '/api/deploy', { version: 'blue', environment: 'staging' });
    await until(blue.id, 'Paused');
    await api('POST', '/api/environments/staging/promote', {});
    await until(blue.id, 'Healthy');
    expect(await viaRouter()).toEqual({ status: 200, version: 'blue' });

    const green = await api('POST', '/api/deploy', { version: 'green', environment: 'staging' });
    await until(green.id, 'Paused');
    // before the switch: clients get blue; testers reach green through the preview header, or by its name
    expect(await viaRouter()).toEqual({ status: 200, version: 'blue' });
    expect(await viaRouter({ 'x-promote-preview': '1' })).toEqual({ status: 200, version: 'green' });
    expect(await viaRouter({ 'x-promote-version': 'green' })).toEqual({ status: 200, version: 'green' });
    await api('POST', '/api/environments/staging/promote', {});
    await until(green.id, 'Healthy');
    expect(await viaRouter()).toEqual({ status: 200, version: 'green' });
    // once green serves everyone, the preview header means nothing special any more
    expect(await viaRouter({ 'x-promote-preview': '1' })).toEqual({ status: 200, version: 'green' });
    const events = (await api('GET', `/api/rollouts/${String(green.id)}/events`)) as unknown as Array<{ type: string }>;
    expect(events.map((event) => event.type)).toEqual(expect.arrayContaining(['rollout.switched', 'rollout.previous-retired']));
  }, 60_000);

  it('stops cleanly on SIGTERM', async () => {
    server.kill('SIGTERM');
    const result = await output;
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('controller running');
    expect(result.stdout).toContain(`router staging on http://127.0.0.1:${routerPort}`);
  });
});
