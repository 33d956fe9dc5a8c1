import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { request } from 'undici';
import { beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/system/processes.js';
import { collect, runInProcess, spawnCli } from '../helpers/cli.js';
import { createTestDatabase } from '../helpers/database.js';
import { scratchFolder } from '../helpers/scratch.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';

const config = (routerPort: number, adminPort: number) => `version: 1
app:
  name: shop
environments:
  - name: production
    database: postgres://localhost/shop
    target:
      type: external
      url: http://127.0.0.1:1/{{version}}
    router:
      listen: 127.0.0.1:${routerPort}
      admin: 127.0.0.1:${adminPort}
      sticky: { header: X-User-Id }
    strategy: canary
strategies:
  canary:
    type: canary
    steps:
      - setWeight: 50
      - promote: {}
`;


describe('promote traffic and promote router', () => {
  let folder: string;
  let env: Record<string, string>;
  let v1: TestUpstream;
  let v2: TestUpstream;
  let routerPort: number;
  let adminPort: number;
  beforeAll(async () => {
    folder = await scratchFolder('promote-router-cli-');
    env = { DATABASE_URL: (await createTestDatabase()).url, PROMOTE_ACTOR: 'ops' };
    [routerPort, adminPort] = [await freePort(), await freePort()];
    await writeFile(join(folder, 'promote.yaml'), config(routerPort, adminPort));
    v1 = await startUpstream('v1');
    v2 = await startUpstream('v2');
  });

  it('refuses a table whose weights do not add up, naming the problem, and exits 2', async () => {
    const result = await runInProcess(['traffic', 'set', '--env', 'production', '--upstream', `v1=${v1.url}`, '--weight', 'v1=90'], { cwd: folder, env });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/weights .*100/i);
  });

  it('runs a router that follows `promote traffic set` and stops gracefully', async () => {
    const first = await runInProcess(['traffic', 'set', '--env', 'production', '--upstream', `v1=${v1.url}`, '--weight', 'v1=100'], { cwd: folder, env });
    expect(first.stderr).toBe('');
    expect(first.stdout).toContain('shop/production revision 1: v1 100%');

    const router = spawnCli(['router', '--env', 'production'], { cwd: folder, env });
    const output = collect(router);
    let started = false;
    for (let waited = 0; !started && waited < 10_000; waited += 50) {
      await sleep(50);
      started = await request(`http://127.0.0.1:${adminPort}/healthz`).then(async (response) => (await response.body.dump(), response.statusCode === 200), () => false);
    }
    expect(started).toBe(true);
    const viaRouter = async (headers: Record<string, string> = {}) => {
      const response = await request(`http://127.0.0.1:${routerPort}/hello`, { headers });
      await response.body.dump();
      return String(response.headers['x-promote-version']);
    };
    expect(await viaRouter()).toBe('v1');

    const second = await runInProcess(['traffic', 'set', '--env', 'production', '--upstream', `v2=${v2.url}`, '--weight', 'v2=100', '--weight', 'v1=0', '--canary', 'v2'], { cwd: folder, env });
    expect(second.code).toBe(0);
    await sleep(200);
    expect(await viaRouter()).toBe('v2');
    expect(await viaRouter({ 'x-promote-version': 'stable' })).toBe('v1');

    const table = JSON.parse((await runInProcess(['traffic', 'get', '--env', 'production', '--json'], { cwd: folder, env })).stdout) as { revision: number; config: { versions: Array<{ name: string }>; sticky: unknown } };
    expect(table.revision).toBe(2);
    expect(table.config.versions.map((version) => version.name)).toEqual(['v2', 'v1']);
    expect(table.config.sticky).toEqual({ header: 'X-User-Id' });

    const metrics = await request(`http://127.0.0.1:${adminPort}/metrics`);
    expect(await metrics.body.text()).toMatch(/promote_router_requests_total\{version="v2",instance="[^"]+",class="2xx"\} [1-9]/);

    // the canary's only instance dies: its traffic falls back to stable and the audit trail says so
    await v2.close();
    for (let index = 0; index < 6; index++) await viaRouter().catch(() => undefined);
    expect(await viaRouter()).toBe('v1');
    const db = new pg.Client(env.DATABASE_URL);
    await db.connect();
    const recorded = await db.query<{ data: { version: string } }>("select data from promote.events where type = 'router.version.unavailable'");
    await db.end();
    expect(recorded.rows.map((row) => row.data.version)).toContain('v2');
    await v2.restart();

    router.kill('SIGTERM');
    const result = await output;
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`router for shop/production on http://127.0.0.1:${routerPort}`);
    expect(result.stdout).toContain('stopping: letting in-flight requests finish');
  });

  it('runs several workers on one port and adds up their measurements on the admin port', async () => {
    const router = spawnCli(['router', '--env', 'production', '--workers', '2'], { cwd: folder, env });
    const output = collect(router);
    let ready = false;
    for (let waited = 0; !ready && waited < 15_000; waited += 100) {
      await sleep(100);
      ready = await request(`http://127.0.0.1:${adminPort}/healthz`).then(async (response) => (await response.body.dump(), response.statusCode === 200), () => false);
    }
    expect(ready).toBe(true);
    // new connections each time, so the primary hands them to both workers
    for (let index = 0; index < 40; index++) {
      const response = await request(`http://127.0.0.1:${routerPort}/w/${index}`, { reset: true });
      await response.body.dump();
      expect(response.statusCode).toBe(200);
    }
    await sleep(1_100);
    const state = (await (await request(`http://127.0.0.1:${adminPort}/state`)).body.json()) as { workers: unknown[] };
    expect(state.workers).toHaveLength(2);
    const windows = (await (await request(`http://127.0.0.1:${adminPort}/window?seconds=10`)).body.json()) as Array<{ version: string; requests: number; latencyMicros: { p50: number } | null }>;
    const v2Window = windows.find((window) => window.version === 'v2');
    expect(v2Window?.requests).toBe(40);
    expect(v2Window?.latencyMicros?.p50).toBeGreaterThan(0);
    const metrics = await (await request(`http://127.0.0.1:${adminPort}/metrics`)).body.text();
    const served = [...metrics.matchAll(/promote_router_requests_total\{version="v2",instance="[^"]+",class="2xx"\} (\d+)/g)].reduce((sum, match) => sum + Number(match[1]), 0);
    expect(served).toBe(40);
    router.kill('SIGTERM');
    const result = await output;
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('with 2 workers');
    expect(result.stdout).toContain('stopped all router workers');
  }, 30_000);
});
