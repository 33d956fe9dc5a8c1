import type pg from 'pg';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStorePool } from '../../test/helpers/database.js';
import { upsertApp } from '../store/apps.js';
import { syncEnvironments } from '../store/environments.js';
import { compileRuleset, isEnabled } from './evaluate.js';
import { createPostgresFlagSource, FLAG_LISTENER_NAME, type PostgresFlagSource } from './pg-source.js';
import { archiveFlag, enableFlag, putFlag, setFlagRollout } from './store-flags.js';
import { clientRuleset } from './store-ruleset.js';
import { putSegment } from './store-segments.js';

const production = { app: 'shop', environment: 'production' };
const staging = { app: 'shop', environment: 'staging' };
const actor = { actor: 'alice' };

/** Resolves with the first revision at least `atLeast` a listener hears, or fails after `ms`. */
function waitFor(revisions: number[], atLeast: number, ms = 5_000): Promise<number> {
  const started = Date.now();
  return (async () => {
    for (;;) {
      const found = revisions.find((revision) => revision >= atLeast);
      if (found !== undefined) return found;
      if (Date.now() - started > ms) throw new Error(`no revision >= ${atLeast} within ${ms} ms (heard ${revisions.join(', ') || 'nothing'})`);
      await sleep(10);
    }
  })();
}

describe('the Postgres flag source', () => {
  let pool: pg.Pool;
  let source: PostgresFlagSource;
  beforeAll(async () => {
    ({ pool } = await createStorePool());
    await upsertApp(pool, { name: 'shop' });
    await syncEnvironments(pool, 'shop', ['staging', 'production']);
    source = createPostgresFlagSource(pool, { reconnectDelayMs: 20 });
  });
  afterAll(async () => source.close());

  it('serves the scope in the client format: segment names as ids, archived flags left out, with its revision', async () => {
    const empty = await source.ruleset(production);
    expect(empty).toEqual({ version: 2, features: [], segments: [], revision: 0 });
    const { segment } = await putSegment(pool, 'shop', { name: 'beta', constraints: [{ contextName: 'userId', operator: 'IN', values: ['u1'] }] }, actor);
    await putFlag(pool, production, { name: 'checkout', enabled: true, strategies: [{ name: 'default', segments: ['beta'] }] }, actor);
    await putFlag(pool, production, { name: 'old', enabled: true }, actor);
    await archiveFlag(pool, production, 'old', actor);
    await putFlag(pool, staging, { name: 'staging-only', enabled: true }, actor);
    const ruleset = await source.ruleset(production);
    expect(ruleset.revision).toBe(4);
    expect(ruleset.features.map((feature) => feature.name)).toEqual(['checkout']);
    expect(ruleset.features[0]!.strategies).toEqual([{ name: 'default', parameters: {}, constraints: [], segments: [segment.id] }]);
    expect(ruleset.segments).toEqual([{ id: segment.id, name: 'beta', constraints: segment.constraints }]);
    // the evaluator reads it as it is served
    const compiled = compileRuleset(ruleset);
    expect(isEnabled(compiled, 'checkout', { userId: 'u1' })).toBe(true);
    expect(isEnabled(compiled, 'checkout', { userId: 'u2' })).toBe(false);
    expect(isEnabled(compiled, 'old', { userId: 'u1' })).toBe(false);
    await expect(source.ruleset({ app: 'shop', environment: 'qa' })).rejects.toThrow('app "shop" has no environment "qa" in the state store');
    expect(await clientRuleset(pool, staging)).toMatchObject({ revision: 2, features: [{ name: 'staging-only', enabled: true }] });
  });

  it('tells each listener of its own scope about every committed change, and stops after unsubscribing', async () => {
    const heardProduction: number[] = [];
    const heardStaging: number[] = [];
    const heardByTwin: number[] = [];
    const stopProduction = await source.onChange(production, (revision) => heardProduction.push(revision));
    const stopTwin = await source.onChange(production, (revision) => heardByTwin.push(revision));
    const stopStaging = await source.onChange(staging, (revision) => heardStaging.push(revision));
    const { flag } = await setFlagRollout(pool, production, 'checkout', 30, actor);
    const revision = (await source.ruleset(production)).revision;
    expect(await waitFor(heardProduction, revision)).toBe(revision);
    await waitFor(heardByTwin, revision);
    expect(flag.version).toBeGreaterThan(1);
    // a rolled-back change is never announced
    const client = await pool.connect();
    await client.query('begin');
    await setFlagRollout(client, production, 'checkout', 90, actor);
    await client.query('rollback');
    client.release();
    await setFlagRollout(pool, production, 'checkout', 40, actor);
    await waitFor(heardProduction, revision + 1);
    expect(heardProduction).toEqual([revision, revision + 1]);
    expect(heardStaging).toEqual([]);
    await stopTwin();
    await stopProduction();
    // enabling a flag already on changes nothing and announces nothing
    expect((await enableFlag(pool, staging, 'staging-only', actor)).change).toBeNull();
    await setFlagRollout(pool, staging, 'staging-only', 10, actor);
    expect(await waitFor(heardStaging, 3)).toBe(3);
    await setFlagRollout(pool, production, 'checkout', 45, actor);
    await sleep(200);
    expect(heardProduction).toEqual([revision, revision + 1]);
    expect(heardByTwin).toEqual([revision, revision + 1]);
    expect(heardStaging).toEqual([3]);
    await stopStaging();
  });

  it('reconnects when its connection is killed, and delivers changes made meanwhile and afterwards', async () => {
    const heard: number[] = [];
    const stop = await source.onChange(production, (revision) => heard.push(revision));
    const listenerPids = async () => (await pool.query<{ pid: number }>('select pid from pg_stat_activity where application_name = $1 and datname = current_database()', [FLAG_LISTENER_NAME])).rows.map((row) => row.pid);
    const [pid] = await listenerPids();
    expect(pid).toBeDefined();
    await pool.query('select pg_terminate_backend($1)', [pid]);
    // a change while it is away: announced after the reconnect, from the revision it finds
    await setFlagRollout(pool, production, 'checkout', 55, actor);
    const whileAway = (await source.ruleset(production)).revision;
    expect(await waitFor(heard, whileAway)).toBe(whileAway);
    // and the new connection hears later changes as they happen
    const deadline = Date.now() + 5_000;
    while ((await listenerPids()).filter((each) => each !== pid).length === 0 && Date.now() < deadline) await sleep(10);
    await setFlagRollout(pool, production, 'checkout', 65, actor);
    expect(await waitFor(heard, whileAway + 1)).toBe(whileAway + 1);
    expect(heard).toEqual([whileAway, whileAway + 1]);
    await stop();
    // the last unsubscribe closes the connection
    const closedBy = Date.now() + 5_000;
    while ((await listenerPids()).length > 0 && Date.now() < closedBy) await sleep(10);
    expect(await listenerPids()).toEqual([]);
  });
});
