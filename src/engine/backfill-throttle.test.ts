import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { afterAll, describe, expect, it } from 'vitest';
import { RouterAdmin } from '../router/admin.js';
import { startRouter, table } from '../../test/helpers/router.js';
import { startUpstream } from '../../test/helpers/upstream.js';
import { p99Limit, routerAwareBackfill, routerP99 } from './backfill-throttle.js';

const v1 = await startUpstream('v1');
const started = await startRouter(table([['v1', 100, [v1.url]]]));
const admin = new RouterAdmin(started.router, { host: '127.0.0.1', port: 0 });
const adminAddress = `127.0.0.1:${(await admin.listen()).port}`;
afterAll(() => admin.close());

describe("the backfill's view of the app through the router", () => {
  it("reads the stable version's p99 from the router's own window, and nothing before any request", async () => {
    const read = routerP99(adminAddress, { app: 'shop', environment: 'production', version: 'v1' });
    expect(await read()).toBeUndefined();
    for (let i = 0; i < 30; i += 1) await (await request(`${started.url}/fast`)).body.dump();
    // the router's window is made of whole seconds: the current one joins when it ends
    await sleep(1_100);
    const fast = await read();
    expect(fast).toBeLessThan(200);
    await Promise.all(Array.from({ length: 10 }, async () => (await request(`${started.url}/slow?delay=400`)).body.dump()));
    await sleep(1_100);
    expect(await read()).toBeGreaterThanOrEqual(400);
  });

  it('reads nothing from a router that is not there, rather than failing the backfill', async () => {
    expect(await routerP99('127.0.0.1:1', { app: 'shop', environment: 'production', version: 'v1' })()).toBeUndefined();
  });

  it('throttles above twice the p99 at the start, and at least 100 ms above it', () => {
    expect(p99Limit(20)).toBe(120);
    expect(p99Limit(300)).toBe(600);
  });

  it('watches only when there is a router and a stable version to watch', () => {
    const environment = { name: 'production', database: 'postgres://x/y', strategy: 'canary', target: { type: 'external' } } as never;
    expect(routerAwareBackfill(environment, 'shop', 'v1')).toBeUndefined();
    const routed = { ...(environment as object), router: { admin: adminAddress } } as never;
    expect(routerAwareBackfill(routed, 'shop', null)).toBeUndefined();
    expect(routerAwareBackfill(routed, 'shop', 'v1')).toBeTypeOf('function');
  });
});
