import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TrafficWatcher } from '../../src/router/control.js';
import type { Router } from '../../src/router/server.js';
import { syncEnvironments, upsertApp } from '../../src/store/index.js';
import { setTraffic } from '../../src/store/traffic.js';
import { createStorePool } from '../helpers/database.js';
import { startRouter } from '../helpers/router.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';

async function versionAt(url: string): Promise<string> {
  const response = await request(url);
  await response.body.dump();
  return String(response.headers['x-promote-version']);
}

describe('router control channel', () => {
  let db: pg.Pool;
  let url: string;
  let v1: TestUpstream;
  let v2: TestUpstream;
  const routers: Array<{ router: Router; url: string; watcher: TrafficWatcher; appliedAt: Map<number, number> }> = [];

  beforeAll(async () => {
    ({ pool: db, url } = await createStorePool());
    await upsertApp(db, { name: 'shop' });
    await syncEnvironments(db, 'shop', ['production']);
    v1 = await startUpstream('v1');
    v2 = await startUpstream('v2');
    for (let index = 0; index < 3; index++) {
      const started = await startRouter(undefined);
      const appliedAt = new Map<number, number>();
      const watcher = new TrafficWatcher({
        databaseUrl: url,
        app: 'shop',
        environment: 'production',
        backoff: 50,
        maxBackoff: 200,
        onConfig: (config) => {
          started.router.apply(config);
          appliedAt.set(config.revision, performance.now());
        },
      });
      await watcher.start();
      routers.push({ ...started, watcher, appliedAt });
    }
  });
  afterAll(async () => {
    for (const each of routers) await each.watcher.stop();
  });

  const config = (canary: number) => ({
    versions: [
      { name: 'v2', weight: canary, upstreams: [v2.url] },
      { name: 'v1', weight: 100 - canary, upstreams: [v1.url] },
    ],
    stable: 'v1',
    canary: 'v2',
  });

  it('brings every router to a new table within 100 ms of each other', async () => {
    const spreads: number[] = [];
    for (const canary of [0, 100, 0, 50, 100]) {
      const stored = await setTraffic(db, { app: 'shop', environment: 'production', actor: 'test', config: config(canary) });
      for (let waited = 0; routers.some((each) => !each.appliedAt.has(stored.revision)); waited += 2) {
        if (waited > 2_000) throw new Error(`revision ${stored.revision} not applied everywhere within 2 s`);
        await sleep(2);
      }
      const times = routers.map((each) => each.appliedAt.get(stored.revision)!);
      spreads.push(Math.max(...times) - Math.min(...times));
      if (canary === 100) for (const each of routers) expect(await versionAt(each.url)).toBe('v2');
      if (canary === 0) for (const each of routers) expect(await versionAt(each.url)).toBe('v1');
    }
    expect(Math.max(...spreads)).toBeLessThan(100);
  });

  it('keeps serving with its last table when the database goes away, and catches up after', async () => {
    await setTraffic(db, { app: 'shop', environment: 'production', actor: 'test', config: config(100) });
    await sleep(200);
    // cut every router's database connection, as a failover or network partition would
    await db.query("select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'promote-router'");
    await sleep(20);
    expect(routers.every((each) => !each.watcher.isConnected)).toBe(true);
    for (const each of routers) expect(await versionAt(each.url)).toBe('v2');
    // a change made while they were away arrives through the reload after reconnecting
    const stored = await setTraffic(db, { app: 'shop', environment: 'production', actor: 'test', config: config(0) });
    for (let waited = 0; routers.some((each) => each.router.revision !== stored.revision); waited += 10) {
      if (waited > 5_000) throw new Error('routers did not catch up after reconnecting');
      await sleep(10);
    }
    for (const each of routers) expect(await versionAt(each.url)).toBe('v1');
  });

  it('refuses an invalid table and keeps the current one', async () => {
    const before = routers[0]!.router.revision;
    await setTraffic(db, { app: 'shop', environment: 'production', actor: 'test', config: { versions: [{ name: 'v1', weight: 120, upstreams: [v1.url] }], stable: 'v1' } });
    await sleep(200);
    expect(routers[0]!.router.revision).toBe(before);
    expect(await versionAt(routers[0]!.url)).toBe('v1');
  });

  it('records every change in the audit trail with the table', async () => {
    const events = await db.query<{ type: string; data: { revision: number } }>("select type, data from promote.events where type = 'traffic.changed' order by seq");
    expect(events.rows.length).toBeGreaterThanOrEqual(7);
    expect(events.rows.map((row) => row.data.revision)).toEqual([...events.rows.map((row) => row.data.revision)].sort((a, b) => a - b));
  });
});
