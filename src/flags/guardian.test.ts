import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createStorePool } from '../../test/helpers/database.js';
import { scratchFolder } from '../../test/helpers/scratch.js';
import { analysisTemplateSchema } from '../spec/schema-analysis.js';
import type { Logger } from '../log.js';
import type { EnvironmentSpec } from '../spec/index.js';
import { listEvents, syncEnvironments, upsertApp } from '../store/index.js';
import { FlagGuardian, SAFEGUARD_ACTOR } from './guardian.js';
import { endedSafeguardRuns } from './safeguard-store.js';
import { flagHistory, getFlag, putFlag, setFlagRollout } from './store-flags.js';
import { scheduleFlagChange } from './store-schedules.js';

/**
 * The guardian with real parts: a real store, and safeguard templates whose command provider reads
 * the error rate from a file the test writes, judged by the real threshold judge.
 */
let db: pg.Pool;
let folder: string;
const scope = { app: 'shop', environment: 'staging' };
const environment = { name: 'staging' } as EnvironmentSpec;
let guardian: FlagGuardian | undefined;
let leading = true;

const errorRate = (value: number) => writeFile(join(folder, 'error-rate'), String(value));

beforeAll(async () => {
  ({ pool: db } = await createStorePool());
  folder = await scratchFolder('promote-guardian-');
  await upsertApp(db, { name: 'shop' });
  await syncEnvironments(db, 'shop', ['staging']);
});
afterEach(async () => {
  await guardian?.stop();
  guardian = undefined;
  expect(loggedErrors.splice(0)).toEqual([]);
});

const loggedErrors: string[] = [];
const log = { error: (fields: unknown, message: string) => loggedErrors.push(`${message} ${JSON.stringify(fields)}`), info: () => undefined } as unknown as Logger;

function startGuardian(): FlagGuardian {
  const errors = analysisTemplateSchema.parse({
    provider: { type: 'command', run: `cat ${join(folder, 'error-rate')}`, timeout: '5s' },
    judge: { type: 'threshold', condition: 'value < 0.01' },
    interval: '50ms',
    count: 3,
  });
  // production is in promote.yaml but not recorded in the store yet: the guardian passes over it
  guardian = new FlagGuardian({ pool: db, app: 'shop', environments: [environment, { name: 'production' } as EnvironmentSpec], templates: { errors }, configDir: folder, isLeader: () => leading, pollMs: 50, log });
  guardian.start();
  return guardian;
}

async function until<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  for (let waited = 0; waited < 15_000; waited += 50) {
    const value = await probe();
    if (value !== undefined) return value;
    await sleep(50);
  }
  throw new Error(`${what} did not happen within 15 s`);
}

describe('flag safeguards', () => {
  it('turns a flag off when its safeguard fails, with the evidence in its history and the audit trail', async () => {
    await errorRate(0.2);
    await putFlag(db, scope, { name: 'fast-search', enabled: true, safeguards: { templates: ['errors'] } }, { actor: 'ana' });
    startGuardian();
    const off = await until('the flag turned off', async () => {
      const flag = await getFlag(db, scope, 'fast-search');
      return flag?.definition.enabled === false ? flag : undefined;
    });
    expect(off.updatedBy).toBe(SAFEGUARD_ACTOR);
    const [latest] = await flagHistory(db, scope, 'fast-search');
    expect(latest).toMatchObject({ action: 'disabled', actor: SAFEGUARD_ACTOR });
    expect(latest!.reason).toMatch(/^safeguard failed: .*errors failed/);
    const events = await until('the verdict event', async () => {
      const found = (await listEvents(db, { app: 'shop' })).filter((event) => event.type === 'flag.safeguard_failed');
      return found.length > 0 ? found : undefined;
    });
    expect(events[0]!.data).toMatchObject({ flag: 'fast-search', version: 1, verdict: 'Failed' });
  }, 30_000);

  it('leaves a healthy flag on, judges it once per change, and judges the next change again', async () => {
    await errorRate(0.001);
    await putFlag(db, scope, { name: 'dark-mode', enabled: true, safeguards: { templates: ['errors'] } }, { actor: 'ana' });
    startGuardian();
    await until('the first run ended', async () => ((await endedSafeguardRuns(db, scope)).has('dark-mode@1') ? true : undefined));
    await sleep(300);
    expect((await getFlag(db, scope, 'dark-mode'))?.definition.enabled).toBe(true);
    const passed = (await listEvents(db, { app: 'shop' })).filter((event) => event.type === 'flag.safeguard_successful' && event.data.flag === 'dark-mode');
    expect(passed).toHaveLength(1);

    // the next ramp step is judged on its own, and fails now
    await errorRate(0.5);
    await setFlagRollout(db, scope, 'dark-mode', 50, { actor: 'ana' });
    await until('the flag turned off after its second change', async () => ((await getFlag(db, scope, 'dark-mode'))?.definition.enabled === false ? true : undefined));
    // the flag goes off first, then the run's verdict is recorded
    await until('the second run ended', async () => ((await endedSafeguardRuns(db, scope)).has('dark-mode@2') ? true : undefined));
    expect([...(await endedSafeguardRuns(db, scope))].filter((run) => run.startsWith('dark-mode@')).sort()).toEqual(['dark-mode@1', 'dark-mode@2']);
  }, 30_000);

  it('does nothing while another controller leads, and applies scheduled changes when it leads', async () => {
    await errorRate(0.5);
    leading = false;
    await putFlag(db, scope, { name: 'beta-banner', enabled: true, safeguards: { templates: ['errors'] } }, { actor: 'ana' });
    await putFlag(db, scope, { name: 'promo', enabled: false }, { actor: 'ana' });
    await scheduleFlagChange(db, scope, { flag: 'promo', applyAt: new Date(Date.now() - 1_000), change: { action: 'enable' }, actor: 'ana', reason: 'campaign starts' });
    startGuardian();
    await sleep(600);
    expect((await getFlag(db, scope, 'beta-banner'))?.definition.enabled).toBe(true);
    expect((await getFlag(db, scope, 'promo'))?.definition.enabled).toBe(false);
    leading = true;
    await until('the scheduled change applied', async () => ((await getFlag(db, scope, 'promo'))?.definition.enabled === true ? true : undefined));
    await until('the unhealthy flag turned off', async () => ((await getFlag(db, scope, 'beta-banner'))?.definition.enabled === false ? true : undefined));
  }, 30_000);
});
