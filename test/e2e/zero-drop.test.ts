import { fork, type ChildProcess } from 'node:child_process';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import { Pool } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TrafficWatcher } from '../../src/router/control.js';
import { syncEnvironments, upsertApp } from '../../src/store/index.js';
import { setTraffic } from '../../src/store/traffic.js';
import { createStorePool } from '../helpers/database.js';
import { startRouter } from '../helpers/router.js';

const fixture = fileURLToPath(new URL('../fixtures/counting-upstream.mjs', import.meta.url));
const TOTAL = 100_000;
const CONCURRENCY = 64;

interface Instance {
  version: string;
  port: number;
  child: ChildProcess;
}

async function startInstance(version: string, port = 0): Promise<Instance> {
  const child = fork(fixture, [version, String(port)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const listening = await new Promise<number>((resolve, reject) => {
    child.once('message', (message: { listening?: number }) => (message.listening ? resolve(message.listening) : reject(new Error('no port'))));
    child.once('exit', () => reject(new Error(`${version} instance exited early`)));
  });
  return { version, port: listening, child };
}

/** A graceful stop; returns how often the instance served each POST id. */
async function stopInstance(instance: Instance): Promise<Array<[string, number]>> {
  const report = new Promise<Array<[string, number]>>((resolve) => instance.child.once('message', (message: { seen: Array<[string, number]> }) => resolve(message.seen)));
  instance.child.send('stop');
  return report;
}

/**
 * The router's central promise: while weights move through flips and an instance restarts, not one
 * of 100,000 keep-alive requests fails, and every POST reaches exactly one upstream exactly once.
 * Changes travel the real control path: the store, NOTIFY, the watcher, the router.
 */
describe('zero-drop weight switching', () => {
  const instances: Instance[] = [];
  let db: pg.Pool;
  let url: string;
  let routerUrl: string;
  let router: Awaited<ReturnType<typeof startRouter>>['router'];
  let watcher: TrafficWatcher;

  beforeAll(async () => {
    ({ pool: db, url } = await createStorePool());
    await upsertApp(db, { name: 'shop' });
    await syncEnvironments(db, 'shop', ['production']);
    for (const version of ['v1', 'v1', 'v2', 'v2']) instances.push(await startInstance(version));
    ({ router, url: routerUrl } = await startRouter(undefined, { timeouts: { connect: 1_000, request: 30_000, idle: 65_000 } }));
    watcher = new TrafficWatcher({ databaseUrl: url, app: 'shop', environment: 'production', onConfig: (config) => router.apply(config) });
    await watcher.start();
  });
  afterAll(async () => {
    await watcher.stop();
    for (const instance of instances) if (instance.child.exitCode === null) instance.child.kill();
  });

  const upstreamsOf = (version: string, skipPort?: number) => instances.filter((each) => each.version === version && each.port !== skipPort).map((each) => `http://127.0.0.1:${each.port}`);

  async function setWeights(canaryWeight: number, skipPort?: number) {
    const before = router.revision ?? 0;
    await setTraffic(db, {
      app: 'shop',
      environment: 'production',
      actor: 'zero-drop-test',
      config: {
        versions: [
          { name: 'v2', weight: canaryWeight, upstreams: upstreamsOf('v2') },
          { name: 'v1', weight: 100 - canaryWeight, upstreams: upstreamsOf('v1', skipPort) },
        ],
        stable: 'v1',
        canary: 'v2',
      },
    });
    for (let waited = 0; (router.revision ?? 0) <= before; waited += 5) {
      if (waited > 2_000) throw new Error('the router did not apply the change within 2 s');
      await sleep(5);
    }
  }

  it('serves 100,000 mixed requests through 20+ weight changes and an instance restart without one failure', async () => {
    await setWeights(0);
    const client = new Pool(routerUrl, { connections: CONCURRENCY, keepAliveTimeout: 30_000 });
    const failures: string[] = [];
    const posted: string[] = [];
    const byVersion = new Map<string, number>();
    let next = 0;
    let done = false;

    const worker = async () => {
      while (next < TOTAL) {
        const index = next++;
        const kind = index % 10;
        try {
          let response;
          if (kind < 6) {
            response = await client.request({ path: `/items/${index}`, method: 'GET' });
          } else if (kind < 9) {
            const id = `p${index}`;
            posted.push(id);
            response = await client.request({ path: '/orders', method: 'POST', headers: { 'content-type': 'application/json', 'x-request-id': id }, body: JSON.stringify({ id, item: index }) });
          } else {
            const id = `s${index}`;
            posted.push(id);
            const body = Readable.from((function* () {
              for (let part = 0; part < 4; part++) yield Buffer.from(`part-${part}-${id};`);
            })());
            response = await client.request({ path: '/stream', method: 'POST', headers: { 'x-request-id': id }, body });
          }
          const text = await response.body.text();
          if (response.statusCode !== 200) failures.push(`${index}: ${response.statusCode} ${text.slice(0, 100)}`);
          const version = response.headers['x-promote-version'];
          if (typeof version === 'string') byVersion.set(version, (byVersion.get(version) ?? 0) + 1);
        } catch (error) {
          failures.push(`${index}: ${(error as Error).message}`);
        }
      }
    };

    // weights move while the load runs: ramps, 0->100->0 flips, and a drained restart of one v1 instance
    const schedule = [10, 25, 50, 100, 0, 100, 0, 75, 5, 100, 0, 50, 100, 0, 33.33, 66.67, 100, 0, 100, 0, 20, 80];
    const restartedCounts: Array<[string, number]> = [];
    const changes = (async () => {
      let applied = 0;
      for (const [step, weight] of schedule.entries()) {
        // spread the changes over the whole run, not just its first seconds
        while (!done && next < ((step + 1) * TOTAL) / (schedule.length + 1)) await sleep(10);
        if (done) break;
        if (step === 8) {
          const restarted = instances.find((each) => each.version === 'v1')!;
          await setWeights(weight, restarted.port);
          await router.retired();
          const seen = await stopInstance(restarted);
          restartedCounts.push(...seen);
          const again = await startInstance('v1', restarted.port);
          instances.splice(instances.indexOf(restarted), 1, again);
        }
        await setWeights(weight);
        applied++;
      }
      return applied;
    })();

    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    done = true;
    const applied = await changes;
    await client.close();

    const counts = new Map<string, number>(restartedCounts);
    for (const instance of instances) {
      for (const [id, count] of await stopInstance(instance)) counts.set(id, (counts.get(id) ?? 0) + count);
    }
    expect(failures.slice(0, 5)).toEqual([]);
    expect(failures).toHaveLength(0);
    expect(applied).toBeGreaterThanOrEqual(20);
    expect(posted).toHaveLength(TOTAL * 0.4);
    const missing = posted.filter((id) => counts.get(id) !== 1);
    expect(missing.slice(0, 5)).toEqual([]);
    expect(counts.size).toBe(posted.length);
    expect(byVersion.get('v1')).toBeGreaterThan(1_000);
    expect(byVersion.get('v2')).toBeGreaterThan(1_000);
  }, 240_000);
});
